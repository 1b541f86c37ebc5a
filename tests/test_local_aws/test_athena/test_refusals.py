"""Statements the engine refuses: unsupported constructs and hostile identifiers, before anything runs.

These tests only read the catalog, so they share one lake (built once for the module).
"""

from __future__ import annotations

import pytest

from infra.lake import InvalidIdentifierError
from local_aws.athena import LocalAthena, UnsupportedSqlError
from test_local_aws.test_athena.lake import RAW_TABLE, Lake


@pytest.fixture
def lake(shared_lake: Lake) -> Lake:
    return shared_lake


@pytest.fixture
def athena(shared_lake: Lake, session_athena: LocalAthena) -> LocalAthena:
    return session_athena


@pytest.mark.parametrize(
    "sql, construct",
    [
        ("UPDATE orders_cdc SET quantity = 1", "UPDATE statement"),
        ("DELETE FROM orders_cdc WHERE quantity = 1", "DELETE statement"),
        ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
        ("CREATE EXTERNAL TABLE x (a string) LOCATION 's3://lake/x/'", "CREATE EXTERNAL TABLE"),
        ("EXPLAIN SELECT 1", "EXPLAIN statement"),
        ("ALTER TABLE orders_cdc ADD COLUMNS (c string)", "ALTER TABLE ... ADD COLUMNS"),
        ("SHOW CREATE TABLE orders_cdc", "SHOW CREATE"),
    ],
)
def test_unsupported_statements_fail_naming_the_construct(lake, athena, sql, construct) -> None:
    with pytest.raises(UnsupportedSqlError) as raised:
        athena.execute(sql, lake.database)
    assert raised.value.construct.startswith(construct)
    assert "not supported by the local Athena engine" in str(raised.value)


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT * FROM "orders; DROP TABLE x"',
        'SELECT * FROM "lake_db"."orders_cdc; DROP TABLE y"',
        "MSCK REPAIR TABLE `orders; DROP TABLE x`",
        "ALTER TABLE orders_cdc ADD PARTITION (dt = '2026-11-20; DROP', hour = '10')",
        "ALTER TABLE orders_cdc ADD PARTITION (dt = '2026-11-20', hour = '10') "
        "LOCATION 's3://lake/x'' OR 1=1'",
        'DROP TABLE "x y"',
    ],
)
def test_hostile_identifiers_are_refused_before_anything_runs(lake, athena, sql) -> None:
    with pytest.raises(InvalidIdentifierError):
        athena.execute(sql, lake.database)
    assert lake.partitions(RAW_TABLE) == []
    assert [t["Name"] for t in lake.glue.get_tables(DatabaseName=lake.database)["TableList"]] == [RAW_TABLE]


def test_hostile_default_database_is_refused(athena) -> None:
    with pytest.raises(InvalidIdentifierError, match="database"):
        athena.execute("SELECT 1", "lake; DROP TABLE x")
