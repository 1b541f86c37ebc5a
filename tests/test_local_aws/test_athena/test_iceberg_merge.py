"""MERGE INTO Iceberg tables in the local Athena: actions, counts, snapshots, Athena's limits, concurrency."""

from __future__ import annotations

import pytest

from local_aws.athena import LocalAthena
from local_aws.athena.errors import LocalQueryError, UnsupportedSqlError
from test_local_aws.test_athena.lake import BUCKET, DATABASE, REGION, Lake

CREATE = f"""
CREATE TABLE {DATABASE}.current (order_id string, customer_id string, order_date string)
PARTITIONED BY (order_date) LOCATION 's3://{BUCKET}/derived/current/'
TBLPROPERTIES ('table_type'='ICEBERG')
"""
UPSERT = f"""
MERGE INTO {DATABASE}.current AS t USING ({{source}}) AS s
ON t.order_id = s.order_id AND t.order_date = s.order_date
WHEN MATCHED AND s.merge_action = 'delete' THEN DELETE
WHEN MATCHED THEN UPDATE SET customer_id = s.customer_id
WHEN NOT MATCHED AND s.merge_action = 'upsert' THEN INSERT (order_id, customer_id, order_date)
  VALUES (s.order_id, s.customer_id, s.order_date)
"""


def source(*rows: tuple[str, str, str, str]) -> str:
    """A VALUES source of (order_id, customer_id, order_date, merge_action) rows."""
    values = ", ".join("(" + ", ".join(f"'{v}'" for v in row) + ")" for row in rows)
    return f"SELECT * FROM (VALUES {values}) AS v(order_id, customer_id, order_date, merge_action)"


def rows(athena: LocalAthena) -> list[tuple]:
    return athena.execute("SELECT * FROM current ORDER BY order_id, order_date", DATABASE).rows


def snapshot_count(athena: LocalAthena) -> int:
    return len(athena.iceberg.catalog.load_table((DATABASE, "current")).snapshots())


@pytest.fixture
def table(athena: LocalAthena, lake: Lake) -> LocalAthena:
    athena.execute(CREATE, DATABASE)
    athena.execute(
        "INSERT INTO current VALUES ('a', 'c1', '2026-11-01'), ('b', 'c2', '2026-11-01'), "
        "('c', 'c3', '2026-11-02')",
        DATABASE,
    )
    return athena


def test_update_delete_insert_in_one_snapshot_with_counts(table: LocalAthena) -> None:
    before = snapshot_count(table)
    result = table.execute(
        UPSERT.format(
            source=source(
                ("a", "c9", "2026-11-01", "upsert"),
                ("b", "", "2026-11-01", "delete"),
                ("d", "c4", "2026-11-03", "upsert"),
            )
        ),
        DATABASE,
    )
    assert result.rows == [(3,)] and result.statement_type == "DML"
    assert {k: result.extra[k] for k in ("inserted", "updated", "deleted")} == {
        "inserted": 1,
        "updated": 1,
        "deleted": 1,
    }
    assert rows(table) == [("a", "c9", "2026-11-01"), ("c", "c3", "2026-11-02"), ("d", "c4", "2026-11-03")]
    assert snapshot_count(table) == before + 1
    assert (
        result.extra["snapshot_id"]
        == table.iceberg.catalog.load_table((DATABASE, "current")).current_snapshot().snapshot_id
    )
    # Only the partitions the ON clause can match were read: 2026-11-02 was not loaded.
    assert result.extra["objects_read"] == 1


def test_a_row_moves_partition_in_one_statement(table: LocalAthena) -> None:
    before = snapshot_count(table)
    table.execute(
        UPSERT.format(source=source(("c", "", "2026-11-02", "delete"), ("c", "c3", "2026-11-05", "upsert"))),
        DATABASE,
    )
    assert ("c", "c3", "2026-11-05") in rows(table) and ("c", "c3", "2026-11-02") not in rows(table)
    assert snapshot_count(table) == before + 1


def test_whole_day_replace(table: LocalAthena) -> None:
    sql = f"""
    MERGE INTO {DATABASE}.current AS t USING (
      SELECT order_id, customer_id, order_date, false AS is_delete
      FROM (VALUES ('x', 'cx', '2026-11-01')) AS v(order_id, customer_id, order_date)
      UNION ALL SELECT NULL, NULL, '2026-11-01', true) AS s
    ON s.is_delete AND t.order_date = s.order_date
    WHEN MATCHED THEN DELETE
    WHEN NOT MATCHED AND NOT s.is_delete THEN INSERT (order_id, customer_id, order_date)
      VALUES (s.order_id, s.customer_id, s.order_date)
    """
    result = table.execute(sql, DATABASE)
    assert result.rows == [(3,)]
    assert rows(table) == [("c", "c3", "2026-11-02"), ("x", "cx", "2026-11-01")]


def test_no_snapshot_when_nothing_changes(table: LocalAthena) -> None:
    before = snapshot_count(table)
    result = table.execute(UPSERT.format(source=source(("zz", "c", "2026-11-01", "delete"))), DATABASE)
    assert result.rows == [(0,)] and result.extra["snapshot_id"] is None
    assert snapshot_count(table) == before


def test_a_target_row_matched_twice_fails(table: LocalAthena) -> None:
    with pytest.raises(LocalQueryError, match="MERGE_TARGET_ROW_MULTIPLE_MATCHES"):
        table.execute(
            UPSERT.format(
                source=source(("a", "c7", "2026-11-01", "upsert"), ("a", "c8", "2026-11-01", "upsert"))
            ),
            DATABASE,
        )
    assert ("a", "c1", "2026-11-01") in rows(table)


def test_more_than_100_partitions_fail(table: LocalAthena) -> None:
    many = [(f"o{i}", "c", f"2027-01-{i:03d}", "upsert") for i in range(101)]
    before = snapshot_count(table)
    with pytest.raises(LocalQueryError, match="HIVE_TOO_MANY_OPEN_PARTITIONS"):
        table.execute(UPSERT.format(source=source(*many)), DATABASE)
    with pytest.raises(LocalQueryError, match="HIVE_TOO_MANY_OPEN_PARTITIONS"):
        table.execute(
            "INSERT INTO current "
            + source(*many).replace("SELECT *", "SELECT order_id, customer_id, order_date"),
            DATABASE,
        )
    assert snapshot_count(table) == before


def test_merge_into_a_hive_table_is_refused(athena: LocalAthena, lake: Lake) -> None:
    with pytest.raises(UnsupportedSqlError, match="Hive table"):
        athena.execute(
            UPSERT.format(source=source(("a", "c", "d", "upsert"))).replace("current", "orders_cdc", 1),
            DATABASE,
        )


def test_a_merge_that_loses_the_commit_race_reruns_on_the_new_snapshot(
    table: LocalAthena, lake: Lake
) -> None:
    other = LocalAthena(lake.endpoint, REGION)
    try:

        def other_commits_first(qualified: str) -> None:
            table.iceberg.before_commit = None  # only the first attempt loses
            other.execute(UPSERT.format(source=source(("a", "c-other", "2026-11-01", "upsert"))), DATABASE)

        table.iceberg.before_commit = other_commits_first
        result = table.execute(
            UPSERT.format(source=source(("b", "c-mine", "2026-11-01", "upsert"))), DATABASE
        )
    finally:
        table.iceberg.before_commit = None
        other.close()
    assert any("lost to another writer" in note for note in result.extra["notes"])
    assert rows(table)[:2] == [("a", "c-other", "2026-11-01"), ("b", "c-mine", "2026-11-01")]
    assert len(rows(table)) == 3
