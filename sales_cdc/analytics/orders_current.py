"""``orders_current``: the current state of every order, rebuilt from the raw CDC table.

Semantics (SQL: ``sales_cdc/analytics/sql/orders_current_stage.sql``): duplicate deliveries collapse by
``event_id``; per order the change with the greatest stream sequence number wins (compared as
40-digit zero-padded text); orders whose latest change is a REMOVE are left out. The result does not
depend on how often or in which order changes were delivered.

The table is Parquet under ``derived/orders_current/``, partitioned by ``order_date`` (UTC day of
``created_at``) so that a day of ``sales_daily`` reads one partition. A rebuild reads every
registered raw partition (the latest state of an order can arrive in any later partition), so it
runs in steps that respect Athena's limits and keep the time without a published table short (the
slow raw scan happens before the old table is dropped):

1. CTAS the new state into a run-specific staging table and location (the raw scan);
2. list its order dates;
3. drop ``orders_current``, delete its prefix, and publish the staged rows: CTAS for the first 100
   order dates, INSERT INTO for each further 100 (Athena writes at most 100 partitions per
   statement);
4. drop the staging table and delete its files (also when a step fails);
5. fingerprint the sales-relevant rows of each order date and compare them with the previous
   run's (a small JSON state object, written last), reporting ``changed_order_dates``: the
   ``sales_daily`` / ``sales_hourly`` partitions that need a refresh.
"""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at runtime.
import hashlib
import json
import re
from collections import defaultdict
from typing import Any

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset
from dagster_aws.s3 import S3Resource

from infra.lake import MAX_PARTITIONS_PER_WRITE
from sales_cdc.analytics.derived_tables import (
    PREVIEW_ROWS,
    Statements,
    chunks,
    delete_prefix,
    plain,
    preview_metadata,
    read_json_object,
    rows_written,
    state_key,
    write_json_object,
)
from sales_cdc.analytics.queries import render
from sales_cdc.resources.aws import LakeResource
from sales_cdc.resources.query_engine import QueryEngineResource

ORDERS_CURRENT_TABLE = "orders_current"
ORDER_DATE_COLUMN = "order_date"
# The catalog asset whose run makes new raw partitions visible (owned by the catalog group).
PARTITION_REPAIR_KEY = AssetKey("partition_repair")
# Stands for "no order dates" in the publishing CTAS: it creates the empty table, matching no row.
_NO_ORDER_DATE = "0001-01-01"


def _staging_token(run_id: str) -> str:
    token = re.sub(r"[^0-9a-f]", "", run_id.lower())[:12]
    return token or "manual"


def rebuild_orders_current(
    statements: Statements,
    lake: LakeResource,
    s3: Any,
    *,
    run_token: str,
    batch_size: int = MAX_PARTITIONS_PER_WRITE,
) -> dict[str, Any]:
    """Rebuild ``orders_current`` from the raw CDC table; returns facts for the metadata.

    ``run_token`` (lower-case hex) makes the staging table and location unique to the run.
    """
    staging_table = f"{ORDERS_CURRENT_TABLE}_staging_{run_token}"
    staging_prefix = f"{lake.derived_prefix}_staging/{ORDERS_CURRENT_TABLE}/{run_token}/"
    table_prefix = f"{lake.derived_prefix}{ORDERS_CURRENT_TABLE}/"
    try:
        delete_prefix(s3, lake.bucket, staging_prefix)
        staged = statements.run(
            "orders_current_stage",
            table=staging_table,
            raw_table=lake.raw_table,
            location=f"s3://{lake.bucket}/{staging_prefix}",
        )
        order_dates = [
            str(row[0]) for row in statements.run("orders_current_dates", source_table=staging_table).rows
        ]

        statements.run("drop_table", table=ORDERS_CURRENT_TABLE)
        delete_prefix(s3, lake.bucket, table_prefix)
        for number, batch in enumerate(
            chunks(order_dates, batch_size) if order_dates else [[_NO_ORDER_DATE]]
        ):
            query = render(
                "orders_current_publish", database=statements.database, source_table=staging_table, days=batch
            )
            if number == 0:
                statements.run(
                    "create_partitioned_table",
                    table=ORDERS_CURRENT_TABLE,
                    location=lake.derived_location(ORDERS_CURRENT_TABLE),
                    partition_key=ORDER_DATE_COLUMN,
                    query=query,
                )
            else:
                statements.run("insert_into", table=ORDERS_CURRENT_TABLE, query=query)
    finally:
        statements.run("drop_table", table=staging_table)
        delete_prefix(s3, lake.bucket, staging_prefix)

    fingerprints = day_fingerprints(statements.run("orders_current_fingerprint", table=ORDERS_CURRENT_TABLE))
    key = state_key(lake, "orders_current_fingerprints")
    previous = read_json_object(s3, lake.bucket, key) or {}
    changed = sorted(
        day for day in fingerprints.keys() | previous.keys() if fingerprints.get(day) != previous.get(day)
    )
    totals = statements.run("orders_current_totals", table=ORDERS_CURRENT_TABLE).as_dicts()[0]
    preview = (
        statements.run(
            "preview",
            table=ORDERS_CURRENT_TABLE,
            partition_column=ORDER_DATE_COLUMN,
            day=order_dates[-1],
            limit=PREVIEW_ROWS,
        )
        if order_dates
        else None
    )
    # Last, so that a run failing before this point reports its changed dates again next time.
    write_json_object(s3, lake.bucket, key, fingerprints)
    return {
        "orders": int(totals["orders"] or 0),
        "staged_rows": rows_written(staged),
        "order_dates": order_dates,
        "changed_order_dates": changed,
        "newest_event_time": totals["newest_event_time"],
        "preview": preview,
    }


def day_fingerprints(result: Any) -> dict[str, str]:
    """A hash per order date of the rows the sales summaries are computed from.

    Two runs give the same hash for a date exactly when ``sales_daily`` and ``sales_hourly`` would be
    the same for it, so the dates whose hash changed are the partitions to refresh.
    """
    by_day: dict[str, list[list[Any]]] = defaultdict(list)
    for row in result.as_dicts():
        by_day[str(row["order_date"])].append([plain(row[column]) for column in result.columns])
    return {
        day: hashlib.sha256(json.dumps(sorted(rows, key=json.dumps), default=str).encode()).hexdigest()
        for day, rows in sorted(by_day.items())
    }


@asset(
    key=ORDERS_CURRENT_TABLE,
    group_name="analytics",
    deps=[PARTITION_REPAIR_KEY],
    kinds={"athena", "parquet"},
    description=(
        "Current state of every order: latest change per order by stream sequence number, duplicate "
        "deliveries collapsed, deleted orders dropped. Parquet partitioned by order_date (UTC creation day)."
    ),
)
def orders_current(
    context: AssetExecutionContext,
    query_engine: QueryEngineResource,
    lake: LakeResource,
    s3: S3Resource,
) -> MaterializeResult:
    """Rebuild the table and report orders, order dates, changed order dates and bytes scanned."""
    statements = Statements(query_engine, lake.glue_database)
    client = s3.get_client()
    facts = rebuild_orders_current(statements, lake, client, run_token=_staging_token(context.run.run_id))
    order_dates = facts["order_dates"]
    preview = (
        preview_metadata(facts["preview"])
        if facts["preview"] is not None
        else MetadataValue.md("_no orders_")
    )
    context.log.info(
        "orders_current: %d orders over %d order dates; changed order dates: %s",
        facts["orders"],
        len(order_dates),
        ", ".join(facts["changed_order_dates"]) or "none",
    )
    newest = facts["newest_event_time"]
    return MaterializeResult(
        metadata={
            "dagster/row_count": MetadataValue.int(facts["orders"]),
            "orders": MetadataValue.int(facts["orders"]),
            "order_dates": MetadataValue.int(len(order_dates)),
            "partitions_touched": MetadataValue.json([f"{ORDER_DATE_COLUMN}={day}" for day in order_dates]),
            "changed_order_dates": MetadataValue.json(facts["changed_order_dates"]),
            "newest_event_time": MetadataValue.text(str(plain(newest)) if newest is not None else "none"),
            "table": MetadataValue.text(f"{lake.glue_database}.{ORDERS_CURRENT_TABLE}"),
            "location": MetadataValue.path(lake.derived_location(ORDERS_CURRENT_TABLE)),
            "preview": preview,
            **statements.metadata(),
        }
    )
