"""The application's own SQL files (``sales_cdc/sql``), rendered and run on the local engine.

The same text runs on Athena; this proves the local engine runs it and gives the answers the files
promise on data with duplicate deliveries, out-of-order changes and deletions.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from sales_cdc.analytics.queries import render
from test_local_aws.test_athena.lake import RAW_TABLE, Lake, cdc_row, redelivery

DAY1, DAY2 = "2026-11-20", "2026-11-21"


@pytest.fixture
def raw(lake: Lake) -> Lake:
    t = "2026-11-20 10:{:02d}:00.000"
    o1_paid = cdc_row(
        "o1",
        10,
        "MODIFY",
        event_time=t.format(2),
        quantity=3,
        unit_price="19.99",
        status="PAID",
        created_at=t.format(1),
        arrival_time="2026-11-20 10:02:01.000",
    )
    lake.put_rows(
        [
            cdc_row("o1", 9, event_time=t.format(1), quantity=2, unit_price="19.99"),
            o1_paid,
            cdc_row(
                "o2",
                1,
                event_time=t.format(3),
                quantity=1,
                unit_price="0.10",
                product_id="p2",
                category="toys",
            ),
            cdc_row("o3", 1, event_time=t.format(4), quantity=5, unit_price="3.00"),
        ],
        DAY1,
        "10",
    )
    lake.put_rows(
        [
            # A duplicate delivery of o1's MODIFY, late (arrived in the next hour), and o3 deleted.
            redelivery(o1_paid, "2026-11-20 11:00:05.000"),
            cdc_row(
                "o3",
                2,
                "REMOVE",
                event_time="2026-11-20 11:00:00.000",
                quantity=5,
                unit_price="3.00",
                created_at=t.format(4),
            ),
        ],
        DAY1,
        "11",
    )
    lake.put_rows(
        [
            cdc_row(
                "o4",
                1,
                event_time="2026-11-21 00:30:00.000",
                quantity=1,
                unit_price="7.00",
                status="CANCELLED",
            )
        ],
        DAY2,
        "00",
    )
    lake.register_many([(DAY1, "10"), (DAY1, "11"), (DAY2, "00")])
    return lake


def run(athena, lake: Lake, name: str, **values):
    return athena.execute(str(render(name, database=lake.database, **values)), lake.database)


def build_orders_current(athena, lake: Lake):
    """Create the Iceberg tables, stage the state of every order and replace every order date with it."""
    for table in ("orders_current", "orders_removed"):
        run(athena, lake, f"{table}_create", table=table, location=f"s3://{lake.bucket}/derived/{table}/")
    every_row = render("raw_rows", database=lake.database, raw_table=RAW_TABLE)
    staged = run(
        athena,
        lake,
        "orders_current_rebuild",
        table="stage_all",
        location=f"s3://{lake.bucket}/derived/_staging/all/",
        query=render("orders_latest_changes", query=every_row),
    )
    plan = run(athena, lake, "orders_current_plan", source_table="stage_all")
    run(
        athena,
        lake,
        "orders_current_replace",
        table="orders_current",
        source_table="stage_all",
        days=[DAY1, DAY2],
    )
    run(athena, lake, "orders_removed_replace", table="orders_removed", source_table="stage_all")
    return staged, plan


def test_orders_current_and_sales_files_run_end_to_end(raw, athena) -> None:
    lake = raw
    staged, plan = build_orders_current(athena, lake)
    assert staged.rows == [(4,)]  # o1, o2, o4 and the tombstone of o3
    assert sorted(plan.rows) == [("insert", DAY1, 2), ("insert", DAY2, 1), ("tombstone", DAY1, 1)]

    status = run(athena, lake, "orders_current_status", table="orders_current")
    assert sorted(status.rows) == [("o1", "PAID"), ("o2", "PLACED"), ("o4", "CANCELLED")]
    assert run(athena, lake, "check_order_id_unique", table="orders_current", limit=10).rows == []
    assert run(athena, lake, "check_order_values", table="orders_current", limit=10).rows == []

    run(
        athena,
        lake,
        "sales_daily_create",
        table="sales_daily",
        location=f"s3://{lake.bucket}/derived/sales_daily/",
    )
    for _ in range(2):  # replacing a day twice leaves one copy
        fresh = render(
            "sales_daily", database=lake.database, source_table="orders_current", days=[DAY1, DAY2]
        )
        run(athena, lake, "sales_daily_replace", table="sales_daily", query=fresh, days=[DAY1, DAY2])

    rows = run(athena, lake, "partition_rows", table="sales_daily", partition_column="order_date", day=DAY1)
    by_product = {row[1]: row for row in rows.rows}
    assert by_product["p1"][3:6] == (1, 3, Decimal("59.97"))
    assert by_product["p2"][3:6] == (1, 1, Decimal("0.10"))
    assert len(rows.rows) == 2
    cancelled = run(
        athena, lake, "partition_rows", table="sales_daily", partition_column="order_date", day=DAY2
    )
    assert [row[3:8] for row in cancelled.rows] == [(0, 0, Decimal("0.00"), 1, 0)]
    assert rows.extra["partitions_read"] == 1
    assert run(athena, lake, "show_tables", table_pattern="sales_daily").rows == [("sales_daily",)]


def test_an_incremental_merge_applies_only_newer_changes(raw, athena) -> None:
    lake = raw
    build_orders_current(athena, lake)
    late = [
        # o1 shipped (newer), an old copy of o1's first change (older: ignored), o3 inserted again
        # after its deletion (a re-insert, newer than the tombstone), o2 moved to the next day.
        cdc_row(
            "o1",
            11,
            "MODIFY",
            event_time="2026-11-21 09:00:00.000",
            quantity=3,
            unit_price="19.99",
            status="SHIPPED",
            created_at="2026-11-20 10:01:00.000",
        ),
        cdc_row("o1", 9, event_time="2026-11-20 10:01:00.000", quantity=2, unit_price="19.99"),
        cdc_row("o3", 3, event_time="2026-11-21 09:05:00.000", quantity=1, unit_price="4.00"),
        cdc_row(
            "o2",
            2,
            "MODIFY",
            event_time="2026-11-21 09:10:00.000",
            quantity=1,
            unit_price="0.10",
            product_id="p2",
            category="toys",
            created_at="2026-11-21 00:05:00.000",
        ),
    ]
    lake.put_rows(late, DAY2, "09")
    lake.register_many([(DAY2, "09")])
    new_rows = render(
        "raw_rows_of_hours", database=lake.database, raw_table=RAW_TABLE, days=[DAY2], hours=[f"{DAY2}/09"]
    )
    staged = run(
        athena,
        lake,
        "orders_current_changes",
        table="stage_new",
        location=f"s3://{lake.bucket}/derived/_staging/new/",
        query=render("orders_latest_changes", query=new_rows),
    )
    # The raw partition with the new object, and the two order dates of orders_current (by order_id).
    assert staged.extra["partitions_read"] == 3
    plan = sorted(run(athena, lake, "orders_current_plan", source_table="stage_new").rows)
    assert plan == [("delete", DAY1, 1), ("insert", DAY2, 2), ("update", DAY1, 1)]
    for _ in range(2):  # the second merge changes nothing
        run(
            athena,
            lake,
            "orders_current_merge",
            table="orders_current",
            source_table="stage_new",
            days=[DAY1, DAY2],
        )
    result = run(athena, lake, "orders_current_state", table="orders_current")
    rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    state = {row["order_id"]: row for row in rows}
    assert len(rows) == 4 and state["o1"]["status"] == "SHIPPED" and state["o3"]["quantity"] == 1
    dates = run(athena, lake, "table_order_dates", table="orders_current").rows
    assert dates == [(DAY1,), (DAY2,)]
    o2 = run(
        athena, lake, "preview", table="orders_current", partition_column="order_date", day=DAY2, limit=10
    )
    assert "o2" in {row[0] for row in o2.rows}


def test_cdc_event_stats_file_counts_events_duplicates_and_late_arrivals(raw, athena) -> None:
    result = run(
        athena,
        raw,
        "cdc_event_stats",
        raw_table=RAW_TABLE,
        day=DAY1,
        late_seconds=60,
        error_records=2,
        quarantined_objects=1,
    )
    stats = dict(zip(result.columns, result.rows[0], strict=True))
    assert (stats["events"], stats["inserts"], stats["modifies"], stats["removes"]) == (5, 3, 1, 1)
    assert (stats["deliveries"], stats["duplicate_deliveries"]) == (6, 1)
    assert stats["late_events"] == 0  # the first delivery of each change came within 60 s
    assert stats["error_records"] == 2 and stats["dt"] == DAY1
    assert stats["quarantined_objects"] == 1
    assert result.extra["partitions_read"] == 2  # both hours of DAY1, not DAY2
