"""The application's own SQL files (``sales_cdc/sql``), rendered and run on the local engine.

The same text runs on Athena; this proves the local engine runs it and gives the answers the files
promise on data with duplicate deliveries, out-of-order changes and deletions.
"""

from __future__ import annotations

from datetime import datetime
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


def stage_orders_current(athena, lake: Lake):
    """Run ``orders_current_stage.sql`` into table ``orders_current`` under ``derived/``."""
    return run(
        athena,
        lake,
        "orders_current_stage",
        table="orders_current",
        location=f"s3://{lake.bucket}/derived/orders_current/",
        raw_table=RAW_TABLE,
    )


def test_orders_current_and_sales_files_run_end_to_end(raw, athena) -> None:
    lake = raw
    staged = stage_orders_current(athena, lake)
    assert staged.rows == [(3,)]  # o1, o2, o4; o3 was deleted

    status = run(athena, lake, "orders_current_status", table="orders_current")
    assert sorted(status.rows) == [("o1", "PAID"), ("o2", "PLACED"), ("o4", "CANCELLED")]
    assert run(athena, lake, "check_order_id_unique", table="orders_current", limit=10).rows == []
    assert run(athena, lake, "check_order_values", table="orders_current", limit=10).rows == []

    daily = render("sales_daily", database=lake.database, source_table="orders_current", day=DAY1)
    run(
        athena,
        lake,
        "create_partitioned_table",
        table="sales_daily",
        location=f"s3://{lake.bucket}/derived/sales_daily/",
        partition_key="order_date",
        query=daily,
    )
    next_day = render("sales_daily", database=lake.database, source_table="orders_current", day=DAY2)
    run(athena, lake, "insert_into", table="sales_daily", query=next_day)

    rows = run(athena, lake, "partition_rows", table="sales_daily", partition_column="order_date", day=DAY1)
    by_product = {row[1]: row for row in rows.rows}
    assert by_product["p1"][3:6] == (1, 3, Decimal("59.97"))
    assert by_product["p2"][3:6] == (1, 1, Decimal("0.10"))
    cancelled = run(
        athena, lake, "partition_rows", table="sales_daily", partition_column="order_date", day=DAY2
    )
    assert [row[3:8] for row in cancelled.rows] == [(0, 0, Decimal("0.00"), 1, 0)]
    assert rows.extra["partitions_read"] == 1

    run(athena, lake, "drop_partition", table="sales_daily", partition_column="order_date", day=DAY2)
    assert lake.partitions("sales_daily") == [(DAY1,)]
    assert run(athena, lake, "show_tables", table_pattern="sales_daily").rows == [("sales_daily",)]


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


def test_orders_current_totals_file(raw, athena) -> None:
    stage_orders_current(athena, raw)
    totals = run(athena, raw, "orders_current_totals", table="orders_current")
    assert totals.rows == [(3, 2, DAY1, DAY2, datetime(2026, 11, 21, 0, 30))]
