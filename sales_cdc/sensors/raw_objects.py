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
2. It receives up to :data:`MAX_MESSAGES_PER_TICK` messages (several receive calls) and parses the
   S3 event records (:mod:`.s3_events`): test events, non-ObjectCreated events and keys outside the
   raw layout are ignored, malformed messages are logged; both are deleted and never fail the tick.
3. It requests runs for the new objects, with run keys derived from the objects' identities (key,
   version, sequencer, ETag, event time), and returns a cursor with the receipt handles to delete
   next tick.

A tick that fails before its cursor is stored has deleted nothing: its messages reappear after the
queue's visibility timeout and are requested again under the same run keys, which Dagster dedupes.
A message SQS delivers again after its runs were committed is recognised by the object identities
the cursor remembers (:data:`MAX_SEEN`) and only deleted.

**What is refreshed.** Two kinds of days matter (see ``sales_cdc.assets.analytics``): the *event day*
(raw partition ``dt``; ``cdc_event_stats``) is known from an object's key, while the *order date*
(``sales_daily``, ``sales_hourly``) of the changed orders is only known once ``orders_current`` is
rebuilt: it reports them as ``changed_order_dates``. So:

- for new objects: a **main run** repairs the partitions of every hour seen, rebuilds the
  unpartitioned summaries (``orders_current``) and refreshes the event-day summaries of the latest
  block of consecutive event days; each other block gets its own run (repair of its hours and its
  event-day summaries). A block of several days is one partition-range run.
- for each new ``orders_current`` materialization: runs of the order-date summaries for exactly its
  ``changed_order_dates`` (one run per block of consecutive dates).
- while a run that rewrites lake tables (tagged :data:`LAKE_WRITE_TAGS`: this sensor's runs and the
  daily report job's) is queued or running, the sensor requests nothing new (messages wait in the
  queue, materializations in the event log): its runs never overlap another rewrite of the same
  tables, and the order-date runs read an ``orders_current`` nobody is rewriting. Order-date work
  goes first, so a steady stream of objects cannot starve it.
- while the raw table does not exist (first data ever), the main run also runs the crawl that
  creates it; the event days seen are kept in the cursor and refreshed once the table exists (if
  that run ends without the table, it is requested once more).

Days outside the daily partitions (before their start date, or not yet a partition) are repaired
but get no daily refresh; that is logged.

**Cursor** (JSON): ``{"v": 1, "delete": [receipt handles], "seen": [object identities],
"after": <storage id>, "pending": {"token": ..., "hours": ["YYYY-MM-DD/HH", ...]}}`` — see
:class:`SensorCursor`.
"""

# No `from __future__ import annotations`: Dagster reads the sensor's resource annotations at runtime.
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dagster as dg
from botocore.exceptions import ClientError

from sales_cdc.resources.aws import GlueResource, LakeResource, SQSResource
from sales_cdc.sensors.s3_events import RawObject, parse_message
from sales_cdc.settings import SettingsError

SENSOR_NAME = "raw_objects_sensor"
MINIMUM_INTERVAL_SECONDS = 10
MAX_MESSAGES_PER_TICK = 200  # bounds a tick's duration and its cursor (one receipt handle per message)
RECEIVE_BATCH = 10  # SQS's maximum per ReceiveMessage call
DELETE_BATCH = 10  # SQS's maximum per DeleteMessageBatch call
RECEIVE_WAIT_SECONDS = 1  # long poll of a tick's first receive: asks every SQS server, not a sample
MAX_SEEN = 2000  # object identities remembered across ticks, to drop redelivered messages
MAX_MATERIALIZATIONS_PER_TICK = 100
CURSOR_VERSION = 1

# Every job that rewrites lake tables tags its runs with this (as run_tags): the sensor requests nothing
# while such a run is queued or running, and an instance can serialize them with a tag concurrency
# limit (key sales_cdc/lake, value write, limit 1).
LAKE_WRITE_TAGS = {"sales_cdc/lake": "write"}
# Tags of the runs this sensor requests.
TAG_TRIGGER = "sales_cdc/trigger"  # = SENSOR_NAME
TAG_REASON = "sales_cdc/reason"  # new-objects | event-days | order-dates
TAG_DAYS = "sales_cdc/days"
TAG_NEW_OBJECTS = "sales_cdc/new_objects"
# Dagster's tags for a run over a range of partitions (one run, several days).
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
CHANGED_ORDER_DATES = "changed_order_dates"  # metadata of orders_current listing the dates to refresh

IN_FLIGHT_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


# -------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class RefreshTargets:
    """The assets the sensor's runs materialize, by role (all of them in the refresh job)."""

    job_name: str
    repair: dg.AssetKey  # partition repair: in every run that reads new raw partitions
    bootstrap: Sequence[dg.AssetKey]  # creates the raw table (the crawl), only while it does not exist
    current: Sequence[dg.AssetKey]  # unpartitioned summaries rebuilt for new objects (orders_current)
    event_day: Sequence[dg.AssetKey]  # daily by event day (raw dt): cdc_event_stats
    order_date: Sequence[dg.AssetKey]  # daily by order date: sales_daily, sales_hourly
    changes_source: dg.AssetKey  # the asset whose materializations list changed order dates


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


# ------------------------------------------------------------------------------------------ SQS


def receive_messages(
    sqs: Any, queue_url: str, *, limit: int = MAX_MESSAGES_PER_TICK, wait_seconds: int = RECEIVE_WAIT_SECONDS
) -> list[dict[str, Any]]:
    """Receive up to ``limit`` messages: batches of 10 until the queue returns none."""
    messages: list[dict[str, Any]] = []
    wait = wait_seconds
    while len(messages) < limit:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(RECEIVE_BATCH, limit - len(messages)),
            WaitTimeSeconds=wait,
        ).get("Messages", [])
        if not batch:
            break
        messages.extend(batch)
        wait = 0  # only the first call needs the long poll: after it, messages are known to flow
    return messages


def delete_messages(sqs: Any, queue_url: str, handles: Sequence[str]) -> list[str]:
    """Delete messages by receipt handle; returns a description of each one SQS refused."""
    failures: list[str] = []
    for start in range(0, len(handles), DELETE_BATCH):
        chunk = handles[start : start + DELETE_BATCH]
        response = sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
        )
        failures.extend(f"{f.get('Code')}: {f.get('Message')}" for f in response.get("Failed", []))
    return failures


# ------------------------------------------------------------------------------------- planning


def _digest(values: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(set(values))).encode()).hexdigest()[:24]


def day_blocks(days: Iterable[str]) -> list[list[str]]:
    """Sorted days split into runs of consecutive days: ``[[d1, d2, d3], [d7], ...]``."""
    blocks: list[list[str]] = []
    for day in sorted(set(days)):
        if blocks and date.fromisoformat(blocks[-1][-1]) + timedelta(days=1) == date.fromisoformat(day):
            blocks[-1].append(day)
        else:
            blocks.append([day])
    return blocks


def partition_tags(block: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """The partition key (one day) or the range tags (several consecutive days) of a run."""
    if not block:
        return None, {}
    if len(block) == 1:
        return block[0], {}
    return None, {PARTITION_RANGE_START_TAG: block[0], PARTITION_RANGE_END_TAG: block[-1]}


def _repair_config(hours: Iterable[str]) -> dict[str, Any]:
    return {"ops": {"partition_repair": {"config": {"hours": sorted(set(hours))}}}}


def _request(
    targets: RefreshTargets,
    *,
    run_key: str,
    reason: str,
    selection: Sequence[dg.AssetKey],
    block: Sequence[str],
    hours: Iterable[str] | None = None,
    new_objects: int | None = None,
) -> dg.RunRequest:
    partition_key, tags = partition_tags(block)
    tags.update({**LAKE_WRITE_TAGS, TAG_TRIGGER: SENSOR_NAME, TAG_REASON: reason, TAG_DAYS: ",".join(block)})
    if new_objects is not None:
        tags[TAG_NEW_OBJECTS] = str(new_objects)
    return dg.RunRequest(
        run_key=run_key,
        job_name=targets.job_name,
        partition_key=partition_key,
        asset_selection=list(dict.fromkeys(selection)),
        run_config=_repair_config(hours) if hours is not None else {},
        tags=tags,
    )


def plan_order_date_runs(
    days: Iterable[str], targets: RefreshTargets, *, last_storage_id: int
) -> list[dg.RunRequest]:
    """Runs refreshing the order-date summaries of ``days``: one per block of consecutive days."""
    return [
        _request(
            targets,
            run_key=f"{SENSOR_NAME}:order-dates:{block[0]}..{block[-1]}:{last_storage_id}",
            reason="order-dates",
            selection=targets.order_date,
            block=block,
        )
        for block in day_blocks(days)
    ]


@dataclass
class ObjectsPlan:
    """The runs for new raw objects and the event-day hours left pending."""

    run_requests: list[dg.RunRequest] = field(default_factory=list)
    pending_hours: list[str] = field(default_factory=list)
    pending_token: str = ""
    pending_retried: bool = False
    skipped_days: list[str] = field(default_factory=list)  # event days that are not daily partitions


def plan_object_runs(
    objects: Sequence[RawObject],
    targets: RefreshTargets,
    *,
    is_daily_partition: Callable[[str], bool],
    table_exists: bool,
    pending_hours: Sequence[str] = (),
    pending_token: str = "",
    pending_retried: bool = False,
) -> ObjectsPlan:
    """Runs for new raw objects and event days still pending (pure: no I/O). See the module docstring."""
    plan = ObjectsPlan()
    hours = {o.hour_target for o in objects}
    identities = [o.identity for o in objects]
    if not table_exists:
        if objects:
            # The crawl creates the table and registers the partitions it finds; the event-day
            # summaries wait in the cursor until the table exists.
            run_key = f"{SENSOR_NAME}:main:{_digest(identities)}"
            plan.run_requests.append(
                _request(
                    targets,
                    run_key=run_key,
                    reason="new-objects",
                    selection=[*targets.bootstrap, targets.repair, *targets.current],
                    block=[],
                    hours=hours,
                    new_objects=len(objects),
                )
            )
            plan.pending_hours = sorted(hours | set(pending_hours))
            plan.pending_token = pending_token or run_key
            plan.pending_retried = pending_retried
            return plan
        plan.pending_hours, plan.pending_token = list(pending_hours), pending_token
        plan.pending_retried = pending_retried
        if pending_hours and not pending_retried:
            # The run that was to create the table finished without it (the crawl failed): request it
            # once more; after that, new objects or a manual crawl of raw_orders_cdc resume the flow.
            plan.run_requests.append(
                _request(
                    targets,
                    run_key=f"{pending_token}:retry",
                    reason="new-objects",
                    selection=[*targets.bootstrap, targets.repair, *targets.current],
                    block=[],
                    hours=pending_hours,
                    new_objects=0,
                )
            )
            plan.pending_retried = True
        return plan

    all_hours = hours | set(pending_hours)
    hours_by_day: dict[str, set[str]] = defaultdict(set)
    for hour in all_hours:
        hours_by_day[hour.split("/")[0]].add(hour)
    ids_by_day: dict[str, list[str]] = defaultdict(list)
    for obj in objects:
        ids_by_day[obj.day].append(obj.identity)
    plan.skipped_days = sorted(day for day in hours_by_day if not is_daily_partition(day))
    blocks = day_blocks(day for day in hours_by_day if is_daily_partition(day))

    def block_key(block: Sequence[str]) -> str:
        # Objects identify new work; pending hours are identified by the bootstrap that left them.
        work = [i for day in block for i in ids_by_day[day]]
        work += [f"{pending_token}/{h}" for day in block for h in hours_by_day[day] if h in pending_hours]
        return _digest(work)

    if objects:
        main_block = blocks.pop() if blocks else []
        plan.run_requests.append(
            _request(
                targets,
                run_key=f"{SENSOR_NAME}:main:{_digest(identities + [block_key(main_block)])}",
                reason="new-objects",
                selection=[targets.repair, *targets.current, *(targets.event_day if main_block else [])],
                block=main_block,
                hours=all_hours,
                new_objects=len(objects),
            )
        )
    for block in blocks:
        plan.run_requests.append(
            _request(
                targets,
                run_key=f"{SENSOR_NAME}:event-days:{block[0]}..{block[-1]}:{block_key(block)}",
                reason="event-days",
                selection=[targets.repair, *targets.event_day],
                block=block,
                hours=[h for day in block for h in hours_by_day[day]],
                new_objects=sum(len(ids_by_day[day]) for day in block),
            )
        )
    return plan


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

    # 3. Order dates that orders_current reported as changed go first.
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

    # 4. New raw objects (and event days left pending by the first crawl).
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
        "repair and refresh of exactly the affected days. Protocol: sales_cdc/sensors/raw_objects.py.",
    )
    def raw_objects_sensor(
        context: dg.SensorEvaluationContext, sqs: SQSResource, glue: GlueResource, lake: LakeResource
    ) -> dg.SensorResult:
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
