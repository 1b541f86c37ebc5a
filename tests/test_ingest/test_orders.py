"""The ``orders`` asset (a generator run) with local resources against the emulator."""

from __future__ import annotations

import boto3
import dagster as dg
import pytest

from infra.clients import LOCAL_CREDENTIALS
from local_aws.provision import provision
from local_aws.server import Emulator, reset_emulator
from sales_cdc.definitions import defs
from sales_cdc.ingest import orders
from sales_cdc.resources import build_resources
from sales_cdc.settings import load_settings, outputs_path


@pytest.fixture(scope="module")
def local(emulator: Emulator) -> tuple[dict, object]:
    """Resources of a freshly provisioned local deployment, and a DynamoDB client."""
    reset_emulator(emulator.endpoint)
    provision(emulator.endpoint, report=lambda line: None, outputs_path=outputs_path("local"))
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


def _config(**values) -> dict:
    return {"ops": {"orders": {"config": values}}}


def test_the_launchpad_shows_every_generator_setting_with_its_default(local):
    resources, _ = local
    job = dg.Definitions(assets=[orders], resources=resources).resolve_implicit_global_asset_job_def()
    # What the launchpad fills in: every field has a value (a None default is left out of it).
    resolved = dg.validate_run_config(job, {})["ops"]["orders"]["config"]
    shown = {"orders", "seed", "rate", "update_ratio", "delete_ratio", "days"}
    assert shown <= set(resolved)
    assert all(resolved[name] is not None for name in shown), resolved
    assert (resolved["seed"], resolved["rate"]) == (-1, 0)  # random seed, full speed


def test_delete_ratio_2_fails_before_anything_is_written_naming_the_field(local):
    resources, dynamodb = local
    before = items_in_table(dynamodb, resources["lake"].orders_table)
    result = dg.materialize(
        [orders], resources=resources, run_config=_config(delete_ratio=2), raise_on_error=False
    )

    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.to_string()
    assert "delete_ratio" in message and "less than or equal to 1" in message
    assert items_in_table(dynamodb, resources["lake"].orders_table) == before


def _causes(error: BaseException) -> str:
    texts = []
    while error is not None:
        texts.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


def test_the_launchpad_of_generate_orders_job_refuses_delete_ratio_2_before_a_run_exists():
    job = defs.resolve_job_def("generate_orders_job")
    instance = dg.DagsterInstance.ephemeral()
    # What the launchpad's validation and launch call: the config mapping range-checks the settings.
    with pytest.raises(dg.DagsterConfigMappingFunctionError) as refused:
        dg.validate_run_config(job, {"delete_ratio": 2})
    assert "delete_ratio" in _causes(refused.value) and "less than or equal to 1" in _causes(refused.value)
    with pytest.raises(dg.DagsterConfigMappingFunctionError):
        job.execute_in_process(run_config={"delete_ratio": 2}, instance=instance)
    assert instance.get_runs() == []  # refused before any run was created
    mapped = dg.validate_run_config(job, {"orders": 5, "delete_ratio": 0.2})
    assert mapped["ops"]["orders"]["config"]["delete_ratio"] == 0.2


def test_a_run_logs_its_progress_every_ten_percent(local):
    resources, _ = local
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [orders], resources=resources, instance=instance, run_config=_config(orders=300, seed=3)
    )
    lines = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if "writes acknowledged" in entry.user_message
    ]
    # Writes are acknowledged in batches, so a line may stand for several 10 % steps.
    assert len(lines) >= 2, lines
    assert lines[-1].endswith("of 462 writes acknowledged (100 %)"), lines
