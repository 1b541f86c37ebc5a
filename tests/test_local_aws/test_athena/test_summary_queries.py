"""The application's summaries, run on the local engine over raw CDC data with at-least-once delivery.

The data has what the pipeline really produces: duplicate deliveries of the same change, changes
delivered out of order, sequence numbers of different lengths (up to 40 digits) and deletions.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from test_local_aws.test_athena.lake import RAW_TABLE, Lake, cdc_row, redelivery

DAY1, DAY2 = "2026-11-20", "2026-11-21"
SEQ_39 = "1" + "0" * 38
SEQ_40 = "2" + "0" * 39

ORDERS_CURRENT = f"""
WITH deliveries AS (
    SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY arrival_time, "hour") AS delivery
    FROM {RAW_TABLE}
),
latest AS (
    SELECT *,
        row_number() OVER (
            PARTITION BY order_id ORDER BY lpad(sequence_number, 40, '0') DESC
        ) AS change_number
    FROM deliveries
    WHERE delivery = 1
)
SELECT order_id, status, quantity, unit_price, sequence_number, created_at, category, product_id
FROM latest
WHERE change_number = 1 AND event_name <> 'REMOVE'
ORDER BY order_id
"""


@pytest.fixture
def cdc_lake(lake: Lake) -> Lake:
    """Two days of changes, delivered with duplicates and out of order, all partitions registered."""
    t = "2026-11-20 10:{:02d}:00.000"
    o1_paid = cdc_row(
        "o1",
        10,
        "MODIFY",
        event_time=t.format(2),
        quantity=3,
        unit_price="19.99",
        status="PAID",
        product_id="p1",
        created_at=t.format(1),
    )
    first = [
        # o1: sequence 9 then 10 (a plain text comparison would pick 9); the MODIFY arrives twice.
        cdc_row("o1", 9, event_time=t.format(1), quantity=2, unit_price="19.99", product_id="p1"),
        o1_paid,
        # o2: 39-digit then 40-digit sequence numbers (beyond BIGINT and exact DOUBLE).
        cdc_row(
            "o2",
            SEQ_39,
            event_time=t.format(3),
            quantity=1,
            unit_price="0.10",
            product_id="p2",
            category="toys",
        ),
        # o3: created then deleted.
        cdc_row("o3", 5, event_time=t.format(4), quantity=7, unit_price="3.33", product_id="p3"),
        # o4: its MODIFY (300) is delivered before its INSERT (200).
        cdc_row(
            "o4",
            300,
            "MODIFY",
            event_time=t.format(6),
            quantity=4,
            unit_price="2.50",
            status="SHIPPED",
            product_id="p2",
            category="toys",
            created_at=t.format(5),
        ),
    ]
    second = [
        redelivery(o1_paid, "2026-11-20 10:09:00.000"),
        cdc_row(
            "o2",
            SEQ_40,
            "MODIFY",
            event_time=t.format(7),
            quantity=5,
            unit_price="0.10",
            status="PAID",
            product_id="p2",
            category="toys",
            created_at=t.format(3),
        ),
        cdc_row(
            "o3",
            6,
            "REMOVE",
            event_time=t.format(8),
            quantity=7,
            unit_price="3.33",
            product_id="p3",
            created_at=t.format(4),
        ),
        cdc_row(
            "o4", 200, event_time=t.format(5), quantity=4, unit_price="2.50", product_id="p2", category="toys"
        ),
    ]
    next_day = [
        cdc_row(
            "o5", 1, event_time="2026-11-21 08:30:00.000", quantity=1, unit_price="100.01", product_id="p1"
        ),
        cdc_row(
            "o6",
            1,
            event_time="2026-11-21 09:15:00.000",
            quantity=2,
            unit_price="5.00",
            product_id="p3",
            status="CANCELLED",
        ),
    ]
    lake.put_rows(first, DAY1, "10")
    lake.put_rows(second, DAY1, "10", gzip_compressed=False)
    lake.put_rows(next_day[:1], DAY2, "08")
    lake.put_rows(next_day[1:], DAY2, "09")
    for dt, hour in ((DAY1, "10"), (DAY2, "08"), (DAY2, "09")):
        lake.register(dt, hour)
    return lake


def test_orders_current_takes_the_latest_change_by_padded_sequence_number(cdc_lake, athena) -> None:
    result = athena.execute(ORDERS_CURRENT, cdc_lake.database)

    rows = {row[0]: row for row in result.rows}
    assert sorted(rows) == ["o1", "o2", "o4", "o5", "o6"]  # o3 was deleted
    assert rows["o1"][1:5] == ("PAID", 3, Decimal("19.99"), "10")
    assert rows["o2"][1:5] == ("PAID", 5, Decimal("0.10"), SEQ_40)
    assert rows["o4"][1:5] == ("SHIPPED", 4, Decimal("2.50"), "300")
    assert result.columns[:5] == ["order_id", "status", "quantity", "unit_price", "sequence_number"]


def test_daily_sales_by_product_and_category_are_exact(cdc_lake, athena) -> None:
    sql = f"""
    WITH current AS ({ORDERS_CURRENT})
    SELECT date_format(created_at, '%Y-%m-%d') AS day, category, product_id,
           count(*) AS orders, sum(quantity) AS units, sum(quantity * unit_price) AS revenue
    FROM current
    WHERE status NOT IN ('CANCELLED', 'RETURNED')
    GROUP BY 1, 2, 3
    ORDER BY day, category, product_id
    """
    result = athena.execute(sql, cdc_lake.database)

    assert result.rows == [
        (DAY1, "books", "p1", 1, 3, Decimal("59.97")),
        (DAY1, "toys", "p2", 2, 9, Decimal("10.50")),
        (DAY2, "books", "p1", 1, 1, Decimal("100.01")),
    ]
    assert all(isinstance(row[4], int) for row in result.rows)  # sum(int) is BIGINT, as in Trino


def test_hourly_trend_counts_each_change_once(cdc_lake, athena) -> None:
    sql = f"""
    SELECT date_trunc('hour', event_time) AS hour_start, count(DISTINCT event_id) AS changes,
           count(*) AS deliveries
    FROM {RAW_TABLE}
    GROUP BY 1
    ORDER BY 1
    """
    result = athena.execute(sql, cdc_lake.database)

    assert result.rows == [
        (datetime(2026, 11, 20, 10), 8, 9),
        (datetime(2026, 11, 21, 8), 1, 1),
        (datetime(2026, 11, 21, 9), 1, 1),
    ]


def test_cdc_event_stats_deduplicate_deliveries_by_event_id(cdc_lake, athena) -> None:
    sql = f"""
    WITH events AS (
        SELECT event_id, min(event_name) AS event_name, count(*) AS deliveries
        FROM {RAW_TABLE}
        WHERE dt = '{DAY1}'
        GROUP BY event_id
    )
    SELECT event_name, count(*) AS events, sum(deliveries) AS deliveries,
           sum(deliveries) - count(*) AS duplicate_deliveries
    FROM events
    GROUP BY event_name
    ORDER BY event_name
    """
    result = athena.execute(sql, cdc_lake.database)

    assert result.rows == [("INSERT", 4, 4, 0), ("MODIFY", 3, 4, 1), ("REMOVE", 1, 1, 0)]
    assert result.extra["partitions_read"] == 1  # the dt filter pruned the other day


def test_summaries_are_identical_for_a_clean_delivery(lake, athena) -> None:
    """Exactly-once by construction: duplicates and reordering do not change orders_current."""
    clean = [
        cdc_row("o1", 1, quantity=1, unit_price="1.10"),
        cdc_row("o1", 2, "MODIFY", quantity=2, unit_price="1.10", status="PAID"),
        cdc_row("o2", 1, quantity=1, unit_price="2.20"),
    ]
    lake.put_rows(clean, DAY1, "10")
    lake.register(DAY1, "10")
    once = athena.execute(ORDERS_CURRENT, lake.database).rows
    lake.put_rows(list(reversed(clean)), DAY1, "10")  # everything delivered again, in reverse order
    again = athena.execute(ORDERS_CURRENT, lake.database).rows

    assert once == again
    assert [row[:3] for row in once] == [("o1", "PAID", 2), ("o2", "PLACED", 1)]
