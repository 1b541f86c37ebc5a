"""``sales-cdc generate`` against the emulator, as a user runs it."""

from __future__ import annotations

import json

import boto3
import pytest
from click.testing import CliRunner

from infra.clients import LOCAL_CREDENTIALS
from sales_cdc.commands.generate import generate

from .conftest import scan_table


def test_generate_writes_to_the_provisioned_orders_table_and_reports_json(provisioned) -> None:
    result = CliRunner().invoke(generate, ["--orders", "120", "--seed", "7", "--days", "3", "--json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["table"] == provisioned.orders_table
    assert summary["writes_by_kind"]["INSERT"] == 120
    assert set(summary["writes_by_kind"]) == {"INSERT", "MODIFY", "REMOVE"}
    assert summary["items_written"] == sum(summary["writes_by_kind"].values()) == summary["planned"]
    client = boto3.client("dynamodb", **provisioned.boto3_kwargs(), **LOCAL_CREDENTIALS)
    assert len(scan_table(client, provisioned.orders_table)) == summary["orders_in_table"]


def test_generate_prints_a_summary_by_change_kind(dynamodb, orders_table: str) -> None:
    args = ["--events", "200", "--seed", "1", "--table", orders_table, "--start", "2026-11-01T12:00:00Z"]
    result = CliRunner().invoke(generate, args)

    assert result.exit_code == 0, result.output
    for text in (
        "Wrote 200 change events",
        "INSERT",
        "MODIFY",
        "REMOVE",
        "--seed 1 --start 2026-11-01T12:00:00.000Z",
    ):
        assert text in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--orders", "-5"], "orders = -5"),
        (["--events", "-1"], "events = -1"),
        (["--update-ratio", "1.5"], "update_ratio = 1.5"),
        (["--update-ratio", "0.7", "--delete-ratio", "0.4"], "must add up to less than 1"),
        (["--rate", "0"], "rate = 0"),
        (["--orders", "5", "--events", "5"], "exactly one of orders"),
        (["--start", "yesterday"], "not an ISO-8601 time"),
        (["--table", "no_such_table"], "'no_such_table' does not exist"),
    ],
)
def test_bad_arguments_fail_clearly_and_write_nothing(dynamodb, orders_table: str, args, message) -> None:
    if "--table" not in args:
        args = [*args, "--table", orders_table]

    result = CliRunner().invoke(generate, args)

    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())  # click wraps long messages
    assert scan_table(dynamodb, orders_table) == {}
