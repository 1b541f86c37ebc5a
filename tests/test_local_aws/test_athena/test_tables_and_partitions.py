"""Catalog semantics: registered partitions only, repair, CTAS/INSERT INTO, DROP, unsupported statements."""

from __future__ import annotations

from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from local_aws.athena import LocalAthena, LocalQueryError, UnsupportedSqlError
from test_local_aws.test_athena.lake import RAW_PREFIX, RAW_TABLE, Lake, cdc_row

DAY1, DAY2 = "2026-11-20", "2026-11-21"


def count(athena: LocalAthena, lake: Lake, table: str = RAW_TABLE) -> int:
    return athena.execute(f"SELECT count(*) FROM {table}", lake.database).scalar()


def test_unregistered_partitions_are_invisible_until_added(lake, athena) -> None:
    lake.put_rows([cdc_row("o1", 1), cdc_row("o2", 1)], DAY1, "10")
    lake.put_rows([cdc_row("o3", 1)], DAY2, "07")
    assert count(athena, lake) == 0

    athena.execute(f"ALTER TABLE {RAW_TABLE} ADD PARTITION (dt = '{DAY1}', hour = '10')", lake.database)
    assert count(athena, lake) == 2

    athena.execute(
        f"ALTER TABLE {lake.database}.{RAW_TABLE} ADD IF NOT EXISTS "
        f"PARTITION (dt = '{DAY1}', hour = '10') "
        f"PARTITION (dt = '{DAY2}', hour = '07') LOCATION 's3://{lake.bucket}/{RAW_PREFIX}dt={DAY2}/hour=07/'",
        lake.database,
    )
    assert count(athena, lake) == 3
    assert lake.partitions(RAW_TABLE) == [(DAY1, "10"), (DAY2, "07")]


def test_msck_repair_registers_the_missing_partitions(lake, athena) -> None:
    lake.put_rows([cdc_row("o1", 1)], DAY1, "10")
    lake.put_rows([cdc_row("o2", 1)], DAY2, "07")
    lake.register(DAY1, "10")
    lake.s3.put_object(Bucket=lake.bucket, Key=f"{RAW_PREFIX}not_a_partition/x.gz", Body=b"")
    assert count(athena, lake) == 1

    result = athena.execute(f"MSCK REPAIR TABLE {RAW_TABLE}", lake.database)

    assert lake.partitions(RAW_TABLE) == [(DAY1, "10"), (DAY2, "07")]
    assert result.rows[-1] == (f"Repair: Added partition to metastore {RAW_TABLE}:dt={DAY2}/hour=07",)
    assert count(athena, lake) == 2
    again = athena.execute(f"MSCK REPAIR TABLE `{RAW_TABLE}`;", lake.database)
    assert again.rows == []  # idempotent


def test_show_and_drop_partitions(lake, athena) -> None:
    for hour in ("09", "10"):
        lake.put_rows([cdc_row(f"o{hour}", 1)], DAY1, hour)
        lake.register(DAY1, hour)
    shown = athena.execute(f"SHOW PARTITIONS {RAW_TABLE}", lake.database)
    assert shown.columns == ["partition"]
    assert shown.rows == [(f"dt={DAY1}/hour=09",), (f"dt={DAY1}/hour=10",)]
    assert shown.statement_type == "UTILITY"

    athena.execute(f"ALTER TABLE {RAW_TABLE} DROP PARTITION (dt = '{DAY1}', hour = '09')", lake.database)
    assert count(athena, lake) == 1
    assert len(lake.keys(f"{RAW_PREFIX}dt={DAY1}/hour=09/")) == 1  # the data stays
    with pytest.raises(LocalQueryError, match="Partition not found"):
        athena.execute(f"ALTER TABLE {RAW_TABLE} DROP PARTITION (dt = '{DAY1}', hour = '09')", lake.database)
    athena.execute(f"ALTER TABLE {RAW_TABLE} DROP IF EXISTS PARTITION (dt = '{DAY1}')", lake.database)
    assert lake.partitions(RAW_TABLE) == []


def test_adding_an_existing_partition_without_if_not_exists_fails(lake, athena) -> None:
    lake.register(DAY1, "10")
    with pytest.raises(LocalQueryError, match="already exists"):
        athena.execute(f"ALTER TABLE {RAW_TABLE} ADD PARTITION (dt = '{DAY1}', hour = '10')", lake.database)


@pytest.fixture
def two_days(lake: Lake) -> Lake:
    lake.put_rows(
        [cdc_row("o1", 1, quantity=2, unit_price="1.25"), cdc_row("o2", 1, unit_price="0.10")], DAY1, "10"
    )
    lake.put_rows([cdc_row("o3", 1, quantity=3, unit_price="2.00", product_id="p2")], DAY2, "11")
    lake.register(DAY1, "10")
    lake.register(DAY2, "11")
    return lake


SALES_BY_DAY = f"""
SELECT product_id, sum(quantity * unit_price) AS revenue, CAST(count(*) AS BIGINT) AS orders, dt
FROM {RAW_TABLE} {{where}}
GROUP BY product_id, dt
"""


def test_ctas_writes_partitioned_parquet_and_registers_table_and_partitions(two_days, athena) -> None:
    lake = two_days
    location = f"s3://{lake.bucket}/derived/sales_daily/"
    result = athena.execute(
        f"CREATE TABLE sales_daily WITH (format = 'PARQUET', external_location = '{location}', "
        f"partitioned_by = ARRAY['dt']) AS {SALES_BY_DAY.format(where='')}",
        lake.database,
    )
    assert result.columns == ["rows"] and result.rows == [(2,)]
    assert result.statement_type == "DDL"
    assert result.bytes_scanned > 0

    table = lake.glue.get_table(DatabaseName=lake.database, Name="sales_daily")["Table"]
    sd = table["StorageDescriptor"]
    assert sd["Location"] == location
    assert (
        sd["SerdeInfo"]["SerializationLibrary"]
        == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    )
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [
        ("product_id", "string"),
        ("revenue", "decimal(38,2)"),
        ("orders", "bigint"),
    ]
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("dt", "string")]
    assert lake.partitions("sales_daily") == [(DAY1,), (DAY2,)]
    keys = lake.keys("derived/sales_daily/")
    assert [k.split("/")[2] for k in keys] == [f"dt={DAY1}", f"dt={DAY2}"]
    assert all(k.endswith(".parquet") for k in keys)
    parquet = pq.read_table(
        f"{lake.bucket}/{keys[0]}", filesystem=athena.fs
    )  # partition columns live in folder names, not in the files
    assert parquet.column_names == ["product_id", "revenue", "orders"]

    rows = athena.execute("SELECT * FROM sales_daily ORDER BY dt", lake.database).rows
    assert rows == [("p1", Decimal("2.60"), 2, DAY1), ("p2", Decimal("6.00"), 1, DAY2)]


def test_insert_into_appends_to_existing_and_new_partitions(two_days, athena) -> None:
    lake = two_days
    first_day = SALES_BY_DAY.format(where=f"WHERE dt = '{DAY1}'")
    second_day = SALES_BY_DAY.format(where=f"WHERE dt = '{DAY2}'")
    athena.execute(
        f"CREATE TABLE sales_daily WITH (format = 'PARQUET', "
        f"external_location = 's3://{lake.bucket}/derived/sd/', "
        f"partitioned_by = ARRAY['dt']) AS {first_day}",
        lake.database,
    )
    assert lake.partitions("sales_daily") == [(DAY1,)]

    inserted = athena.execute(f"INSERT INTO sales_daily {second_day}", lake.database)
    athena.execute(f"INSERT INTO sales_daily (product_id, dt) VALUES ('p9', '{DAY1}')", lake.database)

    assert inserted.rows == [(1,)] and inserted.statement_type == "DML"
    assert lake.partitions("sales_daily") == [(DAY1,), (DAY2,)]
    rows = athena.execute(
        "SELECT product_id, revenue, orders, dt FROM sales_daily ORDER BY dt, product_id", lake.database
    ).rows
    assert rows == [
        ("p1", Decimal("2.60"), 2, DAY1),
        ("p9", None, None, DAY1),
        ("p2", Decimal("6.00"), 1, DAY2),
    ]


def test_ctas_keeps_athena_rules(two_days, athena) -> None:
    lake = two_days
    location = f"s3://{lake.bucket}/derived/t/"
    ctas = f"CREATE TABLE t WITH (format = 'PARQUET', external_location = '{location}'{{extra}}) AS {{query}}"
    with pytest.raises(LocalQueryError, match="HIVE_COLUMN_ORDER_MISMATCH"):
        athena.execute(
            ctas.format(
                extra=", partitioned_by = ARRAY['dt']", query=f"SELECT dt, order_id FROM {RAW_TABLE}"
            ),
            lake.database,
        )
    with pytest.raises(LocalQueryError, match="Column name not specified at position 2"):
        athena.execute(
            ctas.format(extra="", query=f"SELECT order_id, count(*) FROM {RAW_TABLE} GROUP BY 1"),
            lake.database,
        )
    with pytest.raises(UnsupportedSqlError, match="CTAS format = 'ORC'"):
        athena.execute(
            ctas.format(extra=", format = 'ORC'", query="SELECT 1 AS a").replace("format = 'PARQUET', ", ""),
            lake.database,
        )

    athena.execute(ctas.format(extra="", query="SELECT 1 AS a"), lake.database)
    with pytest.raises(LocalQueryError, match="already exists"):
        athena.execute(ctas.format(extra="", query="SELECT 1 AS a"), lake.database)
    athena.execute("DROP TABLE t", lake.database)
    # DROP TABLE keeps the data, like Athena: the location is not empty, so CTAS refuses it.
    assert lake.keys("derived/t/")
    with pytest.raises(LocalQueryError, match="HIVE_PATH_ALREADY_EXISTS"):
        athena.execute(ctas.format(extra="", query="SELECT 1 AS a"), lake.database)


def test_ctas_refuses_more_than_100_partitions(lake, athena) -> None:
    sql = (
        f"CREATE TABLE many WITH (format = 'PARQUET', "
        f"external_location = 's3://{lake.bucket}/derived/many/', partitioned_by = ARRAY['n']) "
        "AS SELECT 1 AS a, CAST(x AS varchar) AS n FROM UNNEST(sequence(1, 101)) AS t(x)"
    )
    with pytest.raises(LocalQueryError, match="HIVE_TOO_MANY_OPEN_PARTITIONS"):
        athena.execute(sql, lake.database)
    assert lake.keys("derived/many/") == []


def test_drop_table_forgets_the_table_but_keeps_its_data(two_days, athena) -> None:
    lake = two_days
    athena.execute(
        f"CREATE TABLE copy WITH (external_location = 's3://{lake.bucket}/derived/copy/') "
        f"AS SELECT order_id FROM {RAW_TABLE}",
        lake.database,
    )
    athena.execute("DROP TABLE copy", lake.database)
    with pytest.raises(LocalQueryError, match="TABLE_NOT_FOUND"):
        athena.execute("SELECT * FROM copy", lake.database)
    assert len(lake.keys("derived/copy/")) == 1
    athena.execute("DROP TABLE IF EXISTS copy", lake.database)
    with pytest.raises(LocalQueryError, match="Table not found"):
        athena.execute("DROP TABLE copy", lake.database)


def test_show_tables_and_describe(two_days, athena) -> None:
    lake = two_days
    tables = athena.execute(f"SHOW TABLES IN {lake.database} 'orders*'", lake.database)
    assert tables.rows == [(RAW_TABLE,)]
    described = athena.execute(f"DESCRIBE {RAW_TABLE}", lake.database)
    assert described.rows[-2:] == [("dt", "string", "partition key"), ("hour", "string", "partition key")]
