"""moto's server with three of moto's costs fixed and its Athena made honest: what the embedded AWS runs.

``python -m local_aws.server -H 127.0.0.1 -p PORT`` (:mod:`local_aws.server.__main__`) runs
``moto.server`` exactly as ``python -m moto.server`` would, after :func:`apply_fixes`. It is what
:class:`local_aws.server.Emulator` starts.

The fixes (same behaviour, less CPU):

- **Item size check, once per item.** moto builds every written item attribute by attribute and,
  for each attribute, re-measures all the attributes before it to enforce DynamoDB's 400 KB item
  limit: quadratic in the number of attributes, about 15 % of the emulator's CPU for an 11-attribute
  order. The sizes are never negative, so the running total is largest at the end; measuring the
  whole item once and raising the same ``ItemSizeTooLarge`` (the same ValidationException text) is
  the same check. Later changes to an item (UpdateItem) keep moto's own per-attribute check.
- **Kinesis shard tips in constant time.** moto numbers a shard's records 1, 2, 3, ... in a dict
  (``Shard.put_record`` is the only writer: it appends the highest number + 1), but finds the highest
  and lowest number by copying every key into a list, once per record put: PutRecords gets slower
  the fuller the shard, about 40 % of its cost after 10,000 records. Reading the dict's ends gives
  the same numbers.
- **Kinesis GetRecords from the iterator's position.** moto scans the shard from its first record on
  every GetRecords call. When the numbers are consecutive (always, see above; checked in constant
  time, with moto's own scan as the fallback) the records after the iterator are found by number:
  the same records, ``NextShardIterator`` and ``MillisBehindLatest``.

And fixes of behaviour:

- **DynamoDB publishes ConsumedWriteCapacityUnits.** AWS publishes it for every table, on-demand
  ones too; moto publishes nothing. Every successful PutItem, UpdateItem and DeleteItem of moto's
  backend (BatchWriteItem and TransactWriteItems go through them) adds the item's write units (one per
  started KB, at least one) to a lock-protected sum per table and second: one dict update per write,
  no request. A daemon thread moves the sums every :data:`WRITE_CAPACITY_FLUSH_S` seconds into moto's
  CloudWatch in the same process (``AWS/DynamoDB``, dimension ``TableName``, unit Count, stamped with
  the second of the writes), where alarms such as ``changes-not-delivered`` read them.

- **Athena queries are refused, not answered empty.** moto runs no SQL: StartQueryExecution succeeds,
  the statement turns SUCCEEDED and GetQueryResults returns no rows and no columns, a silent trap for
  anyone who points the AWS CLI or pyathena at the emulator. StartQueryExecution now fails with
  ``InvalidRequestException`` saying to use ``sales-cdc sql`` or ``sales_cdc.connect()`` (the local
  engine, :mod:`local_aws.athena`, which never calls it). moto's own behaviour stays reachable where a
  caller scripted the answer through moto's API: results queued with
  ``/moto-api/static/athena/query-results``, or a state transition set for ``athena::execution``
  (what the tests of the Athena resource's statement flow do); nothing else gets an empty success.

- **Glue UpdateTable honours VersionId.** AWS Glue rejects an UpdateTable whose ``VersionId`` is not the
  table's current version with ``ConcurrentModificationException``: the optimistic lock every Iceberg
  writer (pyiceberg, Athena) commits through. moto drops the parameter, so two racing commits both
  succeed and one is silently lost. The version is now compared and the update made under one lock, so
  two concurrent UpdateTable calls with the same version cannot both pass; without ``VersionId`` the
  update is unconditional, as on AWS.

The fixes are applied only to the moto version they were written against; with any other version
the server runs unchanged and says so on its log, so an upgrade can never break the emulator.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from local_aws.server.durable import serve_durably, split_state_dir

# moto versions whose Item.__init__ the replacement below reproduces (tests/test_local_aws/test_server).
FIXED_MOTO_VERSIONS = frozenset({"5.2.5"})
# moto's own threshold (moto.dynamodb.models.dynamo_type.LimitedSizeDict.__setitem__).
ITEM_SIZE_LIMIT = 405000
# How often the write capacity counted per table is published to the emulator's CloudWatch.
WRITE_CAPACITY_FLUSH_S = 2.0
WRITE_UNIT_BYTES = 1024  # DynamoDB: one write capacity unit per started KB of the item


def apply_fixes() -> list[str]:
    """Patch the running moto; returns a line per fix applied (empty for an unknown moto version)."""
    # moto is imported when the fixes are applied, not when this module is: it takes seconds to import.
    import moto
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    if moto.__version__ not in FIXED_MOTO_VERSIONS:
        return []
    DynamoType = dynamo_type.DynamoType  # noqa: N806 (moto's class)
    LimitedSizeDict = dynamo_type.LimitedSizeDict  # noqa: N806 (moto's class)

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        converted = {key: DynamoType(value) for key, value in attrs.items()}
        size = sum(bytesize(key) + value.size() for key, value in converted.items())
        if size > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.update(self.attrs, converted)  # already measured: skip the per-attribute re-measuring
        self.measured_size = size  # what the write capacity count reads (moto's Item has no such field)

    item_init.__qualname__ = "Item.__init__"
    item_init.__doc__ = "moto's Item.__init__, the 400 KB check made once per item (local_aws.server.fixes)."
    dynamo_type.Item.__init__ = item_init  # type: ignore[method-assign]
    return [
        "DynamoDB items: size limit checked once per item instead of once per attribute",
        *_fix_kinesis_shard(),
        _refuse_unscripted_athena_queries(),
        _new_alarms_start_with_insufficient_data(),
        _count_consumed_write_capacity(),
        _enforce_glue_table_versions(),
    ]


class WriteCapacity:
    """Write capacity units consumed per table and second, published to moto's CloudWatch in-process.

    :meth:`add` is what every write costs: one dict update under a lock. :meth:`flush` moves the sums
    into ``cloudwatch_backends[account][region]`` as AWS/DynamoDB ConsumedWriteCapacityUnits.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sums: dict[tuple[str, str, str, int], float] = {}

    def add(self, account: str, region: str, table: str, units: float, second: int) -> None:
        """Count ``units`` consumed on ``table`` at epoch ``second``."""
        key = (account, region, table, second)
        with self._lock:
            self._sums[key] = self._sums.get(key, 0.0) + units

    def flush(self) -> int:
        """Publish what was counted since the last flush; returns the number of datapoints published."""
        from moto.cloudwatch.models import cloudwatch_backends

        with self._lock:
            sums, self._sums = self._sums, {}
        by_backend: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for (account, region, table, second), units in sums.items():
            by_backend.setdefault((account, region), []).append(
                {
                    "MetricName": "ConsumedWriteCapacityUnits",
                    "Dimensions": [{"Name": "TableName", "Value": table}],
                    "Value": units,
                    "Unit": "Count",
                    # moto compares naive UTC datetimes (what its requests are parsed into)
                    "Timestamp": datetime.fromtimestamp(second, UTC).replace(tzinfo=None),
                }
            )
        for (account, region), data in by_backend.items():
            cloudwatch_backends[account][region].put_metric_data("AWS/DynamoDB", data)
        return len(sums)

    def run(self, every_s: float = WRITE_CAPACITY_FLUSH_S) -> None:
        """Flush every ``every_s`` seconds, for the life of the process (a daemon thread runs this)."""
        while True:
            time.sleep(every_s)
            try:
                self.flush()
            except Exception as exc:  # a reset of moto's backends must not end the publishing
                print(
                    f"sales-cdc emulator: write capacity not published: {exc!r}", file=sys.stderr, flush=True
                )


WRITE_CAPACITY = WriteCapacity()


def write_units(item: Any, measured: bool = False) -> int:
    """DynamoDB's write units for ``item`` (moto's Item; None: nothing was deleted): 1 per started KB.

    ``measured`` trusts the size the item was measured at when built (a put, never changed since).
    """
    if item is None:
        return 1
    size = getattr(item, "measured_size", None) if measured else None
    if size is None:
        size = item.size()
    return max(1, -(-size // WRITE_UNIT_BYTES))


_publisher: threading.Thread | None = None


def _counting(name: str, original: Any, measured: bool) -> Any:
    """moto's DynamoDBBackend method ``original``, adding the written item's units to WRITE_CAPACITY."""

    def counted(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        item = original(self, table_name, *args, **kwargs)
        units = write_units(item, measured)
        table = table_name.rsplit("table/", 1)[-1] if table_name.startswith("arn:") else table_name
        WRITE_CAPACITY.add(self.account_id, self.region_name, table, units, int(time.time()))
        return item

    counted.counts_write_capacity = True  # type: ignore[attr-defined]
    counted.__qualname__ = f"DynamoDBBackend.{name}"
    counted.__doc__ = f"moto's DynamoDBBackend.{name}, counting write capacity (local_aws.server.fixes)."
    return counted


def _count_consumed_write_capacity() -> str:
    """Patch moto's DynamoDBBackend writes to count write capacity, and start the publishing thread."""
    global _publisher
    from moto.dynamodb.models import DynamoDBBackend

    line = "DynamoDB writes: ConsumedWriteCapacityUnits published to CloudWatch, as on AWS"
    for name in ("put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)
        if not getattr(original, "counts_write_capacity", False):
            # An update or a delete changes the item after it was built: only a put trusts its size.
            setattr(DynamoDBBackend, name, _counting(name, original, measured=name == "put_item"))
    if _publisher is None:
        _publisher = threading.Thread(target=WRITE_CAPACITY.run, name="write-capacity-metrics", daemon=True)
        _publisher.start()
    return line


def _new_alarms_start_with_insufficient_data() -> str:
    """CloudWatch creates an alarm in INSUFFICIENT_DATA (moto: OK); the local evaluator moves it on."""
    from moto.cloudwatch.models import Alarm

    original = Alarm.__init__
    if getattr(original, "starts_insufficient", False):
        return "CloudWatch alarms: created in INSUFFICIENT_DATA, as on AWS"

    def alarm_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.state_value = "INSUFFICIENT_DATA"

    alarm_init.starts_insufficient = True  # type: ignore[attr-defined]
    Alarm.__init__ = alarm_init  # type: ignore[method-assign]
    return "CloudWatch alarms: created in INSUFFICIENT_DATA, as on AWS"


def _fix_kinesis_shard() -> list[str]:
    """Patch moto's Kinesis Shard (see the module docstring); a line per fix applied."""
    from moto.kinesis.models import Shard

    scan_records = Shard.get_records

    def get_max_sequence_number(self: Any) -> int:
        return next(reversed(self.records)) if self.records else 0

    def get_min_sequence_number(self: Any) -> int:
        return next(iter(self.records)) if self.records else 0

    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
        records = self.records
        last = int(last_sequence_id)
        if not records or limit is None or limit < 1:
            return scan_records(self, last_sequence_id, limit)
        first, tip = next(iter(records)), next(reversed(records))
        if tip - first + 1 != len(records):  # not numbered 1, 2, 3, ...: moto's own scan
            return scan_records(self, last_sequence_id, limit)
        start = max(last + 1, first)
        end = min(tip, start + limit - 1)
        if start > end:
            return [], last, 0
        results = [records[number] for number in range(start, end + 1)]
        behind = records[tip].created_at - results[-1].created_at
        return results, end, int(behind * 1000)

    for name, function in [
        ("get_max_sequence_number", get_max_sequence_number),
        ("get_min_sequence_number", get_min_sequence_number),
        ("get_records", get_records),
    ]:
        function.__qualname__ = f"Shard.{name}"
        function.__doc__ = f"moto's Shard.{name} without the full scan (local_aws.server.fixes)."
        setattr(Shard, name, function)
    return [
        "Kinesis shards: highest and lowest sequence number read in constant time",
        "Kinesis GetRecords: records found from the iterator's position instead of a scan",
    ]


# Serialises every Glue UpdateTable of the process: the version check and the update must be one step
# (moto's server answers requests on several threads; UpdateTable is rare, so one lock costs nothing).
GLUE_UPDATE_TABLE_LOCK = threading.Lock()


def _enforce_glue_table_versions() -> str:
    """Patch moto's Glue UpdateTable to enforce ``VersionId`` as AWS does (see the module docstring)."""
    from moto.core.exceptions import JsonRESTError
    from moto.glue.models import GlueBackend
    from moto.glue.responses import GlueResponse

    line = "Glue UpdateTable: a stale VersionId raises ConcurrentModificationException, as on AWS"
    if getattr(GlueBackend.update_table, "checks_version", False):
        return line

    def update_table(
        self: Any,
        database_name: str,
        table_name: str,
        table_input: dict[str, Any],
        version_id: str | None = None,
    ) -> None:
        with GLUE_UPDATE_TABLE_LOCK:
            table = self.get_table(database_name, table_name)
            current = str(table._current_version)  # what GetTable reports as VersionId
            if version_id is not None and str(version_id) != current:
                raise JsonRESTError(
                    "ConcurrentModificationException",
                    "Update table failed due to concurrent modifications: "
                    f"table {database_name}.{table_name} is at version {current}, "
                    f"the update was made from version {version_id}; "
                    "read the table again and retry",
                )
            table.update(table_input)

    def update_table_response(self: Any) -> Any:
        from moto.core.responses import EmptyResult

        table_input = self.parameters.get("TableInput")
        self.glue_backend.update_table(
            self.parameters.get("DatabaseName"),
            table_input.get("Name"),
            table_input,
            version_id=self.parameters.get("VersionId"),
        )
        return EmptyResult()

    update_table.checks_version = True  # type: ignore[attr-defined]
    update_table.__qualname__ = "GlueBackend.update_table"
    update_table.__doc__ = "moto's GlueBackend.update_table, enforcing VersionId (local_aws.server.fixes)."
    update_table_response.__qualname__ = "GlueResponse.update_table"
    update_table_response.__doc__ = (
        "moto's UpdateTable handler, passing VersionId on (local_aws.server.fixes)."
    )
    GlueBackend.update_table = update_table  # type: ignore[method-assign]
    GlueResponse.update_table = update_table_response  # type: ignore[method-assign]
    return line


ATHENA_REFUSAL = (
    "the embedded AWS does not run Athena queries (it would answer SUCCEEDED with no rows); "
    "use `sales-cdc sql` or sales_cdc.connect() (the local engine) to query the lake"
)
# The model name of Athena's statements in moto's state manager.
ATHENA_EXECUTION_MODEL = "athena::execution"


def _refuse_unscripted_athena_queries() -> str:
    """Patch moto's AthenaBackend.start_query_execution (see the module docstring); the line to log."""
    from moto.athena.models import AthenaBackend
    from moto.core.exceptions import JsonRESTError
    from moto.moto_api import state_manager

    start_query_execution = AthenaBackend.start_query_execution

    def refuse_unscripted(self: Any, query: str, *args: Any, **kwargs: Any) -> str:
        scripted = bool(self.query_results_queue) or ATHENA_EXECUTION_MODEL in state_manager._transitions
        if not scripted:
            raise JsonRESTError("InvalidRequestException", ATHENA_REFUSAL)
        return start_query_execution(self, query, *args, **kwargs)

    refuse_unscripted.__qualname__ = "AthenaBackend.start_query_execution"
    refuse_unscripted.__doc__ = (
        "moto's StartQueryExecution, refused unless its answer was scripted (local_aws.server.fixes)."
    )
    AthenaBackend.start_query_execution = refuse_unscripted  # type: ignore[method-assign]
    return "Athena StartQueryExecution: refused with a pointer to `sales-cdc sql` (moto runs no SQL)"


def main(argv: list[str] | None = None) -> None:
    """Apply the fixes, say on stderr which (or why none), and run moto's server with ``argv``.

    With ``--state-dir DIR`` the state is restored from DIR before serving and snapshotted there while
    running (:mod:`local_aws.server.durable`).
    """
    state_dir, argv = split_state_dir(list(sys.argv[1:] if argv is None else argv))
    applied = apply_fixes()
    # moto is imported only in the server process: importing the launcher must stay cheap.
    import moto
    from moto.server import main as moto_main

    if applied:
        for line in applied:
            print(f"sales-cdc emulator fix: {line}", file=sys.stderr, flush=True)
    else:
        print(
            f"sales-cdc emulator: moto {moto.__version__} is not one of {sorted(FIXED_MOTO_VERSIONS)}; "
            "running it unchanged",
            file=sys.stderr,
            flush=True,
        )
    if state_dir is None:
        moto_main(argv)
    else:
        # The write capacity publisher touches CloudWatch's backend outside any request.
        serve_durably(state_dir, lambda: moto_main(argv), guarded=[(WRITE_CAPACITY, "flush")])
