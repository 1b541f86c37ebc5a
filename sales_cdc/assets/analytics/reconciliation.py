"""Reconciliation of the lake with its source of truth, the DynamoDB ``orders`` table.

Used by the ``reconciles_with_dynamodb`` asset check and by end-to-end tests:

- :func:`reconcile_orders` compares ``orders_current`` (ids and statuses) with a scan of the table
  and names the mismatching ids: missing from the lake, extra in the lake (deleted in DynamoDB), or
  with another status. Once the pipeline has drained, every count is 0.
- :func:`expected_sales_daily` computes ``sales_daily`` from the table's items with the documented
  rules, independently of the SQL, and :func:`compare_sales_daily` diffs it with the lake's table.
- :func:`assert_pipeline_reconciled` does both and raises AssertionError with the details.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from lambda_transform.timestamps import iso_timestamp
from sales_cdc.assets.analytics.orders_current import ORDER_DATE_COLUMN, ORDERS_CURRENT_TABLE
from sales_cdc.assets.analytics.sales import SALES_DAILY_TABLE
from sales_cdc.assets.analytics.tables import DerivedTable, Statements, table_exists
from sales_cdc.resources.aws import LakeResource
from sales_cdc.resources.query_engine import QueryEngineResource

# Statuses whose orders count as revenue (the rule sales_daily.sql applies).
REVENUE_STATUSES = frozenset({"PLACED", "PAID", "SHIPPED", "DELIVERED"})
SAMPLE_IDS = 20
_deserializer = TypeDeserializer()


def scan_orders(dynamodb: Any, table: str) -> dict[str, dict[str, Any]]:
    """Every item of the DynamoDB ``table`` by ``orderId`` (plain Python values, numbers as Decimal).

    A consistent read, paginated: the scan sees every write acknowledged before it started.
    """
    items: dict[str, dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for raw in page.get("Items", []):
            item = {name: _deserializer.deserialize(value) for name, value in raw.items()}
            items[str(item["orderId"])] = item
    return items


@dataclass
class ReconciliationReport:
    """How ``orders_current`` differs from the DynamoDB table (ids sorted, so reports are stable)."""

    dynamodb_orders: int
    lake_orders: int
    missing: list[str] = field(default_factory=list)  # in DynamoDB, not in orders_current
    extra: list[str] = field(default_factory=list)  # in orders_current, not in DynamoDB
    status_mismatches: list[tuple[str, str | None, str | None]] = field(
        default_factory=list
    )  # id, dynamodb, lake

    @property
    def mismatches(self) -> int:
        """Orders that differ in any way."""
        return len(self.missing) + len(self.extra) + len(self.status_mismatches)

    @property
    def ok(self) -> bool:
        """True when the lake matches the table."""
        return self.mismatches == 0

    def describe(self, limit: int = SAMPLE_IDS) -> str:
        """One paragraph naming the first mismatching ids of each kind."""
        if self.ok:
            return f"orders_current matches DynamoDB: {self.lake_orders} orders, 0 mismatches"
        parts = [
            f"orders_current ({self.lake_orders} orders) differs from DynamoDB "
            f"({self.dynamodb_orders} items) in {self.mismatches} order(s)"
        ]
        if self.missing:
            parts.append(
                f"missing from orders_current ({len(self.missing)}): {', '.join(self.missing[:limit])}"
            )
        if self.extra:
            parts.append(
                f"in orders_current but not in DynamoDB ({len(self.extra)}): {', '.join(self.extra[:limit])}"
            )
        if self.status_mismatches:
            shown = ", ".join(
                f"{oid} (dynamodb {ddb}, lake {lake})" for oid, ddb, lake in self.status_mismatches[:limit]
            )
            parts.append(f"status differs ({len(self.status_mismatches)}): {shown}")
        return "; ".join(parts)


def compare_orders(truth: Mapping[str, str | None], lake: Mapping[str, str | None]) -> ReconciliationReport:
    """Diff ``{order id: status}`` of DynamoDB (``truth``) and of ``orders_current`` (``lake``)."""
    return ReconciliationReport(
        dynamodb_orders=len(truth),
        lake_orders=len(lake),
        missing=sorted(truth.keys() - lake.keys()),
        extra=sorted(lake.keys() - truth.keys()),
        status_mismatches=sorted(
            (order_id, truth[order_id], lake[order_id])
            for order_id in truth.keys() & lake.keys()
            if truth[order_id] != lake[order_id]
        ),
    )


def lake_order_statuses(statements: Statements) -> dict[str, str | None]:
    """``{order id: status}`` of ``orders_current``."""
    result = statements.run("orders_current_status", table=ORDERS_CURRENT_TABLE)
    return {str(order_id): status for order_id, status in result.rows}


def reconcile_orders(statements: Statements, dynamodb: Any, orders_table: str) -> ReconciliationReport:
    """Compare ``orders_current`` with a scan of the DynamoDB table (ids and statuses)."""
    # Scan first: anything written before the scan must already be in the lake once drained.
    truth = {order_id: item.get("status") for order_id, item in scan_orders(dynamodb, orders_table).items()}
    return compare_orders(truth, lake_order_statuses(statements))


# ------------------------------------------------------------------------------ sales_daily


SalesKey = tuple[str, str, str]  # order_date, category, product_id


def order_date_of(item: Mapping[str, Any]) -> str:
    """The UTC order date of a DynamoDB item (``createdAt`` read the way the Lambda reads it)."""
    return iso_timestamp(str(item["createdAt"]))[:10]


def expected_sales_daily(items: Iterable[Mapping[str, Any]]) -> dict[SalesKey, dict[str, Any]]:
    """``sales_daily`` computed from DynamoDB items: per order date, category and product."""
    expected: dict[SalesKey, dict[str, Any]] = {}
    for item in items:
        key = (order_date_of(item), str(item["category"]), str(item["productId"]))
        figures = expected.setdefault(
            key,
            {
                "orders": 0,
                "units": 0,
                "revenue": Decimal("0.00"),
                "cancelled_orders": 0,
                "returned_orders": 0,
            },
        )
        status = item.get("status")
        if status in REVENUE_STATUSES:
            figures["orders"] += 1
            figures["units"] += int(item["quantity"])
            figures["revenue"] += int(item["quantity"]) * Decimal(item["unitPrice"])
        elif status == "CANCELLED":
            figures["cancelled_orders"] += 1
        elif status == "RETURNED":
            figures["returned_orders"] += 1
    return expected


def lake_sales_daily(
    statements: Statements, lake: Any, s3: Any, days: Iterable[str]
) -> dict[SalesKey, dict[str, Any]]:
    """The rows of ``sales_daily`` for ``days``, keyed like :func:`expected_sales_daily`."""
    table = DerivedTable(SALES_DAILY_TABLE, ORDER_DATE_COLUMN, lake, statements, s3)
    found: dict[SalesKey, dict[str, Any]] = {}
    for day in days:
        for row in table.rows(day).as_dicts():
            found[(str(row["order_date"]), str(row["category"]), str(row["product_id"]))] = {
                "orders": int(row["orders"]),
                "units": int(row["units"]),
                "revenue": Decimal(row["revenue"]),
                "cancelled_orders": int(row["cancelled_orders"]),
                "returned_orders": int(row["returned_orders"]),
            }
    return found


def compare_sales_daily(
    expected: Mapping[SalesKey, Mapping[str, Any]], found: Mapping[SalesKey, Mapping[str, Any]]
) -> list[str]:
    """Differences between expected and found ``sales_daily`` rows, one line each (empty: equal)."""
    problems = []
    for key in sorted(expected.keys() | found.keys()):
        want, got = expected.get(key), found.get(key)
        if want != got:
            problems.append(f"{'/'.join(key)}: expected {want}, found {got}")
    return problems


def sales_daily_dates(statements: Statements) -> list[str]:
    """The order dates ``sales_daily`` has partitions for (none when the table does not exist yet)."""
    if not table_exists(statements, SALES_DAILY_TABLE):
        return []
    rows = statements.run("show_partitions", table=SALES_DAILY_TABLE).rows
    return sorted(str(row[0]).split("=", 1)[1] for row in rows)


def assert_pipeline_reconciled(
    query_engine: QueryEngineResource,
    lake: LakeResource,
    dynamodb: Any,
    s3: Any,
    *,
    check_sales_daily: bool = True,
) -> ReconciliationReport:
    """Assert that the lake equals DynamoDB's truth: ``orders_current`` (ids and statuses) and
    ``sales_daily`` (every order date of the table and of the lake, every figure).

    For end-to-end tests, once the pipeline has drained and the summaries were refreshed
    (``dynamodb`` and ``s3`` are boto3 clients). Raises AssertionError naming the first mismatching
    ids or rows; returns the orders report when everything is equal.
    """
    statements = Statements(query_engine, lake.glue_database)
    items = scan_orders(dynamodb, lake.orders_table)
    report = compare_orders(
        {oid: item.get("status") for oid, item in items.items()}, lake_order_statuses(statements)
    )
    if not report.ok:
        raise AssertionError(report.describe())
    if check_sales_daily:
        expected = expected_sales_daily(items.values())
        days = sorted({key[0] for key in expected} | set(sales_daily_dates(statements)))
        problems = compare_sales_daily(expected, lake_sales_daily(statements, lake, s3, days))
        if problems:
            raise AssertionError(
                f"sales_daily differs from DynamoDB in {len(problems)} row(s): "
                + "; ".join(problems[:SAMPLE_IDS])
            )
    return report
