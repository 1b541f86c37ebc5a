"""Trino semantics the local engine keeps: types from the catalog, functions, exact decimals, naming."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from infra.lake import glue_type_to_arrow
from lambda_transform.schema import COLUMN_TYPES
from local_aws.athena import LocalQueryError, UnsupportedSqlError
from test_local_aws.test_athena.lake import RAW_TABLE, Lake, cdc_row

DAY = "2026-11-20"


@pytest.fixture
def rows_lake(lake: Lake) -> Lake:
    """Five changes of three orders in one registered partition."""
    lake.put_rows(
        [
            cdc_row("o1", 1, event_time="2026-11-20 10:00:00.123", quantity=3, unit_price="0.10"),
            cdc_row(
                "o1",
                2,
                "MODIFY",
                event_time="2026-11-20 10:30:00.000",
                quantity=3,
                unit_price="0.20",
                status="PAID",
            ),
            cdc_row(
                "o2", 1, event_time="2026-11-20 11:15:00.000", quantity=1, unit_price="0.20", category="toys"
            ),
            cdc_row(
                "o3", 1, event_time="2026-11-20 11:45:00.000", quantity=7, unit_price="19.99", category="toys"
            ),
            cdc_row(
                "o3",
                2,
                "MODIFY",
                event_time="2026-11-20 12:00:00.500",
                quantity=7,
                unit_price="19.99",
                status="CANCELLED",
                category="toys",
            ),
        ],
        DAY,
        "10",
    )
    lake.register(DAY, "10")
    return lake


def query(athena, lake: Lake, sql: str) -> list[tuple]:
    return athena.execute(sql, lake.database).rows


def test_columns_are_typed_per_the_glue_table(rows_lake, athena) -> None:
    result = athena.execute(
        f"SELECT event_time, quantity, unit_price, is_deleted, sequence_number, dt, hour, extra_attributes "
        f"FROM {RAW_TABLE} WHERE order_id = 'o1' AND event_name = 'INSERT'",
        rows_lake.database,
    )
    assert result.rows == [
        (datetime(2026, 11, 20, 10, 0, 0, 123000), 3, Decimal("0.10"), False, "1", DAY, "10", None)
    ]
    assert result.statement_type == "DML"


def test_window_functions(rows_lake, athena) -> None:
    rows = query(
        athena,
        rows_lake,
        f"""SELECT order_id, sequence_number,
                   row_number() OVER (PARTITION BY order_id ORDER BY sequence_number DESC) AS rn,
                   count(*) OVER (PARTITION BY order_id) AS changes,
                   lag(status) OVER (PARTITION BY order_id ORDER BY sequence_number) AS previous_status,
                   sum(quantity) OVER (
                       ORDER BY event_time ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                   ) AS running
            FROM {RAW_TABLE} ORDER BY event_time""",
    )
    assert rows == [
        ("o1", "1", 2, 2, None, 3),
        ("o1", "2", 1, 2, "PLACED", 6),
        ("o2", "1", 1, 1, None, 7),
        ("o3", "1", 2, 2, None, 14),
        ("o3", "2", 1, 2, "PLACED", 21),
    ]


def test_date_functions(rows_lake, athena) -> None:
    rows = query(
        athena,
        rows_lake,
        f"""SELECT date_trunc('hour', event_time), date_trunc('day', CAST(event_time AS date)),
                   date_format(event_time, '%Y-%m-%d %H:%i:%s'), CAST(event_time AS varchar),
                   date_add('day', 1, CAST(event_time AS date)), hour(event_time), day_of_week(event_time),
                   date_diff('minute', TIMESTAMP '2026-11-20 09:59:30', event_time),
                   from_iso8601_timestamp('2026-11-20T10:00:00Z') < current_timestamp,
                   current_date >= DATE '2026-11-20',
                   date_format(event_time AT TIME ZONE 'America/New_York', '%H:%i'),
                   date_format(at_timezone(event_time, 'Asia/Tokyo'), '%Y-%m-%d %H:%i')
            FROM {RAW_TABLE} WHERE order_id = 'o1' AND sequence_number = '1'""",
    )
    assert rows == [
        (
            datetime(2026, 11, 20, 10),
            date(2026, 11, 20),  # date_trunc of a date is a date, as in Trino
            "2026-11-20 10:00:00",
            "2026-11-20 10:00:00.123",  # timestamp(3) text keeps milliseconds
            date(2026, 11, 21),
            10,
            5,  # Friday
            0,  # whole minutes only: 30.123 seconds is 0 minutes
            True,
            True,
            "05:00",  # the timestamp is UTC; 10:00 UTC is 05:00 in New York
            "2026-11-20 19:00",
        )
    ]


def test_approx_percentile_and_count_distinct(rows_lake, athena) -> None:
    rows = query(
        athena,
        rows_lake,
        f"""SELECT approx_percentile(quantity, 0.5), count(DISTINCT order_id), count(DISTINCT category),
                   approx_distinct(order_id)
            FROM {RAW_TABLE}""",
    )
    median, orders, categories, approx_orders = rows[0]
    assert median in (3, 7)
    assert (orders, categories, approx_orders) == (3, 2, 3)


def test_decimal_arithmetic_is_exact(rows_lake, athena) -> None:
    rows = query(
        athena,
        rows_lake,
        f"""SELECT sum(unit_price), sum(quantity * unit_price), avg(unit_price), sum(unit_price) / 3,
                   unit_price * 1.5, CAST(0.1 AS DECIMAL(12, 2)) + CAST(0.2 AS DECIMAL(12, 2)),
                   round(avg(unit_price) * 3, 2)
            FROM {RAW_TABLE} WHERE order_id = 'o1' GROUP BY unit_price ORDER BY unit_price""",
    )
    assert rows == [
        (
            Decimal("0.10"),
            Decimal("0.30"),
            Decimal("0.10"),
            Decimal("0.03"),
            Decimal("0.150"),
            Decimal("0.30"),
            Decimal("0.30"),
        ),
        (
            Decimal("0.20"),
            Decimal("0.60"),
            Decimal("0.20"),
            Decimal("0.07"),
            Decimal("0.300"),
            Decimal("0.30"),
            Decimal("0.60"),
        ),
    ]
    total = query(athena, rows_lake, f"SELECT sum(quantity * unit_price), avg(unit_price) FROM {RAW_TABLE}")
    # 0.30 + 0.60 + 0.20 + 139.93 + 139.93 exactly; avg = 40.48 / 5 = 8.096 -> 8.10 (HALF_UP at scale 2)
    assert total == [(Decimal("280.96"), Decimal("8.10"))]


def test_integer_division_truncates_like_trino(athena, lake) -> None:
    rows = query(athena, lake, "SELECT 7 / 2, -7 / 2, 7 / 2.0, CAST(7 AS DOUBLE) / 2, 7 % 3")
    assert rows == [(3, -3, Decimal("3.5"), 3.5, 1)]


def test_lpad_try_cast_and_string_functions(rows_lake, athena) -> None:
    rows = query(
        athena,
        rows_lake,
        f"""SELECT lpad(sequence_number, 5, '0'), try_cast('x' AS integer), try_cast('42' AS integer),
                   upper(category) || '-' || order_id, split_part('a/b/c', '/', 2), length(order_id),
                   coalesce(extra_attributes, 'none'), regexp_like(order_id, '^o[0-9]$')
            FROM {RAW_TABLE} WHERE order_id = 'o2'""",
    )
    assert rows == [("00001", None, 42, "TOYS-o2", "b", 2, "none", True)]


def test_result_columns_are_named_like_athena(rows_lake, athena) -> None:
    result = athena.execute(
        f"SELECT order_id, count(*), max(quantity) AS most, CAST(max(quantity) AS varchar), "
        f"to_iso8601(max(event_time)), CAST(DECIMAL '1.50' AS varchar) "
        f"FROM {RAW_TABLE} GROUP BY 1 ORDER BY 1",
        rows_lake.database,
    )
    assert result.columns == ["order_id", "_col1", "most", "_col3", "_col4", "_col5"]
    assert result.rows[0] == ("o1", 2, 3, "3", "2026-11-20T10:30:00.000", "1.50")


def test_nulls_sort_last_in_both_directions(athena, lake) -> None:
    ascending = query(athena, lake, "SELECT x FROM (VALUES 1, NULL, 2) AS t(x) ORDER BY x")
    descending = query(athena, lake, "SELECT x FROM (VALUES 1, NULL, 2) AS t(x) ORDER BY x DESC")
    assert ascending == [(1,), (2,), (None,)]
    assert descending == [(2,), (1,), (None,)]


def test_path_pseudo_column_names_the_object(rows_lake, athena) -> None:
    key = rows_lake.keys("raw/orders_cdc/")[0]
    rows = query(athena, rows_lake, f'SELECT DISTINCT "$path" FROM {RAW_TABLE}')
    assert rows == [(f"s3://{rows_lake.bucket}/{key}",)]
    star = athena.execute(f'SELECT *, "$path" AS source FROM {RAW_TABLE} LIMIT 1', rows_lake.database)
    assert "$path" not in star.columns and star.columns[-1] == "source"


def test_json_fields_beyond_the_table_and_other_spellings_are_read_like_the_openx_serde(lake, athena) -> None:
    price_type = glue_type_to_arrow(COLUMN_TYPES["unit_price"])
    # One integer digit more than the column's decimal(p,s) holds.
    too_wide = Decimal(10 ** (price_type.precision - price_type.scale)) + Decimal("0.23")
    lake.put_rows(
        [
            {
                "EVENT_ID": "e1",
                "Order_Id": "o1",
                "quantity": "5",
                "unit_price": "1.005",
                "event_time": 1763632800000,
                "is_deleted": "true",
                "unknown_field": {"nested": 1},
            },
            {"event_id": "e2", "order_id": "o2", "unit_price": too_wide},
        ],
        DAY,
        "11",
        gzip_compressed=False,
    )
    lake.register(DAY, "11")
    rows = query(
        athena,
        lake,
        f"SELECT event_id, order_id, quantity, unit_price, event_time, is_deleted FROM {RAW_TABLE}",
    )
    assert rows == [
        ("e1", "o1", 5, Decimal("1.01"), datetime(2025, 11, 20, 10, 0), True),  # HALF_UP to scale 2
        ("e2", "o2", None, None, None, None),  # does not fit the decimal(p,s): NULL, like Hive
    ]


def test_malformed_json_fails_naming_the_object(lake, athena) -> None:
    key = lake.put_rows([cdc_row("o1", 1)], DAY, "12")
    lake.s3.put_object(Bucket=lake.bucket, Key=key.replace(".gz", "-bad"), Body=b'{"event_id": "e1", \n')
    lake.register(DAY, "12")
    with pytest.raises(LocalQueryError, match="not a valid JSON Object.*-bad"):
        athena.execute(f"SELECT count(*) FROM {RAW_TABLE}", lake.database)


def test_a_function_duckdb_lacks_fails_naming_it(athena, lake) -> None:
    with pytest.raises(LocalQueryError, match="(?i)FUNCTION_NOT_FOUND.*no_such_function"):
        athena.execute("SELECT no_such_function(1)", lake.database)


def test_a_division_of_unknown_types_is_refused_not_guessed(athena, lake) -> None:
    with pytest.raises(UnsupportedSqlError, match="division"):
        athena.execute(
            "SELECT x / y FROM (SELECT json_extract_scalar('{}', '$.a') AS x, 2 AS y)", lake.database
        )


def test_unknown_table_fails_like_athena(athena, lake) -> None:
    with pytest.raises(LocalQueryError, match="TABLE_NOT_FOUND.*lake_db.nope"):
        athena.execute("SELECT * FROM nope", lake.database)


def test_sub_millisecond_timestamps_in_a_table_round_like_athenas_timestamp_3(athena, lake: Lake) -> None:
    # Athena reads timestamps as timestamp(3), rounding half up; truncating would make an equality
    # filter on the rounded value miss the row.
    lake.put_rows(
        [
            cdc_row("o1", 1, event_time="2026-11-20 10:00:00.1235"),
            cdc_row("o2", 1, event_time="2026-11-20 10:00:00.1234"),
            cdc_row("o3", 1, event_time="2026-11-20 10:00:00.9996"),
        ],
        DAY,
        "10",
    )
    lake.register(DAY, "10")
    rows = query(athena, lake, f"SELECT order_id, event_time FROM {RAW_TABLE} ORDER BY order_id")
    assert rows == [
        ("o1", datetime(2026, 11, 20, 10, 0, 0, 124000)),
        ("o2", datetime(2026, 11, 20, 10, 0, 0, 123000)),
        ("o3", datetime(2026, 11, 20, 10, 0, 1)),
    ]
    hit = f"SELECT order_id FROM {RAW_TABLE} WHERE event_time = TIMESTAMP '2026-11-20 10:00:00.124'"
    assert query(athena, lake, hit) == [("o1",)]
