"""``daily_report``: one day's sales and change-stream figures, with a chart, for the Dagster UI.

For a partition day it reads the three summaries of that day (small tables: ``sales_daily`` and
``sales_hourly`` by order date, ``cdc_event_stats`` by event day), renders a PNG (revenue and orders
by hour, top products), stores it at ``s3://<bucket>/<derived_prefix>reports/dt=<day>/report.png``
and materializes with:

- ``revenue`` as the exact decimal (text: money is never rounded to a float), and numeric metadata
  (``orders``, ``units``, ``cancelled_orders``, ``returned_orders``, ``events``,
  ``duplicate_deliveries``, ``late_events``, ``error_records``), which the UI plots over the partitions;
- ``dagster/row_count``: the rows of the report's own product table (the top products it lists);
- the top products as a markdown table, the CDC statistics, the chart embedded as a data URI (the UI
  cannot fetch ``s3://``), and the S3 path of the PNG.
"""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at runtime.
import base64
from decimal import Decimal
from typing import Any

from dagster import (
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_aws.s3 import S3Resource

from sales_cdc.analytics.cdc_event_stats import (
    CDC_EVENT_STATS_TABLE,
    EVENT_DAY_COLUMN,
    cdc_event_stats,
)
from sales_cdc.analytics.daily_chart import HourFigures, ProductFigures, render_daily_chart
from sales_cdc.analytics.daily_partitions import DAILY_PARTITIONS
from sales_cdc.analytics.derived_tables import DerivedTable, Statements, markdown_table
from sales_cdc.analytics.orders_current import ORDER_DATE_COLUMN
from sales_cdc.analytics.sales import SALES_DAILY_TABLE, SALES_HOURLY_TABLE, sales_daily, sales_hourly
from sales_cdc.lake_identity import lake_id_metadata
from sales_cdc.resources.aws import LakeResource
from sales_cdc.resources.query_engine import QueryEngineResource

TOP_PRODUCTS = 10
# Larger charts are linked by path only: a data URI that big slows the UI's metadata views.
MAX_EMBEDDED_PNG_BYTES = 300_000
CDC_FIGURES = (
    "events",
    "inserts",
    "modifies",
    "removes",
    "orders_changed",
    "deliveries",
    "duplicate_deliveries",
    "late_events",
    "late_hour_events",
    "lag_p50_ms",
    "lag_p99_ms",
    "lag_max_ms",
    "error_records",
)


def report_key(lake: LakeResource, day: str) -> str:
    """Key of a day's chart: ``<derived_prefix>reports/dt=<day>/report.png``."""
    return f"{lake.derived_prefix}reports/dt={day}/report.png"


def _table_rows(table: DerivedTable, day: str) -> list[dict[str, Any]]:
    return table.rows(day).as_dicts() if table.exists() else []


def build_report(statements: Statements, lake: LakeResource, s3: Any, day: str) -> dict[str, Any]:
    """Read the day's summaries, render and store the chart; returns the figures and the PNG."""
    products = _table_rows(DerivedTable(SALES_DAILY_TABLE, ORDER_DATE_COLUMN, lake, statements, s3), day)
    hours = _table_rows(DerivedTable(SALES_HOURLY_TABLE, ORDER_DATE_COLUMN, lake, statements, s3), day)
    cdc_rows = _table_rows(DerivedTable(CDC_EVENT_STATS_TABLE, EVENT_DAY_COLUMN, lake, statements, s3), day)

    revenue = sum((Decimal(row["revenue"]) for row in products), Decimal("0.00"))
    orders = sum(int(row["orders"]) for row in products)
    units = sum(int(row["units"]) for row in products)
    top = sorted(
        (
            ProductFigures(
                name=str(row["product_name"] or row["product_id"]),
                category=str(row["category"]),
                orders=int(row["orders"]),
                units=int(row["units"]),
                revenue=Decimal(row["revenue"]),
            )
            for row in products
            if int(row["orders"]) > 0
        ),
        key=lambda item: (-item.revenue, item.name),
    )[:TOP_PRODUCTS]
    png = render_daily_chart(
        day,
        [HourFigures(int(row["order_hour"]), int(row["orders"]), Decimal(row["revenue"])) for row in hours],
        top,
        revenue=revenue,
        orders=orders,
    )
    key = report_key(lake, day)
    s3.put_object(Bucket=lake.bucket, Key=key, Body=png, ContentType="image/png")
    return {
        "revenue": revenue,
        "orders": orders,
        "units": units,
        "cancelled_orders": sum(int(row["cancelled_orders"]) for row in products),
        "returned_orders": sum(int(row["returned_orders"]) for row in products),
        "top_products": top,
        "cdc": cdc_rows[0] if cdc_rows else {},
        "png": png,
        "path": f"s3://{lake.bucket}/{key}",
    }


def report_metadata(day: str, report: dict[str, Any]) -> dict[str, Any]:
    """The materialization metadata of a report built by :func:`build_report`."""
    top_md = markdown_table(
        ["product", "category", "orders", "units", "revenue"],
        [(p.name, p.category, p.orders, p.units, f"{p.revenue:,.2f}") for p in report["top_products"]],
        limit=TOP_PRODUCTS,
    )
    cdc = report["cdc"]
    cdc_md = (
        markdown_table(
            ["figure", "value"], [(name, cdc.get(name)) for name in CDC_FIGURES], limit=len(CDC_FIGURES)
        )
        if cdc
        else "_no change events recorded for this day_"
    )
    png = report["png"]
    chart = (
        f"![daily report {day}](data:image/png;base64,{base64.b64encode(png).decode()})"
        if len(png) <= MAX_EMBEDDED_PNG_BYTES
        else f"Chart too large to embed ({len(png):,} bytes): {report['path']}"
    )
    metadata: dict[str, Any] = {
        "revenue": MetadataValue.text(str(report["revenue"])),  # exact: a float would round money
        "orders": MetadataValue.int(report["orders"]),
        "units": MetadataValue.int(report["units"]),
        "cancelled_orders": MetadataValue.int(report["cancelled_orders"]),
        "returned_orders": MetadataValue.int(report["returned_orders"]),
        "top_products": MetadataValue.md(top_md),
        "cdc_statistics": MetadataValue.md(cdc_md),
        "chart": MetadataValue.md(chart),
        "chart_path": MetadataValue.path(report["path"]),
        "partitions_touched": MetadataValue.json([f"dt={day}"]),
        # The report's own rows: its product table (not the sales_daily rows it summarises).
        "dagster/row_count": MetadataValue.int(len(report["top_products"])),
    }
    for name in ("events", "duplicate_deliveries", "late_events", "error_records"):
        if cdc.get(name) is not None:
            metadata[name] = MetadataValue.int(int(cdc[name]))
    return metadata


@asset(
    group_name="analytics",
    partitions_def=DAILY_PARTITIONS,
    deps=[sales_daily, sales_hourly, cdc_event_stats],
    kinds={"athena", "s3"},
    pool="lake_daily_report",
    description=(
        "The day's revenue, orders, units, top products and CDC statistics with a chart "
        "(PNG in S3 under derived/reports/dt=DAY/, shown in the UI)."
    ),
)
def daily_report(
    context: AssetExecutionContext,
    query_engine: QueryEngineResource,
    lake: LakeResource,
    s3: S3Resource,
) -> MaterializeResult:
    """Build the report of the run's partition day."""
    days = context.partition_keys
    if len(days) != 1:
        # One run records one materialization for every partition of its range: one day's figures
        # and chart would stand for every day. Backfills of a daily asset run one day per run.
        raise Failure(
            f"daily_report makes one day's report per run, and this run covers {len(days)} days "
            f"({days[0]}..{days[-1]}); launch it for one day, or as a backfill (one run per day)."
        )
    day = days[0]
    statements = Statements(query_engine, lake.glue_database)
    client = s3.get_client()
    report = build_report(statements, lake, client, day)
    context.log.info(
        "daily_report %s: revenue %s, %d orders, chart at %s",
        day,
        report["revenue"],
        report["orders"],
        report["path"],
    )
    return MaterializeResult(
        metadata={
            **report_metadata(day, report),
            **statements.metadata(),
            **lake_id_metadata(client, lake.bucket),
        }
    )
