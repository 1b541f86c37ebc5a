"""``orders_current``: the current state of every order, an Apache Iceberg table merged from the changes.

Semantics: duplicate deliveries collapse by ``event_id``; per order the change with the greatest
stream sequence number wins (compared as 40-digit zero-padded text); an order whose latest change is
a REMOVE is not in the table; a delete followed by a re-insert ends with the re-inserted order. The
result does not depend on how often, in which order or in which refresh changes were delivered.

**Storage.** ``orders_current`` is an Iceberg table (format v2) in the Glue catalog, partitioned by
``order_date`` (UTC day of ``created_at``), created by the same ``CREATE TABLE ... TBLPROPERTIES
('table_type'='ICEBERG')`` on AWS and locally. ``orders_removed`` (Iceberg too) keeps one tombstone per
deleted order, so that a late, older change of a deleted order cannot bring it back.

**Incremental refresh** (the default once a watermark exists):

1. the raw partitions that received objects since the previous refresh are found by listing the raw
   prefix: objects modified at or after the watermark minus :data:`LISTING_MARGIN` (the watermark is
   the newest object time, S3's clock, the previous refresh saw; kept in its materialization metadata
   as ``raw_watermark``). Only those partitions are read, whatever their age: a backlog delivered
   after an outage lands in old event-time partitions and is read all the same. Objects of a
   partition not registered yet are left for the next refresh (the watermark stays before them);
2. the latest change per order among them is compared with what the table and the tombstones know of
   the order, and what has to change is staged as Parquet under a run-specific location
   (``orders_current_changes.sql``);
3. one ``MERGE INTO`` per batch of at most 100 order dates (Athena's partition limit per statement)
   applies it, each one Iceberg commit (``orders_current_merge.sql``); an order whose
   ``order_date`` changed is deleted from its old date and inserted in its new one;
4. one MERGE records the new tombstones (``orders_removed_merge.sql``);
5. the staging table and its files are dropped (also when a step fails; the next run drops what a
   killed run left).

The margin looks again at objects whose upload was under way during the previous listing (an object
is listed once its upload completes, with the time it started). A change read twice is a no-op (the
merge applies a change only when its sequence number is greater than everything stored), so reading
again costs a little and never doubles anything. A refresh stopped anywhere is finished by the next
one: its watermark was not recorded, so the next refresh reads the same partitions again.

**Full rebuild** (``full: true`` in the run config, and automatically when there is no watermark or
no table): the state of every order from every raw partition, replacing each order date in one
MERGE (``orders_current_replace.sql``), and every tombstone in one more. It gives the same table as
the incremental refreshes (a test proves it).

**What changed.** The staged plan says which order dates the refresh inserts into, updates or
deletes from: ``changed_order_dates`` in the metadata, exactly the ``sales_daily`` / ``sales_hourly``
partitions to refresh. The metadata also has the rows inserted, updated and deleted, the snapshot
id the refresh committed (for ``FOR VERSION AS OF``) and the bytes every statement scanned.

**Concurrency.** Every asset that writes a lake table runs in a Dagster concurrency pool of that table
(limit 1 in the local instance), whatever launched it; two writers that race anyway (two
deployments, a hand-run MERGE) are caught by Iceberg's optimistic commit: the commit that lost
fails or is retried from the new snapshot, never applied twice.
"""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at runtime.
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Config, MaterializeResult, MetadataValue, asset
from dagster_aws.s3 import S3Resource
from pydantic import Field

from infra.failpoints import kill_point
from infra.lake import (
    MAX_PARTITIONS_PER_WRITE,
    get_partitions,
    is_hidden_key,
    list_objects,
    validate_partition_value,
)
from sales_cdc.analytics.derived_tables import (
    PREVIEW_ROWS,
    Statements,
    chunks,
    delete_prefix,
    preview_metadata,
    rows_written,
    table_exists,
)
from sales_cdc.analytics.queries import render
from sales_cdc.lake_identity import lake_id_metadata
from sales_cdc.resources.aws import GlueResource, LakeResource
from sales_cdc.resources.query_engine import QueryEngineResource

ORDERS_CURRENT_TABLE = "orders_current"
ORDERS_REMOVED_TABLE = "orders_removed"
ORDER_DATE_COLUMN = "order_date"
# The catalog asset whose run makes new raw partitions visible (owned by the catalog group).
PARTITION_REPAIR_KEY = AssetKey("partition_repair")
# The pool of every step that writes orders_current (and its tombstones).
ORDERS_CURRENT_POOL = "lake_orders_current"
# Objects modified this long before the watermark are looked at again by the next refresh.
LISTING_MARGIN = timedelta(minutes=5)
RAW_WATERMARK = "raw_watermark"  # materialization metadata: the newest raw object time a refresh saw
STAGING_TABLE_PREFIX = f"{ORDERS_CURRENT_TABLE}_stage_"
_PARTITION = re.compile(r"dt=(\d{4}-\d{2}-\d{2})/hour=(\d{2})")


@dataclass
class RawWindow:
    """The raw partitions a refresh reads (``YYYY-MM-DD/HH``) and the watermark it leaves."""

    hours: list[str]
    watermark: datetime | None
    unregistered: list[str]  # partitions with new objects that the catalog does not know yet


def new_raw_partitions(
    s3: Any,
    lake: LakeResource,
    registered_of: Callable[[list[str]], set[str]],
    since: datetime | None,
    margin: timedelta = LISTING_MARGIN,
) -> RawWindow:
    """The registered raw partitions with objects modified at or after ``since`` minus the margin.

    ``since`` None: every partition with objects. ``registered_of(days)`` gives the registered
    partitions (``YYYY-MM-DD/HH``) of some days. The watermark returned is the newest object time
    seen, held back to the oldest object of a partition that is not registered yet, so that the next
    refresh reads it once it is.
    """
    cutoff = since - margin if since is not None else None
    oldest: dict[str, datetime] = {}
    newest = since
    for obj in list_objects(s3, lake.bucket, lake.raw_prefix):
        match = _PARTITION.match(obj["Key"][len(lake.raw_prefix) :])
        modified = obj["LastModified"]
        if match is None or is_hidden_key(obj["Key"]) or (cutoff is not None and modified < cutoff):
            continue
        hour = f"{match[1]}/{match[2]}"
        newest = modified if newest is None else max(newest, modified)
        oldest[hour] = min(modified, oldest.get(hour, modified))
    registered = registered_of(sorted({hour.split("/")[0] for hour in oldest})) if oldest else set()
    unregistered = {hour: when for hour, when in oldest.items() if hour not in registered}
    watermark = min([newest, *unregistered.values()]) if unregistered and newest else newest
    return RawWindow(sorted(set(oldest) - set(unregistered)), watermark, sorted(unregistered))


def registered_raw_partitions(glue: Any, lake: LakeResource, days: list[str]) -> set[str]:
    """The registered partitions of the raw table on ``days``, as ``YYYY-MM-DD/HH`` (Glue's
    GetPartitions with an expression, so the cost follows the days asked, not the table's age)."""
    found: set[str] = set()
    for start in range(0, len(days), MAX_PARTITIONS_PER_WRITE):
        batch = days[start : start + MAX_PARTITIONS_PER_WRITE]
        expression = "dt IN (" + ", ".join(f"'{validate_partition_value('dt', day)}'" for day in batch) + ")"
        for partition in get_partitions(glue, lake.glue_database, lake.raw_table, expression):
            values = partition.get("Values") or []
            if len(values) == 2:
                found.add(f"{values[0]}/{values[1]}")
    return found


class OrdersCurrentConfig(Config):
    """Run config of ``orders_current``."""

    full: bool = Field(
        default=False,
        description="Rebuild from every raw partition instead of merging the new ones (also done "
        "automatically when the table or the watermark is missing). Gives the same table.",
    )


def drop_staging_leftovers(statements: Statements, lake: LakeResource, s3: Any, keep: str) -> list[str]:
    """Drop the staging tables and files of earlier runs (killed ones), except ``keep``'s.

    Safe because the writers of ``orders_current`` run one at a time (:data:`ORDERS_CURRENT_POOL`):
    staging that is not this run's belongs to a run that is no longer running.
    """
    dropped = []
    for row in statements.run("list_tables").rows:
        name = str(row[0]) if row else ""
        if name.startswith(STAGING_TABLE_PREFIX) and name != keep:
            statements.run("drop_table", table=name)
            dropped.append(name)
    root = f"{lake.derived_prefix}_staging/{ORDERS_CURRENT_TABLE}/"
    listing = s3.get_paginator("list_objects_v2").paginate(Bucket=lake.bucket, Prefix=root, Delimiter="/")
    for page in listing:
        for prefix in page.get("CommonPrefixes") or []:
            if not prefix["Prefix"].endswith(f"/{keep.removeprefix(STAGING_TABLE_PREFIX)}/"):
                delete_prefix(s3, lake.bucket, prefix["Prefix"])
    return dropped


def ensure_tables(statements: Statements, lake: LakeResource) -> bool:
    """Create ``orders_current`` and ``orders_removed`` if missing; True if ``orders_current`` existed."""
    existed = table_exists(statements, ORDERS_CURRENT_TABLE)
    if not existed:
        statements.run(
            "orders_current_create",
            table=ORDERS_CURRENT_TABLE,
            location=lake.derived_location(ORDERS_CURRENT_TABLE),
        )
    if not existed or not table_exists(statements, ORDERS_REMOVED_TABLE):
        statements.run(
            "orders_removed_create",
            table=ORDERS_REMOVED_TABLE,
            location=lake.derived_location(ORDERS_REMOVED_TABLE),
        )
    return existed


@dataclass
class MergePlan:
    """What a staged refresh does: rows per kind (insert/update/delete/tombstone) per order date."""

    counts: dict[str, dict[str, int]]

    @classmethod
    def from_result(cls, result: Any) -> "MergePlan":
        """From ``orders_current_plan.sql``'s rows (merge_kind, order_date, changes)."""
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for kind, day, changes in result.rows:
            counts[str(kind)][str(day)] = int(changes)
        return cls(dict(counts))

    def total(self, kind: str) -> int:
        """Rows of one kind over every date."""
        return sum(self.counts.get(kind, {}).values())

    def dates(self, *kinds: str) -> list[str]:
        """The order dates with rows of any of ``kinds``, sorted."""
        return sorted({day for kind in kinds for day in self.counts.get(kind, {})})


def refresh_orders_current(
    statements: Statements,
    lake: LakeResource,
    s3: Any,
    glue: Any,
    *,
    run_token: str,
    watermark: datetime | None,
    full: bool = False,
    batch_size: int = MAX_PARTITIONS_PER_WRITE,
    listing_margin: timedelta = LISTING_MARGIN,
    log: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Bring ``orders_current`` up to date with the raw table; returns facts for the metadata.

    ``s3`` and ``glue`` are boto3 clients; ``watermark`` is the previous refresh's (None: rebuild);
    ``run_token`` (lower-case hex) names the staging table and location of this run; ``log`` gets a
    line per step.
    """
    staging_table = f"{STAGING_TABLE_PREFIX}{run_token}"
    staging_prefix = f"{lake.derived_prefix}_staging/{ORDERS_CURRENT_TABLE}/{run_token}/"
    dropped = drop_staging_leftovers(statements, lake, s3, keep=staging_table)
    if dropped:
        log(f"dropped the staging of {len(dropped)} earlier run(s) that did not finish: {', '.join(dropped)}")
    existed = ensure_tables(statements, lake)
    rebuild = full or watermark is None or not existed
    window = new_raw_partitions(
        s3,
        lake,
        lambda days: registered_raw_partitions(glue, lake, days),
        None if rebuild else watermark,
        listing_margin,
    )
    if window.unregistered:
        log(
            f"{len(window.unregistered)} raw partition(s) with new objects are not registered yet "
            f"({', '.join(window.unregistered[:5])}{', ...' if len(window.unregistered) > 5 else ''}): "
            "the next refresh reads them once partition_repair has run"
        )
    if rebuild:
        log(f"full rebuild from every registered raw partition ({len(window.hours)} with objects)")
        source = render("raw_rows", database=statements.database, raw_table=lake.raw_table)
    elif window.hours:
        log(
            f"incremental merge of {len(window.hours)} raw partition(s) with new objects: "
            + _span(window.hours)
        )
        source = render(
            "raw_rows_of_hours",
            database=statements.database,
            raw_table=lake.raw_table,
            days=sorted({hour.split("/")[0] for hour in window.hours}),
            hours=window.hours,
        )
    else:
        log("no new raw objects since the last refresh: nothing to merge")
        source = None
    plan = MergePlan({})
    staged = None
    if source is not None:
        try:
            delete_prefix(s3, lake.bucket, staging_prefix)
            staged = statements.run(
                "orders_current_rebuild" if rebuild else "orders_current_changes",
                table=staging_table,
                location=f"s3://{lake.bucket}/{staging_prefix}",
                query=render("orders_latest_changes", query=source),
            )
            kill_point("orders_current.staged")
            plan = MergePlan.from_result(statements.run("orders_current_plan", source_table=staging_table))
            apply_plan(statements, plan, staging_table, rebuild=rebuild, batch_size=batch_size, log=log)
            kill_point("orders_current.merged")
        finally:
            statements.run("drop_table", table=staging_table)
            delete_prefix(s3, lake.bucket, staging_prefix)

    changed = plan.dates("insert", "update", "delete")
    snapshot = statements.run("latest_snapshot", table=ORDERS_CURRENT_TABLE).as_dicts()
    return {
        "mode": "full" if rebuild else "incremental",
        "raw_partitions_read": len(window.hours) if rebuild or source is not None else 0,
        "raw_watermark": window.watermark.isoformat() if window.watermark else None,
        "staged_rows": rows_written(staged) if staged is not None else 0,
        "inserted": plan.total("insert"),
        "updated": plan.total("update"),
        "deleted": plan.total("delete"),
        "tombstones": plan.total("tombstone"),
        "changed_order_dates": changed,
        "snapshot_id": snapshot[0]["snapshot_id"] if snapshot else None,
        "dropped_leftovers": dropped,
        "preview": (
            statements.run(
                "preview",
                table=ORDERS_CURRENT_TABLE,
                partition_column=ORDER_DATE_COLUMN,
                day=changed[-1],
                limit=PREVIEW_ROWS,
            )
            if changed
            else None
        ),
    }


def apply_plan(
    statements: Statements,
    plan: MergePlan,
    staging_table: str,
    *,
    rebuild: bool,
    batch_size: int,
    log: Callable[[str], None],
) -> None:
    """Merge the staged rows into ``orders_current`` (batches of order dates), then the tombstones."""
    if rebuild:
        stored = statements.run("table_order_dates", table=ORDERS_CURRENT_TABLE).rows
        dates = sorted(set(plan.dates("insert")) | {str(row[0]) for row in stored})
        merge_name, tombstone_name = "orders_current_replace", "orders_removed_replace"
    else:
        dates = plan.dates("insert", "update", "delete")
        merge_name, tombstone_name = "orders_current_merge", "orders_removed_merge"
    batches = list(chunks(dates, batch_size))
    for number, batch in enumerate(batches, start=1):
        statements.run(merge_name, table=ORDERS_CURRENT_TABLE, source_table=staging_table, days=batch)
        log(f"committed order dates {batch[0]} .. {batch[-1]} (batch {number} of {len(batches)})")
        kill_point("orders_current.merged_batch")
    if rebuild or plan.total("tombstone"):
        statements.run(tombstone_name, table=ORDERS_REMOVED_TABLE, source_table=staging_table)


def _span(hours: list[str]) -> str:
    return hours[0] if len(hours) == 1 else f"{hours[0]} .. {hours[-1]}"


def previous_metadata(context: AssetExecutionContext) -> dict[str, Any]:
    """The metadata values of the last materialization of ``orders_current`` (empty if there is none)."""
    event = context.instance.get_latest_materialization_event(context.asset_key)
    materialization = event.asset_materialization if event is not None else None
    if materialization is None:
        return {}
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def previous_watermark(context: AssetExecutionContext, previous: dict[str, Any]) -> datetime | None:
    """The raw watermark of the last materialization (None if there is none or it is unreadable)."""
    text = previous.get(RAW_WATERMARK)
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        context.log.warning(
            f"raw watermark {text!r} of the last materialization is not an ISO time; rebuilding "
            "orders_current from every raw partition instead"
        )
        return None


@asset(
    key=ORDERS_CURRENT_TABLE,
    group_name="analytics",
    deps=[PARTITION_REPAIR_KEY],
    kinds={"athena", "iceberg"},
    pool=ORDERS_CURRENT_POOL,
    description=(
        "Current state of every order (Apache Iceberg, partitioned by order_date = UTC creation day): "
        "latest change per order by stream sequence number, duplicate deliveries collapsed, deleted "
        "orders dropped. Each refresh merges only the new raw partitions, one atomic commit per "
        "statement; `full: true` rebuilds it."
    ),
)
def orders_current(
    context: AssetExecutionContext,
    config: OrdersCurrentConfig,
    query_engine: QueryEngineResource,
    lake: LakeResource,
    s3: S3Resource,
    glue: GlueResource,
) -> MaterializeResult:
    """Merge the new changes (or rebuild) and report what changed, the snapshot and the bytes scanned."""
    statements = Statements(query_engine, lake.glue_database)
    previous = previous_metadata(context)
    client = s3.get_client()
    facts = refresh_orders_current(
        statements,
        lake,
        client,
        glue.get_client(),
        run_token=re.sub(r"[^0-9a-f]", "", context.run.run_id.lower()),
        watermark=previous_watermark(context, previous),
        full=config.full,
        log=context.log.info,
    )
    context.log.info(
        "orders_current (%s): %d inserted, %d updated, %d deleted, %d tombstones; changed order dates: %s",
        facts["mode"],
        facts["inserted"],
        facts["updated"],
        facts["deleted"],
        facts["tombstones"],
        ", ".join(facts["changed_order_dates"]) or "none",
    )
    changed = facts["changed_order_dates"]
    # Rows now: what a rebuild inserted, or the last count plus what this merge inserted and deleted
    # (a moved order is one of each). Counting the table would read all of it on every refresh.
    orders = facts["inserted"] - facts["deleted"]
    if facts["mode"] == "incremental":
        orders += int(previous.get("dagster/row_count") or 0)
    return MaterializeResult(
        metadata={
            "dagster/row_count": MetadataValue.int(orders),
            "mode": MetadataValue.text(facts["mode"]),
            RAW_WATERMARK: MetadataValue.text(facts["raw_watermark"] or ""),
            "raw_partitions_read": MetadataValue.int(facts["raw_partitions_read"]),
            "rows_inserted": MetadataValue.int(facts["inserted"]),
            "rows_updated": MetadataValue.int(facts["updated"]),
            "rows_deleted": MetadataValue.int(facts["deleted"]),
            "tombstones_added": MetadataValue.int(facts["tombstones"]),
            "changed_order_dates": MetadataValue.json(changed),
            "partitions_touched": MetadataValue.json([f"{ORDER_DATE_COLUMN}={day}" for day in changed]),
            "snapshot_id": MetadataValue.text(str(facts["snapshot_id"] or "none")),
            **lake_id_metadata(client, lake.bucket),
            "table": MetadataValue.text(f"{lake.glue_database}.{ORDERS_CURRENT_TABLE}"),
            "location": MetadataValue.path(lake.derived_location(ORDERS_CURRENT_TABLE)),
            "preview": (
                preview_metadata(facts["preview"])
                if facts["preview"] is not None
                else MetadataValue.md("_no order changed_")
            ),
            **statements.metadata(),
        }
    )
