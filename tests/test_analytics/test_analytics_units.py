"""Unit tests of the analytics helpers that need no emulator: partitions, reconciliation rules, chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from infra.lake import InvalidIdentifierError
from sales_cdc.analytics.daily_chart import HourFigures, ProductFigures, render_daily_chart
from sales_cdc.analytics.daily_partitions import DEFAULT_PARTITIONS_START, partitions_start
from sales_cdc.analytics.derived_tables import delete_prefix, markdown_table
from sales_cdc.analytics.orders_current import MergePlan, new_raw_partitions
from sales_cdc.analytics.reconciliation import (
    compare_sales_daily,
    expected_sales_daily,
)
from sales_cdc.resources.aws import LakeResource
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


class ListingS3:
    """Just enough of an S3 client for infra.lake.list_objects: one page of fixed objects."""

    def __init__(self, objects: list[tuple[str, datetime]]) -> None:
        self.objects = objects

    def get_paginator(self, name: str) -> ListingS3:
        return self

    def paginate(self, **kwargs: object) -> list[dict]:
        return [{"Contents": [{"Key": key, "LastModified": when, "Size": 1} for key, when in self.objects]}]


def test_new_raw_partitions_reads_what_changed_and_holds_back_unregistered_ones() -> None:
    lake = LakeResource(
        bucket="b",
        raw_prefix="raw/orders_cdc/",
        error_prefix="errors/",
        derived_prefix="derived/",
        glue_database="d",
        raw_table="t",
        orders_table="o",
        object_created_queue_url="q",
        crawler_name="c",
        workgroup="w",
    )
    t0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    s3 = ListingS3(
        [
            ("raw/orders_cdc/dt=2026-11-01/hour=03/old.gz", t0 - timedelta(hours=5)),
            ("raw/orders_cdc/dt=2026-11-01/hour=04/backlog.gz", t0 + timedelta(minutes=1)),
            ("raw/orders_cdc/dt=2026-12-01/hour=11/new.gz", t0 + timedelta(minutes=2)),
            ("raw/orders_cdc/dt=2026-12-01/hour=12/unregistered.gz", t0 + timedelta(minutes=3)),
            ("raw/orders_cdc/dt=2026-12-01/hour=12/_temporary.gz", t0 + timedelta(minutes=9)),
            ("raw/orders_cdc/not-a-partition.gz", t0 + timedelta(minutes=9)),
        ]
    )
    registered = {"2026-11-01/03", "2026-11-01/04", "2026-12-01/11"}
    asked: list[list[str]] = []

    def registered_of(days: list[str]) -> set[str]:
        asked.append(days)
        return {hour for hour in registered if hour.split("/")[0] in days}

    window = new_raw_partitions(s3, lake, registered_of, since=t0, margin=timedelta(minutes=1))
    # An old event-time partition with a new object (a backlog) is read; an untouched one is not.
    assert window.hours == ["2026-11-01/04", "2026-12-01/11"]
    assert window.unregistered == ["2026-12-01/12"]
    # The watermark stays at the unregistered object, so the next refresh reads it.
    assert window.watermark == t0 + timedelta(minutes=3)
    assert asked == [["2026-11-01", "2026-12-01"]]  # only the days with new objects are looked up
    registered.add("2026-12-01/12")
    everything = new_raw_partitions(s3, lake, registered_of, since=None)
    assert everything.hours == ["2026-11-01/03", "2026-11-01/04", "2026-12-01/11", "2026-12-01/12"]


def test_merge_plan_counts_kinds_and_lists_changed_dates() -> None:
    rows = [("insert", "2026-11-02", 3), ("delete", "2026-11-01", 1), ("tombstone", "2026-11-01", 1)]
    plan = MergePlan.from_result(
        QueryResult(["merge_kind", "order_date", "changes"], rows, 0, 0.0, "q", "DML")
    )
    assert plan.total("insert") == 3 and plan.total("update") == 0
    assert plan.dates("insert", "update", "delete") == ["2026-11-01", "2026-11-02"]


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
