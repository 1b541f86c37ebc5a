"""Iceberg tables in the local Athena: CREATE, INSERT, SELECT (pruning, time travel), MERGE, DROP."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from local_aws.athena import LocalAthena
from local_aws.athena.errors import LocalQueryError, UnsupportedSqlError
from test_local_aws.test_athena.lake import BUCKET, DATABASE, Lake

CREATE = f"""
CREATE TABLE IF NOT EXISTS {DATABASE}.orders_current (
  order_id string, customer_id string, quantity int, amount bigint, unit_price decimal(18,2),
  ratio double, paid boolean, created_on date, created_at timestamp, order_date string)
PARTITIONED BY (order_date)
LOCATION 's3://{BUCKET}/derived/orders_current/'
TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet', 'write_compression'='zstd')
"""

ROW_A = (
    "('a', 'c1', 1, 10, DECIMAL '19.99', 0.5, true, DATE '2026-11-01', "
    "TIMESTAMP '2026-11-01 10:00:00.123', '2026-11-01')"
)
ROW_B = (
    "('b', 'c2', 2, 20, DECIMAL '5.00', 1.5, false, DATE '2026-11-02', "
    "TIMESTAMP '2026-11-02 11:00:00.000', '2026-11-02')"
)


def snapshots(athena: LocalAthena, name: str = "orders_current") -> list:
    """The table's snapshots, read by pyiceberg from Glue's metadata_location."""
    return list(athena.iceberg.catalog.load_table((DATABASE, name)).snapshots())


@pytest.fixture
def table(athena: LocalAthena, lake: Lake) -> LocalAthena:
    athena.execute(CREATE, DATABASE)
    return athena


def test_create_registers_an_iceberg_table_and_if_not_exists_is_a_no_op(
    table: LocalAthena, lake: Lake
) -> None:
    raw = table.glue.get_table(DatabaseName=DATABASE, Name="orders_current")["Table"]
    assert raw["Parameters"]["table_type"].upper() == "ICEBERG"
    assert raw["Parameters"]["metadata_location"].startswith(
        f"s3://{BUCKET}/derived/orders_current/metadata/"
    )
    described = table.execute("DESCRIBE orders_current", DATABASE).rows
    assert ("unit_price", "decimal(18,2)", "") in described
    assert table.execute(CREATE, DATABASE).statement_type == "DDL"
    with pytest.raises(LocalQueryError, match="already exists"):
        table.execute(CREATE.replace("IF NOT EXISTS ", ""), DATABASE)
    assert "orders_current" in [r[0] for r in table.execute("SHOW TABLES", DATABASE).rows]
    assert table.execute("SELECT count(*) FROM orders_current", DATABASE).scalar() == 0


def test_create_without_iceberg_table_type_stays_refused(athena: LocalAthena, lake: Lake) -> None:
    with pytest.raises(UnsupportedSqlError, match="CREATE TABLE without AS SELECT"):
        athena.execute(CREATE.replace("'table_type'='ICEBERG', ", ""), DATABASE)


def test_insert_select_round_trip_of_every_type(table: LocalAthena) -> None:
    result = table.execute(f"INSERT INTO orders_current VALUES {ROW_A}, {ROW_B}", DATABASE)
    assert result.rows == [(2,)]
    rows = table.execute("SELECT * FROM orders_current ORDER BY order_id", DATABASE).rows
    first = rows[0]
    assert first[:7] == ("a", "c1", 1, 10, Decimal("19.99"), 0.5, True)
    assert str(first[7]) == "2026-11-01"
    assert str(first[8]) == "2026-11-01 10:00:00.123000"
    assert first[9] == "2026-11-01"
    types = table.execute(
        "SELECT typeof(unit_price), typeof(created_at), typeof(amount) FROM orders_current LIMIT 1", DATABASE
    ).rows
    assert types == [("decimal(18,2)", "timestamp(3)", "bigint")]
    assert len(snapshots(table)) == 1


def test_partition_pruning_reads_only_the_partition_files(table: LocalAthena) -> None:
    table.execute(f"INSERT INTO orders_current VALUES {ROW_A}", DATABASE)
    table.execute(f"INSERT INTO orders_current VALUES {ROW_B}", DATABASE)
    everything = table.execute("SELECT count(*) FROM orders_current", DATABASE)
    one = table.execute("SELECT count(*) FROM orders_current WHERE order_date = '2026-11-02'", DATABASE)
    assert everything.scalar() == 2 and one.scalar() == 1
    assert everything.extra["objects_read"] == 2 and one.extra["objects_read"] == 1
    assert one.extra["partitions_read"] == 1
    assert 0 < one.bytes_scanned < everything.bytes_scanned


def test_only_the_columns_read_are_billed_as_athena_bills_parquet(table: LocalAthena) -> None:
    table.execute(f"INSERT INTO orders_current VALUES {ROW_A}, {ROW_B}", DATABASE)
    every_column = table.execute("SELECT * FROM orders_current", DATABASE)
    two_columns = table.execute("SELECT order_id, quantity FROM orders_current", DATABASE)
    one_column = table.execute("SELECT max(order_id) FROM orders_current", DATABASE)
    assert 0 < one_column.bytes_scanned < two_columns.bytes_scanned < every_column.bytes_scanned
    assert two_columns.rows and one_column.scalar() == "b"


def test_time_travel_by_version_and_timestamp(table: LocalAthena) -> None:
    table.execute(f"INSERT INTO orders_current VALUES {ROW_A}", DATABASE)
    first = snapshots(table)[0]
    table.execute(f"INSERT INTO orders_current VALUES {ROW_B}", DATABASE)
    by_version = table.execute(
        f"SELECT order_id FROM orders_current FOR VERSION AS OF {first.snapshot_id}", DATABASE
    )
    assert by_version.rows == [("a",)]
    moment = datetime.fromtimestamp(first.timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    by_time = table.execute(
        f"SELECT order_id FROM orders_current FOR TIMESTAMP AS OF TIMESTAMP '{moment} UTC'", DATABASE
    )
    assert by_time.rows == [("a",)]
    now = table.execute("SELECT count(*) FROM orders_current FOR TIMESTAMP AS OF current_timestamp", DATABASE)
    assert now.scalar() == 2
    with pytest.raises(LocalQueryError, match="Iceberg snapshot ID does not exist: 42"):
        table.execute("SELECT * FROM orders_current FOR VERSION AS OF 42", DATABASE)
    with pytest.raises(LocalQueryError, match="No version history table"):
        table.execute(
            "SELECT * FROM orders_current FOR TIMESTAMP AS OF TIMESTAMP '2000-01-01 00:00:00 UTC'", DATABASE
        )


def test_time_travel_on_a_hive_table_is_refused_by_name(athena: LocalAthena, lake: Lake) -> None:
    with pytest.raises(UnsupportedSqlError, match="orders_cdc"):
        athena.execute("SELECT * FROM orders_cdc FOR VERSION AS OF 1", DATABASE)


def test_drop_removes_the_entry_and_the_files(table: LocalAthena, lake: Lake) -> None:
    table.execute(f"INSERT INTO orders_current VALUES {ROW_A}", DATABASE)
    assert table.s3.list_objects_v2(Bucket=BUCKET, Prefix="derived/orders_current/")["KeyCount"] > 0
    table.execute("DROP TABLE orders_current", DATABASE)
    assert table.s3.list_objects_v2(Bucket=BUCKET, Prefix="derived/orders_current/")["KeyCount"] == 0
    with pytest.raises(LocalQueryError, match="TABLE_NOT_FOUND"):
        table.execute("SELECT * FROM orders_current", DATABASE)
    table.execute("DROP TABLE IF EXISTS orders_current", DATABASE)


def test_show_partitions_and_hive_maintenance_are_refused(table: LocalAthena) -> None:
    with pytest.raises(UnsupportedSqlError, match="SHOW PARTITIONS of the Iceberg table"):
        table.execute("SHOW PARTITIONS orders_current", DATABASE)
    with pytest.raises(UnsupportedSqlError, match="NOT_SUPPORTED: VACUUM on the Hive table"):
        table.execute("VACUUM orders_cdc", DATABASE)
    with pytest.raises(UnsupportedSqlError, match="OPTIMIZE on the Hive table"):
        table.execute("OPTIMIZE orders_cdc REWRITE DATA USING BIN_PACK", DATABASE)


def test_metadata_tables_and_maintenance_are_wired(table: LocalAthena) -> None:
    table.execute(f"INSERT INTO orders_current VALUES {ROW_A}", DATABASE)
    table.execute(f"INSERT INTO orders_current VALUES {ROW_B}", DATABASE)
    ids = {s.snapshot_id for s in snapshots(table)}
    listed = table.execute(f'SELECT snapshot_id FROM "{DATABASE}"."orders_current$snapshots"', DATABASE).rows
    assert {r[0] for r in listed} == ids
    history = table.execute('SELECT snapshot_id FROM "orders_current$history"', DATABASE).rows
    assert {r[0] for r in history} == ids
    table.execute(
        "OPTIMIZE orders_current REWRITE DATA USING BIN_PACK WHERE order_date = '2026-11-01'", DATABASE
    )
    table.execute("VACUUM orders_current", DATABASE)
    assert table.execute("SELECT count(*) FROM orders_current", DATABASE).scalar() == 2
