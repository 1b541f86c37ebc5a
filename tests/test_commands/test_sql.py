"""``sales-cdc sql`` against the local stack: formats, statistics, errors with positions, files, stdin,
time travel refused, the prompt, and the README's five example questions."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import boto3
import click
import pytest
from click.testing import CliRunner, Result

from infra.clients import LOCAL_CREDENTIALS
from sales_cdc.cli import main
from sales_cdc.commands.sql import interactive, split_statements
from sales_cdc.examples import EXAMPLES, example
from sales_cdc.settings import Settings
from test_commands.sql_lake import deploy_small_lake

ORDERS_BY_STATUS = "SELECT status, count(*) AS changes FROM orders_cdc GROUP BY status ORDER BY status"


@pytest.fixture(scope="module")
def deployed(emulator) -> Iterator[Settings]:
    """A provisioned local deployment with a few changes in its raw CDC table (provisioned once)."""
    settings, _ = deploy_small_lake(emulator.endpoint)
    yield settings


def sql(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["sql", *args], input=stdin)


def test_a_query_prints_an_aligned_table_with_bytes_scanned_and_time(deployed) -> None:
    result = sql(ORDERS_BY_STATUS)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split("|")[0].strip() == "status" and lines[1].startswith("-")
    assert [line.split("|")[0].strip() for line in lines[2:5]] == ["CANCELLED", "PAID", "PLACED"]
    assert [int(line.split("|")[1]) for line in lines[2:5]] == [1, 1, 6]
    assert lines[2].index("|") == lines[0].index("|")  # aligned
    assert lines[5].startswith("(3 rows; ") and " scanned; " in lines[5] and lines[5].endswith(" ms)")
    assert "0 B scanned" not in lines[5]


def test_csv_and_json_keep_stdout_machine_readable(deployed) -> None:
    as_csv = sql("--format", "csv", ORDERS_BY_STATUS)
    assert as_csv.exit_code == 0, as_csv.output
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["status", "changes"],
        ["CANCELLED", "1"],
        ["PAID", "1"],
        ["PLACED", "6"],
    ]
    assert "(3 rows; " in as_csv.stderr

    query = "SELECT order_id, quantity * unit_price AS amount FROM orders_cdc WHERE event_name = 'REMOVE'"
    as_json = sql("--format", "json", query)
    assert as_json.exit_code == 0, as_json.output
    assert [json.loads(line) for line in as_json.stdout.splitlines()] == [
        {"order_id": "o4", "amount": "5.00"}
    ]
    assert "(1 row; " in as_json.stderr


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "SELECT order_id,\n       nope\nFROM orders_cdc",
            "COLUMN_NOT_FOUND: line 2:8: Column 'nope' cannot be resolved",
        ),
        ("SELECT 1 FROM missing_table", "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog."),
        ("SELECT order_id FROM WHERE", "SYNTAX_ERROR: line 1:22: "),
        (
            "SELECT\n  foo(order_id) FROM orders_cdc",
            "line 2:3: the function foo() is not supported",
        ),
    ],
)
def test_an_error_is_worded_like_athena_with_its_position(deployed, query: str, message: str) -> None:
    result = sql(query)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""


def test_a_file_runs_its_statements_in_order(deployed, tmp_path: Path) -> None:
    script = tmp_path / "questions.sql"
    script.write_text(
        "-- two questions; the ';' in the literal does not end a statement\n"
        "SELECT count(DISTINCT order_id) AS orders FROM orders_cdc;\n"
        "SELECT 'a;b' AS text;\n"
    )
    result = sql("-f", str(script), "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == "orders\n4\ntext\na;b\n"


def test_stdin_is_read_with_a_dash_and_the_first_failure_stops(deployed) -> None:
    result = sql(
        "-", "--format", "json", stdin="SELECT 1 AS one;\nSELECT nope FROM orders_cdc;\nSELECT 2 AS two;"
    )
    assert result.exit_code == 1
    assert result.stdout == '{"one": 1}\n'
    assert "Column 'nope' cannot be resolved" in result.stderr


def test_database_option_and_bad_input(deployed) -> None:
    other = sql("--database", "no_such_db", "SELECT count(*) FROM orders_cdc")
    assert (
        other.exit_code == 1 and "TABLE_NOT_FOUND" in other.stderr and "no_such_db.orders_cdc" in other.stderr
    )
    empty = sql("-", stdin="  -- nothing\n")
    assert empty.exit_code == 2 and "the query is empty" in empty.stderr
    nothing = sql(stdin="")
    assert nothing.exit_code == 2 and "give a QUERY, -f FILE, or '-'" in nothing.stderr


def test_time_travel_is_refused_on_a_table_that_is_not_iceberg(deployed) -> None:
    result = sql("--as-of", "2026-11-20T10:00:00Z", "SELECT count(*) FROM orders_cdc")
    assert result.exit_code == 2
    assert "time travel (FOR TIMESTAMP AS OF) needs Iceberg tables" in result.stderr
    assert f"{deployed.glue_database}.orders_cdc is a Hive table" in result.stderr
    bad = sql("--as-of", "yesterday", "SELECT count(*) FROM orders_cdc")
    assert bad.exit_code == 2 and "'yesterday' is not an ISO-8601 timestamp" in bad.stderr


def test_time_travel_on_an_iceberg_table_reads_the_snapshot_of_that_time(deployed) -> None:
    location = f"s3://{deployed.bucket}/derived/iceberg_orders/"
    created = sql(
        "CREATE TABLE iceberg_orders (order_id string) LOCATION "
        f"'{location}' TBLPROPERTIES ('table_type'='ICEBERG')"
    )
    assert created.exit_code == 0, created.stderr
    try:
        assert sql("INSERT INTO iceberg_orders VALUES ('a')").exit_code == 0
        between = datetime.now(UTC).isoformat()
        assert sql("INSERT INTO iceberg_orders VALUES ('b')").exit_code == 0
        then = sql("--as-of", between, "--format", "csv", "SELECT count(*) AS n FROM iceberg_orders")
        now = sql("--format", "csv", "SELECT count(*) AS n FROM iceberg_orders")
        assert then.exit_code == 0, then.stderr
        assert then.stdout.split() == ["n", "1"] and now.stdout.split() == ["n", "2"]
    finally:
        sql("DROP TABLE iceberg_orders")


def test_a_glue_entry_marked_iceberg_without_metadata_is_a_clear_error(deployed) -> None:
    glue = boto3.client("glue", **deployed.boto3_kwargs(), **LOCAL_CREDENTIALS)
    glue.create_table(
        DatabaseName=deployed.glue_database,
        TableInput={
            "Name": "iceberg_by_hand",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"table_type": "ICEBERG"},
            "StorageDescriptor": {
                "Columns": [{"Name": "order_id", "Type": "string"}],
                "Location": "s3://x/y/",
            },
        },
    )
    try:
        result = sql("SELECT count(*) FROM iceberg_by_hand")
    finally:
        glue.delete_table(DatabaseName=deployed.glue_database, Name="iceberg_by_hand")
    assert result.exit_code == 1
    assert "is marked ICEBERG but its metadata cannot be read" in result.stderr


def test_the_prompt_runs_statements_ended_by_a_semicolon_until_quit() -> None:
    lines = iter(["SELECT 1", "  AS one; SELECT 'x;' AS", "two;", "SELECT nope;", "\\q", "never read"])
    ran: list[str] = []

    def run(statement: str) -> None:
        ran.append(statement)
        if "nope" in statement:
            raise click.ClickException("SEMANTIC_ERROR: nope")

    shown: list[str] = []
    interactive(run, lambda prompt: next(lines), shown.append)
    assert ran == ["SELECT 1\n  AS one", "SELECT 'x;' AS\ntwo", "SELECT nope"]
    assert shown == ["Error: SEMANTIC_ERROR: nope"]
    assert split_statements("SELECT 1; -- done\n") == ["SELECT 1"]


def test_the_five_example_questions_run_on_the_local_engine(deployed) -> None:
    answers = {}
    for question in EXAMPLES:
        result = sql("--format", "json", question.sql)
        assert result.exit_code == 0, (question.name, result.output)
        answers[question.name] = [json.loads(line) for line in result.stdout.splitlines()]

    [top] = answers["top_products_this_week"]
    assert (top["product_id"], top["orders"], top["units"], Decimal(top["revenue"])) == (
        "p1",
        2,
        3,
        Decimal("30"),
    )
    [hour] = answers["revenue_by_hour_today"]
    assert (hour["orders"], Decimal(hour["revenue"])) == (2, Decimal("30"))
    rates = {
        row["category"]: (row["orders"], row["cancelled_pct"], row["returned_pct"])
        for row in answers["cancellation_and_return_rates_by_category"]
    }
    assert {k: (n, float(c), float(r)) for k, (n, c, r) in rates.items()} == {
        "books": (2, 50.0, 0.0),
        "toys": (1, 0.0, 0.0),
    }
    changed = {
        row["order_id"]: (row["changes"], row["status_now"])
        for row in answers["orders_changed_in_the_last_hour"]
    }
    assert changed == {"o1": (2, "PAID"), "o2": (2, "CANCELLED"), "o3": (1, "PLACED"), "o4": (2, "PLACED")}
    [lag] = answers["cdc_lag_percentiles"]
    assert lag["changes"] == 7 and lag["lag_max_ms"] == 1000
    assert 100 <= lag["lag_p50_ms"] <= lag["lag_p90_ms"] <= lag["lag_p99_ms"] <= 1000
    assert example("cdc_lag_percentiles") is EXAMPLES[-1]
