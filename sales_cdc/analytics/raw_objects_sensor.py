"""The raw objects sensor: new raw CDC objects → partition repair and refresh of exactly the affected days.

**Why a queue, not a listing.** The bucket sends an ``s3:ObjectCreated:*`` notification for every
object under the raw prefix to an SQS queue (``ObjectCreatedQueue`` in the template). Reading the
queue costs what the new objects cost, whatever the bucket holds, and it loses nothing a listing
cursor can lose: objects landing in the cursor's second, an overwritten or deleted cursor key, late
objects in an old partition. (dagster-aws's ``get_objects`` lists the whole prefix on every tick and
has exactly those gaps.)

**Commit protocol** (lossless, at-least-once, deduplicated by run key):

1. A tick first deletes the messages recorded in the cursor it was given. Dagster stores a tick's
   cursor together with its run requests, so a stored cursor proves those runs were requested.
2. It receives up to ``MAX_MESSAGES_PER_TICK`` messages (several receive calls) and parses the
   S3 event records (both in :mod:`.object_created_queue`): test events, non-ObjectCreated events and
   keys outside the raw layout are ignored, malformed messages are logged; both are deleted and never
   fail the tick.
3. It requests runs for the new objects, with run keys derived from the objects' identities (key,
   version, sequencer, ETag, event time), and returns a cursor with the receipt handles to delete
   next tick.

A tick that fails before its cursor is stored has deleted nothing: its messages reappear after the
queue's visibility timeout and are requested again under the same run keys, which Dagster dedupes.
A message SQS delivers again after its runs were committed is recognised by the object identities
the cursor remembers (:data:`MAX_SEEN`) and only deleted.

**What is refreshed** (planned in :mod:`.refresh_plan`). Two kinds of days matter (see
``sales_cdc.analytics``): the *event day* (raw partition ``dt``; ``cdc_event_stats``) is known from
an object's key, while the *order date* (``sales_daily``, ``sales_hourly``) of the changed orders is
only known once ``orders_current`` has merged the changes: it reports them as
``changed_order_dates``. So:

- for new objects: a **main run** repairs the partitions of every hour seen, refreshes the
  unpartitioned summaries (``orders_current``) and refreshes the event-day summaries of the latest
  block of consecutive event days; each other block gets its own run (repair of its hours and its
  event-day summaries). A block of several days is one partition-range run.
- for each new ``orders_current`` materialization: runs of the order-date summaries and the daily
  report for exactly its ``changed_order_dates`` (one run per block of consecutive dates), so a
  day's report never keeps old figures after new data for that day.
- while a run that rewrites lake tables (tagged :data:`LAKE_WRITE_TAGS`: this sensor's runs and the
  daily report job's) is queued or running, the sensor requests nothing new (messages wait in the
  queue, materializations in the event log): its runs never overlap another rewrite of the same
  tables, and the order-date runs read an ``orders_current`` nobody is rewriting. Order-date work
  goes first, so a steady stream of objects cannot starve it.
- while the raw table does not exist (first data ever), the main run also runs the crawl that
  creates it; the event days seen are kept in the cursor and, once the table exists, refreshed by
  runs of the event-day summaries alone (the crawl registered their partitions: repairing them again
  would mark ``orders_current`` unsynced right after its refresh), before any order-date run (if
  the bootstrap run ends without the table, it is requested once more).
- no new object, no run: a tick that received nothing new (or only messages of objects outside the
  raw layout, e.g. the derived tables and reports the runs write to the same bucket, which the
  bucket's notification filter should not even send) deletes those messages and skips.

Days outside the daily partitions (before their start date, or not yet a partition) are repaired
but get no daily refresh; that is logged.

**Cursor** (JSON): ``{"v": 1, "delete": [receipt handles], "seen": [object identities],
"after": <storage id>, "pending": {"token": ..., "hours": ["YYYY-MM-DD/HH", ...]}}`` — see
:class:`SensorCursor`.
"""

# No `from __future__ import annotations`: Dagster reads the sensor's resource annotations at runtime.
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from botocore.exceptions import ClientError

from sales_cdc.analytics.object_created_queue import (
    RECEIVE_WAIT_SECONDS,
    RawObject,
    delete_messages,
    parse_message,
    receive_messages,
)
from sales_cdc.analytics.refresh_plan import (
    LAKE_WRITE_TAGS,
    SENSOR_NAME,
    RefreshTargets,
    plan_object_runs,
    plan_order_date_runs,
    plan_pending_runs,
)
from sales_cdc.resources.aws import GlueResource, LakeResource, SQSResource
from sales_cdc.settings import SettingsError

MINIMUM_INTERVAL_SECONDS = 10
MAX_SEEN = 2000  # object identities remembered across ticks, to drop redelivered messages
MAX_MATERIALIZATIONS_PER_TICK = 100
CURSOR_VERSION = 1
CHANGED_ORDER_DATES = "changed_order_dates"  # metadata of orders_current listing the dates to refresh

IN_FLIGHT_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


# --------------------------------------------------------------------------------------- cursor


@dataclass
class SensorCursor:
    """The sensor's state between ticks, stored by Dagster together with the tick's run requests.

    - ``delete``: receipt handles of the messages this tick's runs cover; the next tick deletes them.
    - ``seen``: identities of recently requested objects (newest first, at most :data:`MAX_SEEN`).
    - ``after``: storage id of the last ``orders_current`` materialization whose changed order dates
      were requested (None: none yet).
    - ``pending_hours`` / ``pending_token`` / ``pending_retried``: event-day hours seen while the raw
      table did not exist, refreshed once it does; the token (the bootstrap run's key) keeps their run
      keys unique; ``retried`` records that the bootstrap run was requested a second time.
    """

    delete: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    after: int | None = None
    pending_hours: list[str] = field(default_factory=list)
    pending_token: str = ""
    pending_retried: bool = False

    def to_json(self) -> str:
        """The cursor as Dagster stores it (compact JSON, versioned)."""
        data: dict[str, Any] = {
            "v": CURSOR_VERSION,
            "delete": self.delete,
            "seen": self.seen,
            "after": self.after,
        }
        if self.pending_hours:
            data["pending"] = {
                "token": self.pending_token,
                "hours": self.pending_hours,
                "retried": self.pending_retried,
            }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> tuple["SensorCursor", str | None]:
        """The cursor, and why the text was discarded if it was unusable (then an empty cursor)."""
        if not text:
            return cls(), None
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                raise ValueError(f"version {data.get('v')!r}, expected {CURSOR_VERSION}")
            pending = data.get("pending") or {}
            cursor = cls(
                delete=list(data["delete"]),
                seen=list(data["seen"]),
                after=None if data.get("after") is None else int(data["after"]),
                pending_hours=list(pending.get("hours", [])),
                pending_token=str(pending.get("token", "")),
                pending_retried=bool(pending.get("retried", False)),
            )
            if not all(isinstance(x, str) for x in [*cursor.delete, *cursor.seen, *cursor.pending_hours]):
                raise ValueError("delete, seen and pending hours must be lists of strings")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # Discarding the cursor loses no object: undeleted messages come back after the
            # visibility timeout and their run keys dedupe the requests.
            return cls(), f"discarded an unreadable cursor ({exc}): {text[:200]!r}"
        return cursor, None


# ------------------------------------------------------------------------------------- the tick


def _raw_table_exists(glue: Any, lake: LakeResource) -> bool:
    try:
        glue.get_table(DatabaseName=lake.glue_database, Name=lake.raw_table)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
            return False
        raise
    return True


def _instance(context: dg.SensorEvaluationContext) -> dg.DagsterInstance | None:
    try:
        return context.instance
    except dg.DagsterInvariantViolationError:  # a test context built without an instance
        return None


def runs_in_flight(instance: dg.DagsterInstance | None) -> list[str]:
    """Ids of queued or running runs that rewrite lake tables (tagged :data:`LAKE_WRITE_TAGS`)."""
    if instance is None:
        return []
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags=LAKE_WRITE_TAGS, statuses=IN_FLIGHT_STATUSES), limit=20
    )
    return [run.run_id for run in runs]


def changed_order_dates(
    instance: dg.DagsterInstance | None, source: dg.AssetKey, after: int | None
) -> tuple[list[str], int | None, int]:
    """Changed order dates of the source's materializations after storage id ``after``.

    Returns (dates, storage id of the last materialization read, how many were read).
    """
    if instance is None:
        return [], after, 0
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=source, after_storage_id=after),
        limit=MAX_MATERIALIZATIONS_PER_TICK,
        ascending=True,
    )
    dates: set[str] = set()
    last = after
    for record in result.records:
        last = record.storage_id
        materialization = record.asset_materialization
        value = materialization.metadata.get(CHANGED_ORDER_DATES) if materialization else None
        listed = getattr(value, "value", value)
        if isinstance(listed, list):
            dates.update(str(day) for day in listed)
    return sorted(dates), last, len(result.records)


def evaluate_tick(
    context: dg.SensorEvaluationContext,
    *,
    sqs: Any,
    glue: Any,
    lake: LakeResource,
    targets: RefreshTargets,
    is_daily_partition: Callable[[str], bool],
    receive_wait_seconds: int = RECEIVE_WAIT_SECONDS,
) -> dg.SensorResult:
    """One tick of the commit protocol (see the module docstring)."""
    queue_url = lake.object_created_queue_url
    cursor, problem = SensorCursor.from_json(context.cursor)
    if problem:
        context.log.warning(problem)

    # 1. The stored cursor proves its run requests were committed: their messages can go.
    if cursor.delete:
        for failure in delete_messages(sqs, queue_url, cursor.delete):
            # Usually an expired receipt handle (the tick came after the visibility timeout): the
            # message comes back and is recognised by its identity in `seen`.
            context.log.warning(f"could not delete a committed message: {failure}")
        cursor.delete = []

    # 2. One batch of refresh runs at a time.
    instance = _instance(context)
    in_flight = runs_in_flight(instance)
    if in_flight:
        return dg.SensorResult(
            skip_reason=f"waiting for {len(in_flight)} lake-writing run(s): {', '.join(in_flight[:5])}",
            cursor=cursor.to_json(),
        )

    # 3. Event days seen before the raw table existed, once the crawl created it: before the order
    #    dates, so the daily reports those runs refresh read final event statistics.
    if cursor.pending_hours and _raw_table_exists(glue, lake):
        runs, skipped = plan_pending_runs(
            cursor.pending_hours, cursor.pending_token, targets, is_daily_partition=is_daily_partition
        )
        pending = ", ".join(cursor.pending_hours)
        cursor.pending_hours, cursor.pending_token, cursor.pending_retried = [], "", False
        if skipped:
            context.log.info(f"event days outside the daily partitions, repaired only: {skipped}")
        if runs:
            context.log.info(
                f"requesting {len(runs)} run(s) of the event-day summaries of the hours seen before "
                f"the raw table existed ({pending}); the crawl registered their partitions"
            )
            return dg.SensorResult(run_requests=runs, cursor=cursor.to_json())

    # 4. Order dates that orders_current reported as changed go first.
    dates, last, read = changed_order_dates(instance, targets.changes_source, cursor.after)
    if read:
        cursor.after = last
        invalid = [day for day in dates if not is_daily_partition(day)]
        if invalid:
            context.log.warning(f"changed order dates outside the daily partitions, not refreshed: {invalid}")
        valid = [day for day in dates if is_daily_partition(day)]
        if valid:
            runs = plan_order_date_runs(valid, targets, last_storage_id=last or 0)
            context.log.info(f"requesting {len(runs)} run(s) for changed order dates {', '.join(valid)}")
            return dg.SensorResult(run_requests=runs, cursor=cursor.to_json())

    # 5. New raw objects (and event days left pending while the raw table does not exist).
    messages = receive_messages(sqs, queue_url, wait_seconds=receive_wait_seconds)
    seen = set(cursor.seen)
    new: dict[str, RawObject] = {}
    ignored = malformed = redelivered = 0
    for message in messages:
        cursor.delete.append(message["ReceiptHandle"])  # every received message is covered by this tick
        parsed = parse_message(message.get("Body", ""), bucket=lake.bucket, raw_prefix=lake.raw_prefix)
        if parsed.malformed:
            malformed += 1
            context.log.warning(
                f"dropping malformed message {message.get('MessageId')}: {parsed.malformed}; "
                f"body: {message.get('Body', '')[:300]!r}"
            )
        ignored += len(parsed.ignored)
        for obj in parsed.objects:
            if obj.identity in seen:
                redelivered += 1
            else:
                new.setdefault(obj.identity, obj)
    objects = sorted(new.values(), key=lambda o: (o.day, o.hour, o.key))
    summary = (
        f"{len(messages)} message(s): {len(objects)} new object(s), {redelivered} redelivered, "
        f"{ignored} ignored record(s), {malformed} malformed"
    )
    if not objects and not cursor.pending_hours:
        return dg.SensorResult(skip_reason=f"no new raw objects ({summary})", cursor=cursor.to_json())

    plan = plan_object_runs(
        objects,
        targets,
        is_daily_partition=is_daily_partition,
        table_exists=_raw_table_exists(glue, lake),
        pending_hours=cursor.pending_hours,
        pending_token=cursor.pending_token,
        pending_retried=cursor.pending_retried,
    )
    cursor.seen = list(dict.fromkeys([*(o.identity for o in objects), *cursor.seen]))[:MAX_SEEN]
    cursor.pending_hours, cursor.pending_token = plan.pending_hours, plan.pending_token
    cursor.pending_retried = plan.pending_retried
    if plan.skipped_days:
        context.log.info(f"event days outside the daily partitions, repaired only: {plan.skipped_days}")
    if not plan.run_requests:
        return dg.SensorResult(skip_reason=f"nothing to refresh ({summary})", cursor=cursor.to_json())
    context.log.info(f"requesting {len(plan.run_requests)} run(s) for {summary}")
    return dg.SensorResult(run_requests=plan.run_requests, cursor=cursor.to_json())


def build_raw_objects_sensor(
    *,
    job: Any,
    targets: RefreshTargets,
    is_daily_partition: Callable[[str], bool],
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds: int = MINIMUM_INTERVAL_SECONDS,
    receive_wait_seconds: int = RECEIVE_WAIT_SECONDS,
) -> dg.SensorDefinition:
    """The raw objects sensor, requesting runs of ``job`` (the refresh job named ``targets.job_name``)."""

    @dg.sensor(
        name=SENSOR_NAME,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description="New raw CDC objects (S3 ObjectCreated notifications on the SQS queue) → partition "
        "repair and refresh of exactly the affected days. "
        "Protocol: sales_cdc/analytics/raw_objects_sensor.py.",
    )
    def raw_objects_sensor(
        context: dg.SensorEvaluationContext, sqs: SQSResource, glue: GlueResource, lake: LakeResource
    ) -> dg.SensorResult:
        """One tick: see :func:`evaluate_tick`; a deployment that is not ready skips with the reason."""
        try:
            return evaluate_tick(
                context,
                sqs=sqs.get_client(),
                glue=glue.get_client(),
                lake=lake,
                targets=targets,
                is_daily_partition=is_daily_partition,
                receive_wait_seconds=receive_wait_seconds,
            )
        except SettingsError as exc:
            # The deployment is not ready (emulator down, stack not provisioned): say so on every tick
            # instead of failing it; the cursor stays as it was.
            return dg.SensorResult(skip_reason=str(exc), cursor=context.cursor)

    return raw_objects_sensor
