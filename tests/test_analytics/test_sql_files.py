"""The application's SQL files: each parses as Trino SQL, and the loader only writes validated values."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from infra.lake import InvalidIdentifierError
from sales_cdc.analytics.queries import placeholders, render, sql_files
from sales_cdc.sql_templates import PLACEHOLDER_KINDS, RenderedQuery, SqlTemplateError

# A valid value for every placeholder kind, to render each file for parsing.
SAMPLE_VALUES: dict[str, object] = {
    "database": "sales_cdc",
    "table": "sales_daily",
    "raw_table": "orders_cdc",
    "source_table": "orders_current",
    "partition_column": "order_date",
    "partition_key": "order_date",
    "table_pattern": "sales_daily",
    "day": "2026-11-21",
    "days": ["2026-11-20", "2026-11-21"],
    "hours": ["2026-11-20/23", "2026-11-21/00"],
    "location": "s3://sales-cdc-datalake/derived/sales_daily/",
    "late_seconds": 300,
    "error_records": 7,
    "quarantined_objects": 3,
    "limit": 10,
}


def rendered(name: str) -> str:
    values = {key: SAMPLE_VALUES[key] for key in placeholders(name) if key != "query"}
    if "query" in placeholders(name):
        values["query"] = render(
            "sales_daily", database="sales_cdc", source_table="orders_current", days=["2026-11-21"]
        )
    return render(name, values)


def test_there_are_sql_files_for_every_asset() -> None:
    names = set(sql_files())
    assert {
        "orders_current_create",
        "orders_latest_changes",
        "orders_current_changes",
        "orders_current_merge",
        "orders_current_replace",
        "sales_daily",
        "sales_daily_replace",
        "sales_hourly",
        "sales_hourly_replace",
        "cdc_event_stats",
    } <= names


@pytest.mark.parametrize("name", sql_files())
def test_each_file_parses_as_trino_after_rendering(name: str) -> None:
    sql = rendered(name)
    assert "{" not in sql, f"{name}.sql kept a placeholder"
    parsed = sqlglot.parse(sql, read="trino")
    assert len([statement for statement in parsed if statement is not None]) == 1, (
        f"{name}.sql is not one statement"
    )


@pytest.mark.parametrize("name", sql_files())
def test_each_placeholder_has_a_kind(name: str) -> None:
    assert placeholders(name) <= PLACEHOLDER_KINDS.keys()


def test_orders_current_orders_sequence_numbers_as_padded_text() -> None:
    # Sequence numbers reach 40 digits: a numeric cast would overflow or lose precision.
    tree = sqlglot.parse_one(rendered("orders_latest_changes"), read="trino")
    windows = [w for w in tree.find_all(exp.Window) if "order_id" in w.sql()]
    assert windows and "LPAD(sequence_number, 40, '0') DESC" in windows[0].sql(dialect="trino")
    assert not [c for c in tree.find_all(exp.Cast) if "sequence_number" in c.sql()]


def test_daily_summaries_read_only_their_partitions() -> None:
    for name, condition in (
        ("sales_daily", "order_date IN ('2026-11-20', '2026-11-21')"),
        ("sales_hourly", "order_date IN ('2026-11-20', '2026-11-21')"),
        ("cdc_event_stats", "dt = '2026-11-21'"),
        (
            "raw_rows_of_hours",
            "dt IN ('2026-11-20', '2026-11-21') "
            "AND CONCAT(dt, '/', \"hour\") IN ('2026-11-20/23', '2026-11-21/00')",
        ),
    ):
        tree = sqlglot.parse_one(rendered(name), read="trino")
        conditions = [w.this.sql() for w in tree.find_all(exp.Where)]
        assert condition in conditions, f"{name}.sql does not filter on its partitions: {conditions}"


def test_every_merge_names_the_partition_it_writes() -> None:
    # Athena writes at most 100 partitions per statement and the local engine reads only the
    # partitions the ON clause can match: each MERGE must tie the target's order_date to the source.
    for name in (
        "orders_current_merge",
        "orders_current_replace",
        "sales_daily_replace",
        "sales_hourly_replace",
    ):
        merge = sqlglot.parse_one(rendered(name), read="trino")
        assert isinstance(merge, exp.Merge), name
        assert "target.order_date = " in merge.args["on"].sql(), name


@pytest.mark.parametrize(
    ("placeholder", "value"),
    [
        ("table", "orders; DROP TABLE x"),
        ("table", "Orders"),
        ("database", "sales_cdc.other"),
        ("day", "2026-11-21' OR '1'='1"),
        ("day", "2026-13-45"),
        ("days", "2026-11-21"),
        ("days", []),
        ("hours", ["2026-11-21/24"]),
        ("hours", ["2026-11-21' OR '1'='1/00"]),
        ("hours", "2026-11-21/00"),
        ("location", "s3://bucket/x' --"),
        ("limit", -1),
        ("limit", "10"),
        ("partition_key", "order_date']"),
    ],
)
def test_a_hostile_or_invalid_value_is_refused_before_any_sql_exists(placeholder: str, value: object) -> None:
    name = next(n for n in sql_files() if placeholder in placeholders(n))
    values: dict[str, object] = {key: SAMPLE_VALUES.get(key) for key in placeholders(name)}
    if "query" in values:
        values["query"] = RenderedQuery("SELECT 1 AS order_date")
    values[placeholder] = value
    with pytest.raises(InvalidIdentifierError) as error:
        render(name, values)
    assert repr(value)[:20] in str(error.value) or placeholder in str(error.value)


def test_query_placeholder_takes_only_sql_rendered_from_a_file() -> None:
    values = {key: SAMPLE_VALUES[key] for key in placeholders("insert_into") if key != "query"}
    with pytest.raises(InvalidIdentifierError):
        render("insert_into", values, query="SELECT * FROM secrets")
    assert isinstance(render("insert_into", values, query=RenderedQuery("SELECT 1")), RenderedQuery)


def test_missing_extra_and_unknown_files_are_errors() -> None:
    with pytest.raises(SqlTemplateError, match="missing"):
        render("drop_table", database="sales_cdc")
    with pytest.raises(SqlTemplateError, match="not used"):
        render("drop_table", database="sales_cdc", table="t", day="2026-11-21")
    with pytest.raises(SqlTemplateError, match="no SQL file"):
        render("../secrets", database="sales_cdc")
