"""Unit tests of the analytics helpers that need no emulator: partitions, reconciliation rules, chart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from infra.lake import InvalidIdentifierError
from sales_cdc.analytics.daily_chart import HourFigures, ProductFigures, render_daily_chart
from sales_cdc.analytics.daily_partitions import DEFAULT_PARTITIONS_START, partitions_start
from sales_cdc.analytics.derived_tables import delete_prefix, markdown_table
from sales_cdc.analytics.orders_current import day_fingerprints
from sales_cdc.analytics.reconciliation import (
    compare_sales_daily,
    expected_sales_daily,
)
from sales_cdc.resources.query_engine import QueryResult


def test_partitions_start_defaults_and_validates_the_override() -> None:
    assert partitions_start({}) == DEFAULT_PARTITIONS_START
    assert partitions_start({"SALES_CDC_PARTITIONS_START": "2025-06-01"}) == "2025-06-01"
    for bad in ("2025-6-1", "June 2025", "2025-02-30"):
        with pytest.raises(InvalidIdentifierError, match="SALES_CDC_PARTITIONS_START"):
            partitions_start({"SALES_CDC_PARTITIONS_START": bad})


def item(order_id: str, status: str, created: str = "2026-11-20T23:59:59.999Z", **extra: object) -> dict:
    return {
        "orderId": order_id,
        "status": status,
        "createdAt": created,
        "category": "Phones",
        "productId": "p-1",
        "quantity": 2,
        "unitPrice": Decimal("0.10"),
        **extra,
    }


def test_expected_sales_daily_counts_revenue_statuses_only_and_stays_exact() -> None:
    expected = expected_sales_daily(
        [
            item("a", "PLACED"),
            item("b", "DELIVERED"),
            item("c", "CANCELLED"),
            item("d", "RETURNED"),
            item("e", "PAID", created="2026-11-21T00:00:00.000Z"),
        ]
    )
    day = expected[("2026-11-20", "Phones", "p-1")]
    assert day == {
        "orders": 2,
        "units": 4,
        "revenue": Decimal("0.40"),
        "cancelled_orders": 1,
        "returned_orders": 1,
    }
    assert expected[("2026-11-21", "Phones", "p-1")]["orders"] == 1  # the UTC day of createdAt


def test_compare_sales_daily_reports_missing_and_different_rows() -> None:
    row = {"orders": 1, "units": 1, "revenue": Decimal("1.00"), "cancelled_orders": 0, "returned_orders": 0}
    problems = compare_sales_daily(
        {("2026-11-20", "c", "p"): row, ("2026-11-21", "c", "p"): row},
        {("2026-11-20", "c", "p"): {**row, "revenue": Decimal("1.01")}},
    )
    assert len(problems) == 2 and problems[0].startswith("2026-11-20/c/p")


def test_day_fingerprints_do_not_depend_on_row_order() -> None:
    columns = ["order_date", "product_id", "status", "orders", "order_value"]
    rows = [
        ("2026-11-20", "p-1", "PAID", 1, Decimal("2.50")),
        ("2026-11-20", "p-2", "PAID", 2, Decimal("1.00")),
    ]
    first = day_fingerprints(QueryResult(columns, rows, 0, 0.0, "q1", "DML"))
    second = day_fingerprints(QueryResult(columns, list(reversed(rows)), 0, 0.0, "q2", "DML"))
    changed = day_fingerprints(
        QueryResult(columns, [rows[0], (*rows[1][:4], Decimal("1.01"))], 0, 0.0, "q3", "DML")
    )
    assert first == second and first != changed and list(first) == ["2026-11-20"]


def test_markdown_table_escapes_pipes_and_says_what_it_left_out() -> None:
    text = markdown_table(["a", "b"], [("x|y", Decimal("1.50")), ("z", None), ("w", 3)], limit=2)
    assert "x\\|y" in text and "1.50" in text and "1 more row(s) not shown" in text
    assert "_no rows_" in markdown_table(["a"], [])


def test_delete_prefix_refuses_a_prefix_that_is_not_a_folder() -> None:
    with pytest.raises(ValueError, match="ending in '/'"):
        delete_prefix(object(), "bucket", "derived/sales_daily/order_date=2026-11-2")


def test_daily_chart_is_a_png_with_or_without_sales() -> None:
    png = render_daily_chart(
        "2026-11-20",
        [HourFigures(9, 3, Decimal("120.50")), HourFigures(17, 1, Decimal("20.00"))],
        [ProductFigures("Phone X", "Phones", 3, 4, Decimal("140.50"))],
        revenue=Decimal("140.50"),
        orders=4,
    )
    empty = render_daily_chart("2026-11-21", [], [], revenue=Decimal("0"), orders=0)
    for image in (png, empty):
        assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) < 300_000
