"""Reconciliation of the lake with its source of truth, the DynamoDB ``orders`` table.

Used by the ``reconciles_with_dynamodb`` asset check and by end-to-end tests:

- :func:`reconcile_orders` compares every business column of ``orders_current`` (the columns of
  :data:`lambda_transform.schema.CDC_COLUMNS` with a DynamoDB source) with a consistent scan of the
  table, order by order, and names each diverged order with its differing columns: missing from the
  lake, extra in the lake (deleted in DynamoDB), or with other values. Both sides are normalised the
  way the Lambda writes a CDC row (:func:`normalise`): numbers exact, timestamps as UTC text to the
  millisecond. An order whose newest change went to the Firehose error prefix (newer than the change
  its row reflects) is diverged too, with the reason read from the error record
  (:mod:`sales_cdc.analytics.failed_changes`). Once the pipeline has drained, nothing diverges.
- :func:`expected_sales_daily` computes ``sales_daily`` from the table's items with the documented
  rules, independently of the SQL, and :func:`compare_sales_daily` diffs it with the lake's table.
- :func:`assert_pipeline_reconciled` does both and raises AssertionError with the details.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from lambda_transform.schema import CDC_COLUMNS
from lambda_transform.timestamps import iso_timestamp
from sales_cdc.analytics.derived_tables import DerivedTable, Statements, table_exists
from sales_cdc.analytics.failed_changes import FailedChange, FailedChanges, read_failed_changes
from sales_cdc.analytics.orders_current import ORDER_DATE_COLUMN, ORDERS_CURRENT_TABLE
from sales_cdc.analytics.sales import SALES_DAILY_TABLE
from sales_cdc.resources.aws import LakeResource
from sales_cdc.resources.query_engine import QueryEngineResource

# Statuses whose orders count as revenue (the rule sales_daily.sql applies).
REVENUE_STATUSES = frozenset({"PLACED", "PAID", "SHIPPED", "DELIVERED"})
SAMPLE_IDS = 20
# (column, Glue type, DynamoDB attribute) of every business column: what reconciliation compares.
BUSINESS_COLUMNS: tuple[tuple[str, str, str], ...] = tuple(
    (name, glue_type, source) for name, glue_type, source in CDC_COLUMNS if source is not None
)
BUSINESS_COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _, _ in BUSINESS_COLUMNS)
# The orders_current column holding the stream sequence number of the change a row reflects.
SEQUENCE_COLUMN = "last_sequence_number"
# What the kinds of divergence mean, as the reports say them.
MISSING, EXTRA, DIFFERS, STALE = "missing", "extra", "differs", "stale"
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


# ------------------------------------------------------------------------------ normalisation


@dataclass(frozen=True)
class Unfit:
    """A DynamoDB value its column cannot hold (the Lambda rejects it): kept as its own text."""

    text: str

    def __str__(self) -> str:
        return self.text


def _timestamp_text(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d}"


def _unfit(value: Any) -> Unfit:
    if isinstance(value, str):
        return Unfit(repr(value))
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return Unfit(str(value))
    return Unfit(f"{type(value).__name__} {value!r:.60}")


def normalise(glue_type: str, value: Any, *, from_lake: bool = False) -> Any:
    """A column value as the CDC row holds it, from either side, so equal means equal in the lake.

    ``None`` (an absent attribute, DynamoDB NULL, SQL NULL) stays None; strings stay strings;
    integers become int and decimals Decimal (compared by exact value: 1.5 equals 1.50); timestamps
    become UTC text ``YYYY-MM-DD HH:MM:SS.fff``: DynamoDB's ISO-8601 text read by the Lambda's own
    :func:`~lambda_transform.timestamps.iso_timestamp`, the engine's datetimes (or, ``from_lake``, its
    text without a zone, which is UTC) formatted the same way. A DynamoDB value its column cannot
    hold (a string quantity, a fractional one, a price that is not a number, a timestamp without a
    time zone) becomes :class:`Unfit`, which equals no lake value.
    """
    if value is None:
        return None
    if glue_type == "string":
        return value if isinstance(value, str) else _unfit(value)
    if glue_type in ("int", "bigint", "smallint", "tinyint"):
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            return _unfit(value)
        if isinstance(value, Decimal) and (not value.is_finite() or value != value.to_integral_value()):
            return _unfit(value)
        return int(value)
    if glue_type.startswith("decimal"):
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            return _unfit(value)
        return Decimal(value)
    if glue_type == "timestamp":
        if isinstance(value, datetime):
            return _timestamp_text(value)
        if isinstance(value, str):
            try:
                if from_lake:  # the engine's text: "YYYY-MM-DD HH:MM:SS[.ffffff]", UTC
                    return _timestamp_text(datetime.fromisoformat(value))
                return iso_timestamp(value)
            except ValueError:
                return _unfit(value)
        return _unfit(value)
    raise ValueError(
        f"reconciliation cannot compare Glue type {glue_type!r}; teach "
        "sales_cdc/analytics/reconciliation.py normalise() about it"
    )


def shown(glue_type: str, value: Any) -> str:
    """A normalised value as a report shows it: null, strings quoted, numbers and timestamps plain."""
    if value is None:
        return "null"
    if isinstance(value, str) and glue_type != "timestamp":
        return repr(value)
    return str(value)


def item_state(item: Mapping[str, Any]) -> dict[str, Any]:
    """The normalised business columns of a DynamoDB item (an absent attribute is None)."""
    return {name: normalise(glue_type, item.get(source)) for name, glue_type, source in BUSINESS_COLUMNS}


def row_state(row: Mapping[str, Any]) -> dict[str, Any]:
    """The normalised business columns of an ``orders_current`` row."""
    return {
        name: normalise(glue_type, row.get(name), from_lake=True) for name, glue_type, _ in BUSINESS_COLUMNS
    }


# ------------------------------------------------------------------------------ the comparison


@dataclass(frozen=True)
class ColumnDifference:
    """One column of an order whose value differs: both sides as the report shows them."""

    column: str
    dynamodb: str
    lake: str


@dataclass(frozen=True)
class DivergedOrder:
    """An order whose row in ``orders_current`` is not its DynamoDB item."""

    order_id: str
    kind: str  # missing | extra | differs | stale
    differences: tuple[ColumnDifference, ...] = ()
    failed_change: FailedChange | None = None  # its newest change, if that went to the error prefix

    def describe(self) -> str:
        """``order X: quantity dynamodb 3, lake 2; ...`` and the failed change's reason."""
        if self.kind == MISSING:
            text = f"order {self.order_id}: missing from orders_current"
        elif self.kind == EXTRA:
            text = f"order {self.order_id}: in orders_current but not in DynamoDB"
        elif self.kind == STALE:
            text = f"order {self.order_id}: every column equal, but its newest change is not in the lake"
        else:
            text = f"order {self.order_id}: " + ", ".join(
                f"{d.column} dynamodb {d.dynamodb}, lake {d.lake}" for d in self.differences
            )
        failed = self.failed_change
        if failed is not None:
            text += (
                f" - its newest change ({failed.event_name}, sequence {failed.sequence_number}) went to the "
                f"error prefix: {failed.reason}"
            )
        return text

    def as_json(self) -> dict[str, Any]:
        """The divergence as JSON-able metadata."""
        return {
            "order_id": self.order_id,
            "kind": self.kind,
            "columns": {d.column: {"dynamodb": d.dynamodb, "lake": d.lake} for d in self.differences},
            "failed_change": self.failed_change.as_json() if self.failed_change else None,
        }


@dataclass
class ReconciliationReport:
    """How ``orders_current`` differs from the DynamoDB table (orders sorted by id, so reports are stable)."""

    dynamodb_orders: int
    lake_orders: int
    diverged: list[DivergedOrder] = field(default_factory=list)
    error_records: int = 0  # Firehose error records read
    unattributed_error_records: int = 0  # error records naming no order (not counted as divergence)

    def ids(self, kind: str) -> list[str]:
        """The ids of the diverged orders of one kind."""
        return [order.order_id for order in self.diverged if order.kind == kind]

    @property
    def missing(self) -> list[str]:
        """In DynamoDB, not in orders_current."""
        return self.ids(MISSING)

    @property
    def extra(self) -> list[str]:
        """In orders_current, not in DynamoDB."""
        return self.ids(EXTRA)

    @property
    def failed(self) -> list[DivergedOrder]:
        """Diverged orders whose newest change went to the error prefix."""
        return [order for order in self.diverged if order.failed_change is not None]

    @property
    def mismatches(self) -> int:
        """Orders that differ in any way."""
        return len(self.diverged)

    @property
    def ok(self) -> bool:
        """True when the lake matches the table."""
        return not self.diverged

    def describe(self, limit: int = SAMPLE_IDS) -> str:
        """One paragraph: the verdict, then the first ``limit`` diverged orders with their columns."""
        if self.ok:
            return (
                f"orders_current matches DynamoDB on every business column: {self.lake_orders} orders, "
                "0 mismatches"
            )
        text = (
            f"orders_current ({self.lake_orders} orders) differs from DynamoDB ({self.dynamodb_orders} "
            f"items) in {self.mismatches} order(s) ({len(self.missing)} missing, {len(self.extra)} extra, "
            f"{len(self.failed)} with their newest change in the error prefix): "
        )
        text += "; ".join(order.describe() for order in self.diverged[:limit])
        if self.mismatches > limit:
            text += f"; and {self.mismatches - limit} more"
        return text


def _newer(failed: FailedChange | None, row: Mapping[str, Any] | None) -> FailedChange | None:
    """The failed change if it is newer than the change a lake row reflects (or there is no row)."""
    if failed is None or row is None:
        return failed
    sequence = row.get(SEQUENCE_COLUMN)
    if isinstance(sequence, str) and sequence.isdigit() and failed.sequence <= int(sequence):
        return None  # an older failure, superseded by the change the row shows
    return failed


def compare_orders(
    items: Mapping[str, Mapping[str, Any]],
    rows: Mapping[str, Mapping[str, Any]],
    failed: FailedChanges | None = None,
) -> ReconciliationReport:
    """Diff DynamoDB ``items`` (attribute names, by order id) with ``orders_current`` ``rows``
    (column names, by order id; ``last_sequence_number`` tells which failed changes are newer).

    Every business column is compared after :func:`normalise`. An order diverges when it is on one
    side only, when a column differs, or when its newest change is a failed one (``failed``: the
    error records) newer than its row; the failed change is attached to the diverged order.
    """
    failures = failed.latest if failed is not None else {}
    diverged = []
    for order_id in sorted(items.keys() | rows.keys()):
        item, row = items.get(order_id), rows.get(order_id)
        failure = _newer(failures.get(order_id), row)
        if row is None:
            diverged.append(DivergedOrder(order_id, MISSING, (), failure))
            continue
        if item is None:
            diverged.append(DivergedOrder(order_id, EXTRA, (), failure))
            continue
        truth, lake = item_state(item), row_state(row)
        differences = tuple(
            ColumnDifference(name, shown(glue_type, truth[name]), shown(glue_type, lake[name]))
            for name, glue_type, _ in BUSINESS_COLUMNS
            if truth[name] != lake[name] or type(truth[name]) is not type(lake[name])
        )
        if differences or failure is not None:
            diverged.append(DivergedOrder(order_id, DIFFERS if differences else STALE, differences, failure))
    return ReconciliationReport(
        dynamodb_orders=len(items),
        lake_orders=len(rows),
        diverged=diverged,
        error_records=failed.records if failed is not None else 0,
        unattributed_error_records=failed.unattributed if failed is not None else 0,
    )


def lake_order_rows(statements: Statements) -> dict[str, dict[str, Any]]:
    """The business columns and sequence number of every row of ``orders_current``, by order id."""
    result = statements.run("orders_current_state", table=ORDERS_CURRENT_TABLE)
    absent = [name for name in (*BUSINESS_COLUMN_NAMES, SEQUENCE_COLUMN) if name not in result.columns]
    if absent:
        raise RuntimeError(
            f"orders_current_state.sql returns no column {', '.join(absent)} (it returns "
            f"{', '.join(result.columns)}); select every business column of lambda_transform/schema.py "
            "in sales_cdc/analytics/sql/orders_current_state.sql"
        )
    return {str(row["order_id"]): row for row in result.as_dicts()}


def reconcile_orders(
    statements: Statements, dynamodb: Any, s3: Any, lake: LakeResource
) -> ReconciliationReport:
    """Compare ``orders_current`` with a scan of the DynamoDB table, every business column, and
    attach the failed changes under the error prefix: one scan, one query, the error objects."""
    # Scan first: anything written before the scan must already be in the lake once drained.
    items = scan_orders(dynamodb, lake.orders_table)
    rows = lake_order_rows(statements)
    return compare_orders(items, rows, read_failed_changes(s3, lake.bucket, lake.error_prefix))


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
    """The order dates ``sales_daily`` holds rows for (none when the table does not exist yet)."""
    if not table_exists(statements, SALES_DAILY_TABLE):
        return []
    return [str(row[0]) for row in statements.run("table_order_dates", table=SALES_DAILY_TABLE).rows]


def assert_pipeline_reconciled(
    query_engine: QueryEngineResource,
    lake: LakeResource,
    dynamodb: Any,
    s3: Any,
    *,
    check_sales_daily: bool = True,
) -> ReconciliationReport:
    """Assert that the lake equals DynamoDB's truth: ``orders_current`` (every business column, no
    failed change) and ``sales_daily`` (every order date of the table and of the lake, every figure).

    For end-to-end tests, once the pipeline has drained and the summaries were refreshed
    (``dynamodb`` and ``s3`` are boto3 clients). Raises AssertionError naming the first mismatching
    ids or rows; returns the orders report when everything is equal.
    """
    statements = Statements(query_engine, lake.glue_database)
    items = scan_orders(dynamodb, lake.orders_table)
    report = compare_orders(
        items, lake_order_rows(statements), read_failed_changes(s3, lake.bucket, lake.error_prefix)
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
