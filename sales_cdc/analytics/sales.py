"""``sales_daily`` and ``sales_hourly``: sales by order date, one partition per day.

**What a day means.** The partition day is the *order date*: the UTC day the order was created
(``created_at``). An order is reported under the day it was placed, in its **current** state, as
``orders_current`` holds it - so the sum over all days equals the same aggregation of
``orders_current``, and a day's figures equal what a scan of the DynamoDB table gives for orders
created that day. ``sales-cdc generate --days N`` spreads orders over the last N order dates.

**Cancelled and returned orders.** Orders, units and revenue count orders whose current status is
PLACED, PAID, SHIPPED or DELIVERED. CANCELLED and RETURNED orders contribute no revenue and are
counted in ``cancelled_orders`` / ``returned_orders``; deleted orders (latest change REMOVE) are not
in ``orders_current`` and so not here. A cancellation arriving days later changes the order's
*creation* day: ``orders_current`` reports that day in ``changed_order_dates``, which is the list of
partitions to refresh.

**Storage and cost.** Both are Apache Iceberg tables partitioned by ``order_date``. A refresh of some
days reads those ``orders_current`` partitions and replaces the same partitions of the summary with
one MERGE per batch of at most 100 days (one Iceberg commit): a reader sees a day's old figures or
its new ones, never none and never both, and two refreshes of one day leave one copy. Re-running it
gives the same rows. Each summary has its own concurrency pool (``lake_<table>``).
"""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at runtime.
from dagster import AssetExecutionContext, AssetsDefinition, MaterializeResult, MetadataValue, asset
from dagster_aws.s3 import S3Resource

from infra.lake import MAX_PARTITIONS_PER_WRITE
from sales_cdc.analytics.daily_partitions import DAILY_PARTITIONS
from sales_cdc.analytics.derived_tables import (
    DerivedTable,
    Statements,
    chunks,
    preview_metadata,
    table_metadata,
)
from sales_cdc.analytics.orders_current import ORDER_DATE_COLUMN, ORDERS_CURRENT_TABLE, orders_current
from sales_cdc.analytics.queries import render
from sales_cdc.lake_identity import lake_id_metadata
from sales_cdc.resources.aws import LakeResource
from sales_cdc.resources.query_engine import QueryEngineResource

SALES_DAILY_TABLE = "sales_daily"
SALES_HOURLY_TABLE = "sales_hourly"


def summary_pool(table_name: str) -> str:
    """The Dagster concurrency pool of the assets and ops that write ``table_name``."""
    return f"lake_{table_name}"


def refresh_order_dates(
    table_name: str, days: list[str], statements: Statements, lake: LakeResource, s3: object
) -> tuple[DerivedTable, dict[str, int]]:
    """Replace the partitions ``days`` of a summary of ``orders_current``; returns rows per day.

    ``table_name`` names the table and its SQL files: ``<name>_create.sql`` (the Iceberg table, made
    when missing), ``<name>.sql`` (the figures of some days) and ``<name>_replace.sql`` (the MERGE that
    swaps them in, one commit per batch of at most 100 days).
    """
    table = DerivedTable(table_name, ORDER_DATE_COLUMN, lake, statements, s3)
    if not table.exists():
        statements.run(f"{table_name}_create", table=table_name, location=table.location)
    rows: dict[str, int] = {}
    for batch in chunks(sorted(days), MAX_PARTITIONS_PER_WRITE):
        fresh = render(
            table_name, database=statements.database, source_table=ORDERS_CURRENT_TABLE, days=batch
        )
        statements.run(f"{table_name}_replace", table=table_name, query=fresh, days=batch)
        counted = statements.run(
            "partition_row_counts", table=table_name, partition_column=ORDER_DATE_COLUMN, days=batch
        )
        rows.update({day: 0 for day in batch})
        rows.update({str(day): int(count) for day, count in counted.rows})
    return table, rows


def materialize_summary(
    context: AssetExecutionContext,
    table_name: str,
    query_engine: QueryEngineResource,
    lake: LakeResource,
    s3: S3Resource,
) -> MaterializeResult:
    """Rewrite the partition of each order date in the run of a summary asset and report it.

    ``table_name`` is both the derived table and its SQL file (``sales_daily.sql``, ...).
    """
    statements = Statements(query_engine, lake.glue_database)
    days = list(context.partition_keys)
    client = s3.get_client()
    table, rows = refresh_order_dates(table_name, days, statements, lake, client)
    context.log.info("%s: rewrote %d partition(s), %d rows", table_name, len(days), sum(rows.values()))
    # The preview shows the last day refreshed (the only one for a single-partition run).
    preview = preview_metadata(table.preview(days[-1])) if days else MetadataValue.md("_no partitions_")
    return MaterializeResult(
        metadata={
            **table_metadata(table, days, rows),
            "preview": preview,
            **statements.metadata(),
            **lake_id_metadata(client, lake.bucket),
        }
    )


def order_date_summary(table_name: str, description: str) -> AssetsDefinition:
    """A daily summary asset of ``orders_current`` named ``table_name``, computed by ``<table_name>.sql``."""

    @asset(
        key=table_name,
        group_name="analytics",
        partitions_def=DAILY_PARTITIONS,
        deps=[orders_current],
        kinds={"athena", "iceberg"},
        pool=summary_pool(table_name),
        description=description,
    )
    def summary(
        context: AssetExecutionContext,
        query_engine: QueryEngineResource,
        lake: LakeResource,
        s3: S3Resource,
    ) -> MaterializeResult:
        """Rewrite the partition of each order date in the run (one, or a range in a backfill)."""
        return materialize_summary(context, table_name, query_engine, lake, s3)

    return summary


sales_daily = order_date_summary(
    SALES_DAILY_TABLE,
    "Revenue (exact DECIMAL), units and orders by order date (UTC creation day), category and product, "
    "from orders_current: current status PLACED/PAID/SHIPPED/DELIVERED counts as revenue, CANCELLED and "
    "RETURNED are counted separately.",
)
sales_hourly = order_date_summary(
    SALES_HOURLY_TABLE,
    "Near-real-time trend: orders, units and revenue per UTC hour of order creation, one partition per "
    "order date, same counting as sales_daily (the hours add up to the day).",
)
