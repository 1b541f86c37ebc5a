"""The ``orders`` asset (a generator run) with local resources against the emulator."""

from __future__ import annotations

import boto3
import dagster as dg
import pytest

from infra.clients import LOCAL_CREDENTIALS
from local_aws.emulator import Emulator, reset_emulator
from sales_cdc.assets.ingest import orders
from sales_cdc.resources import build_resources
from sales_cdc.settings import load_settings


@pytest.fixture(scope="module")
def local(emulator: Emulator) -> tuple[dict, object]:
    """Resources of a freshly provisioned local deployment, and a DynamoDB client."""
    from local_aws.provision import provision

    reset_emulator(emulator.endpoint)
    provision(emulator.endpoint, report=lambda line: None)
    settings = load_settings("local")
    return build_resources("local"), boto3.client("dynamodb", **settings.boto3_kwargs(), **LOCAL_CREDENTIALS)


def items_in_table(dynamodb, table: str) -> int:
    pages = dynamodb.get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(page["Count"] for page in pages)


def test_a_generator_run_writes_orders_and_reports_writes_by_kind(local):
    resources, dynamodb = local
    table = resources["lake"].orders_table
    before = items_in_table(dynamodb, table)
    config = {"orders": 40, "seed": 7, "update_ratio": 0.3, "delete_ratio": 0.1, "days": 3}
    result = dg.materialize([orders], resources=resources, run_config={"ops": {"orders": {"config": config}}})

    (materialization,) = result.asset_materializations_for_node("orders")
    metadata = {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}
    assert metadata["inserts"] == 40
    assert metadata["modifies"] > 0 and metadata["removes"] > 0
    assert metadata["writes"] == metadata["inserts"] + metadata["modifies"] + metadata["removes"]
    assert metadata["writes_by_kind"] == {
        "INSERT": metadata["inserts"],
        "MODIFY": metadata["modifies"],
        "REMOVE": metadata["removes"],
    }
    assert metadata["rate_writes_per_s"] > 0
    assert metadata["seed"] == 7
    assert "| INSERT | 40 |" in metadata["preview"]
    assert (
        items_in_table(dynamodb, table) - before
        == metadata["orders_in_table_from_run"]
        == 40 - metadata["removes"]
    )


def test_an_invalid_run_config_fails_naming_the_field_and_writes_nothing(local):
    resources, dynamodb = local
    table = resources["lake"].orders_table
    before = items_in_table(dynamodb, table)
    config = {"orders": 10, "update_ratio": 0.5, "delete_ratio": 0.6}
    with pytest.raises(dg.Failure, match="update_ratio"):
        dg.materialize([orders], resources=resources, run_config={"ops": {"orders": {"config": config}}})
    assert items_in_table(dynamodb, table) == before
