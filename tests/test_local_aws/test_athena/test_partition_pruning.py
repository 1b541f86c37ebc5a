"""Partition pruning: a statement reads only the partitions its predicates allow, and reports it."""

from __future__ import annotations

from datetime import date, timedelta

import boto3
import pytest
from botocore.config import Config

from infra.clients import LOCAL_CREDENTIALS
from local_aws.athena import LocalAthena, LocalQueryError
from local_aws.server import reset_emulator
from test_local_aws.test_athena.lake import RAW_TABLE, REGION, Lake, cdc_row

DAYS = [(date(2026, 10, 22) + timedelta(days=n)).isoformat() for n in range(30)]
DAILY_REFRESH = f"""
SELECT dt, product_id, sum(quantity * unit_price) AS revenue
FROM {RAW_TABLE}
WHERE dt = '{{day}}'
GROUP BY dt, product_id
"""


@pytest.fixture(scope="module")
def month(emulator) -> Lake:
    """30 days of one registered hour each, ten changes per day (built once: the tests only read)."""
    reset_emulator(emulator.endpoint)
    lake = Lake(emulator.endpoint).create()
    lake.create_raw_table()
    for day in DAYS:
        rows = [
            cdc_row(f"{day}-o{n}", 1, event_time=f"{day} 10:00:00.000", quantity=n + 1) for n in range(10)
        ]
        lake.put_rows(rows, day, "10")
    lake.register_many([(day, "10") for day in DAYS])
    return lake


@pytest.fixture
def athena(month: Lake, session_athena: LocalAthena) -> LocalAthena:
    """The session engine over the month (no per-test reset: these tests do not write)."""
    return session_athena


def test_refreshing_one_day_reads_a_thirtieth_of_a_full_rebuild(month, athena) -> None:
    full = athena.execute(DAILY_REFRESH.replace("WHERE dt = '{day}'", ""), month.database)
    one_day = athena.execute(DAILY_REFRESH.format(day=DAYS[7]), month.database)

    assert full.extra["objects_read"] == 30
    assert one_day.extra["objects_read"] == 1
    assert one_day.bytes_scanned <= 0.05 * full.bytes_scanned
    assert one_day.bytes_scanned > 0
    assert [row[0] for row in one_day.rows] == [DAYS[7]]


@pytest.mark.parametrize(
    "where, expected_days",
    [
        (f"dt IN ('{DAYS[0]}', '{DAYS[29]}')", 2),
        (f"dt BETWEEN '{DAYS[10]}' AND '{DAYS[14]}'", 5),
        (f"dt >= '{DAYS[25]}' AND quantity > 3", 5),
        (f"(dt = '{DAYS[1]}' OR dt = '{DAYS[2]}') AND hour = '10'", 2),
        (f"CAST(dt AS date) > date_add('day', -3, DATE '{DAYS[29]}')", 3),
        (f"dt = '{DAYS[3]}' OR quantity = 1", 30),  # not a partition-only predicate: no pruning
    ],
)
def test_partition_predicates_select_partitions(month, athena, where, expected_days) -> None:
    result = athena.execute(f"SELECT count(*) FROM {RAW_TABLE} WHERE {where}", month.database)
    assert result.extra["partitions_read"] == expected_days


def test_predicates_reach_the_scan_through_ctes_and_subqueries(month, athena) -> None:
    sql = f"""
    WITH changes AS (SELECT order_id, quantity, dt FROM {RAW_TABLE}),
         per_day AS (SELECT dt, sum(quantity) AS units FROM changes GROUP BY dt)
    SELECT units FROM (SELECT * FROM per_day) AS d WHERE d.dt = '{DAYS[4]}'
    """
    result = athena.execute(sql, month.database)
    assert result.rows == [(55,)]
    assert result.extra["partitions_read"] == 1


def test_a_filter_after_a_window_is_not_pushed_below_it(month, athena) -> None:
    # The latest change per product over all days, then kept if it is on DAYS[4]: pushing the dt filter
    # below the window would rank within that day only and change the answer.
    sql = f"""
    WITH ranked AS (
        SELECT product_id, dt, row_number() OVER (PARTITION BY product_id ORDER BY dt DESC) AS rn
        FROM {RAW_TABLE}
    )
    SELECT count(*) FROM ranked WHERE rn = 1 AND dt = '{DAYS[4]}'
    """
    result = athena.execute(sql, month.database)
    assert result.rows == [(0,)]
    assert result.extra["partitions_read"] == 30


def test_each_use_of_a_cte_gets_the_partitions_it_needs(month, athena) -> None:
    sql = f"""
    WITH changes AS (SELECT dt, quantity FROM {RAW_TABLE})
    SELECT (SELECT sum(quantity) FROM changes WHERE dt = '{DAYS[0]}'),
           (SELECT sum(quantity) FROM changes WHERE dt = '{DAYS[1]}')
    """
    result = athena.execute(sql, month.database)
    assert result.rows == [(55, 55)]
    assert result.extra["partitions_read"] == 2  # the union of what the two uses need


def test_the_outer_side_of_a_left_join_is_not_pruned_by_an_is_null_filter(month, athena) -> None:
    sql = f"""
    SELECT count(*)
    FROM (VALUES '{DAYS[0]}', 'no-such-day') AS wanted(day)
    LEFT JOIN {RAW_TABLE} AS raw ON raw.dt = wanted.day
    WHERE raw.dt IS NULL
    """
    assert athena.execute(sql, month.database).rows == [(1,)]


def test_the_workgroup_scan_cutoff_cancels_a_query(month) -> None:
    one_object = month.s3.list_objects_v2(Bucket=month.bucket, MaxKeys=1)["Contents"][0]["Size"]
    # Athena's minimum cutoff is 10 MB; the emulator takes a smaller one when validation is off.
    athena_api = boto3.client(
        "athena",
        endpoint_url=month.endpoint,
        region_name=REGION,
        config=Config(parameter_validation=False),
        **LOCAL_CREDENTIALS,
    )
    athena_api.create_work_group(Name="capped", Configuration={"BytesScannedCutoffPerQuery": one_object * 3})
    engine = LocalAthena(month.endpoint, workgroup="capped")
    try:
        assert (
            engine.execute(
                f"SELECT count(*) FROM {RAW_TABLE} WHERE dt = '{DAYS[0]}'", month.database
            ).scalar()
            == 10
        )
        with pytest.raises(LocalQueryError, match="Bytes scanned limit was exceeded"):
            engine.execute(f"SELECT count(*) FROM {RAW_TABLE}", month.database)
    finally:
        engine.close()
