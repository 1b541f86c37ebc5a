"""Planning the raw objects sensor's runs: which assets and days each refresh run covers (pure, no I/O).

The rules (see :mod:`sales_cdc.analytics.raw_objects_sensor` for the whole protocol): new objects get
a main run (repair of every hour seen, ``orders_current``, the event-day summaries of the latest block
of consecutive days) and one run per other block of event days; changed order dates get one run each of the
order-date summaries and the day's report. Run keys derive from the work they cover, so a
repeated request has the same key and Dagster dedupes it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dagster as dg

from sales_cdc.analytics.object_created_queue import RawObject

SENSOR_NAME = "raw_objects_sensor"

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


# -------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class RefreshTargets:
    """The assets the sensor's runs materialize, by role (all of them in the refresh job)."""

    job_name: str
    repair: dg.AssetKey  # partition repair: in every run that reads new raw partitions
    bootstrap: Sequence[dg.AssetKey]  # creates the raw table (the crawl), only while it does not exist
    current: Sequence[dg.AssetKey]  # unpartitioned summaries refreshed for new objects (orders_current)
    event_day: Sequence[dg.AssetKey]  # daily by event day (raw dt): cdc_event_stats
    order_date: Sequence[dg.AssetKey]  # daily by order date: sales_daily, sales_hourly, daily_report
    changes_source: dg.AssetKey  # the asset whose materializations list changed order dates


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


def _repair_config(hours: Iterable[str], objects: Iterable[str] = ()) -> dict[str, Any]:
    # ``objects``: the new keys, which partition repair validates (quarantining unreadable ones).
    config = {"hours": sorted(set(hours)), "objects": sorted(set(objects))}
    return {"ops": {"partition_repair": {"config": config}}}


def _request(
    targets: RefreshTargets,
    *,
    run_key: str,
    reason: str,
    selection: Sequence[dg.AssetKey],
    block: Sequence[str],
    hours: Iterable[str] | None = None,
    new_objects: int | None = None,
    object_keys: Iterable[str] = (),
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
        run_config=_repair_config(hours, object_keys) if hours is not None else {},
        tags=tags,
    )


def plan_order_date_runs(
    days: Iterable[str], targets: RefreshTargets, *, last_storage_id: int
) -> list[dg.RunRequest]:
    """Runs refreshing the order-date summaries and the report of ``days``: one run per day.

    A report describes one day (its figures and chart are the partition's metadata), and a run over a
    range of partitions records one materialization for all of them, so these runs are single-day.
    """
    return [
        _request(
            targets,
            run_key=f"{SENSOR_NAME}:order-dates:{day}..{day}:{last_storage_id}",
            reason="order-dates",
            selection=targets.order_date,
            block=[day],
        )
        for day in sorted(set(days))
    ]


def plan_pending_runs(
    pending_hours: Sequence[str],
    pending_token: str,
    targets: RefreshTargets,
    *,
    is_daily_partition: Callable[[str], bool],
) -> tuple[list[dg.RunRequest], list[str]]:
    """Runs of the event-day summaries of the hours seen before the raw table existed; and the days skipped.

    The crawl that created the table registered these hours' partitions, so these runs select the
    event-day summaries only: re-running partition repair would mark everything downstream of it
    (``orders_current``) unsynced right after its own refresh, for no new data.
    """
    hours_by_day: dict[str, list[str]] = defaultdict(list)
    for hour in sorted(set(pending_hours)):
        hours_by_day[hour.split("/")[0]].append(hour)
    skipped = sorted(day for day in hours_by_day if not is_daily_partition(day))
    requests = [
        _request(
            targets,
            run_key=f"{SENSOR_NAME}:event-days:{block[0]}..{block[-1]}:"
            f"{_digest(f'{pending_token}/{h}' for day in block for h in hours_by_day[day])}",
            reason="event-days",
            selection=targets.event_day,
            block=block,
            new_objects=0,
        )
        for block in day_blocks(day for day in hours_by_day if is_daily_partition(day))
    ]
    return requests, skipped


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
                    object_keys=[o.key for o in objects],
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
                object_keys=[o.key for o in objects],
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
                object_keys=[o.key for o in objects if o.day in block],
            )
        )
    return plan
