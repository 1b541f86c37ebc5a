"""The code location: loadable, resources by deployment, and loadable before the stack exists."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

import sales_cdc.definitions
from sales_cdc.resources import RESOURCE_KEYS, UnavailableResource
from sales_cdc.settings import project_root


@pytest.fixture
def reload_definitions(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Reload the code location under a changed environment; restores it afterwards."""

    def reload(**env: str | None) -> dg.Definitions:
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        return importlib.reload(sales_cdc.definitions).defs

    yield reload
    monkeypatch.undo()
    importlib.reload(sales_cdc.definitions)


def test_definitions_are_loadable_and_every_job_resolves():
    defs = sales_cdc.definitions.defs
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    jobs = {job.name for job in repository.get_all_jobs()}
    assert {"cdc_refresh_job", "daily_report_job", "raw_cdc_crawl_job"} <= jobs
    groups = {spec.key.to_user_string(): spec.group_name for spec in defs.resolve_all_asset_specs()}
    assert groups["orders"] == "ingest"
    assert groups["raw_orders_cdc"] == groups["partition_repair"] == "catalog"
    assert {groups[k] for k in ("orders_current", "sales_daily", "cdc_event_stats", "daily_report")} == {
        "analytics"
    }
    refresh = defs.resolve_job_def("cdc_refresh_job")
    assert {key.to_user_string() for key in refresh.asset_layer.executable_asset_keys} == {
        "raw_orders_cdc",
        "partition_repair",
        "orders_current",
        "sales_daily",
        "sales_hourly",
        "cdc_event_stats",
        "daily_report",  # refreshed with the changed order dates (issue 17)
    }
    assert refresh.partitions_def is not None  # partitioned like the daily summaries
    assert {s.name for s in repository.sensor_defs} == {
        "raw_objects_sensor",
        "pipeline_alarms_sensor",
        "lake_identity_sensor",
    }
    assert {s.name for s in repository.schedule_defs} == {
        "raw_cdc_crawl_schedule",
        "daily_report_schedule",
        "lake_maintenance_schedule",
    }
    assert "lake_maintenance_job" in jobs


def test_local_deployment_runs_in_process_with_the_sensor_on(reload_definitions):
    defs = reload_definitions(SALES_CDC_DEPLOYMENT="local")
    assert set(RESOURCE_KEYS) <= set(defs.resources)
    assert defs.resolve_job_def("cdc_refresh_job").executor_def is dg.in_process_executor
    sensor = defs.get_repository_def().get_sensor_def("raw_objects_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    for schedule in defs.get_repository_def().schedule_defs:
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_aws_deployment_loads_before_the_stack_is_deployed(reload_definitions, tmp_path: Path):
    defs = reload_definitions(
        SALES_CDC_DEPLOYMENT="aws", SALES_CDC_HOME=str(tmp_path), SALES_CDC_ENDPOINT_URL=None
    )
    assert isinstance(defs.resources["s3"], S3Resource)
    assert defs.resources["s3"].endpoint_url is None  # real AWS
    for key in ("lake", "query_engine", "crawler"):
        assert isinstance(defs.resources[key], UnavailableResource)
        assert "sales-cdc deploy" in defs.resources[key].reason
    assert defs.resolve_job_def("cdc_refresh_job").executor_def is not dg.in_process_executor
    sensor = defs.get_repository_def().get_sensor_def("raw_objects_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


def test_without_the_local_stack_resources_fail_at_use_with_the_fix(reload_definitions, tmp_path: Path):
    defs = reload_definitions(
        SALES_CDC_DEPLOYMENT="local", SALES_CDC_HOME=str(tmp_path), SALES_CDC_ENDPOINT_URL=None
    )
    assert all(isinstance(defs.resources[key], UnavailableResource) for key in RESOURCE_KEYS)
    result = defs.resolve_job_def("raw_cdc_crawl_job").execute_in_process(raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.event_specific_data.error.to_string()
    assert "ResourceUnavailableError" in error
    assert "the local emulator is not running" in error
    assert "make run" in error

    # The sensor, on by default locally, says the same on each tick instead of failing it.
    sensor = defs.get_repository_def().get_sensor_def("raw_objects_sensor")
    with dg.build_sensor_context(
        cursor="kept", resources={k: defs.resources[k] for k in ("sqs", "glue", "lake")}, definitions=defs
    ) as context:
        data = sensor.evaluate_tick(context)
    assert not data.run_requests
    assert "the local emulator is not running" in data.skip_message
    assert data.cursor == "kept"


def test_a_fresh_import_emits_no_warnings_even_without_a_stack(tmp_path: Path):
    """What `dagster dev` does: import the module in a new process (here with nothing provisioned)."""
    script = (
        "import json, warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import sales_cdc.definitions\n"
        "print(json.dumps([f'{w.category.__name__}: {w.message} ({w.filename})' for w in caught]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SALES_CDC_ENDPOINT_URL", "SALES_CDC_DEPLOYMENT")}
    env["SALES_CDC_HOME"] = str(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []


def test_workspace_loads_this_module_under_the_fixed_location_name():
    workspace = (project_root() / "workspace.yaml").read_text()
    assert "module_name: sales_cdc.definitions" in workspace
    assert "location_name: sales_cdc" in workspace


def test_the_code_location_module_is_loadable_the_way_dagster_loads_it() -> None:
    # `dagster dev -w workspace.yaml` autodiscovers the module's Definitions and refuses a module that
    # holds more than one at module scope (the domains' Definitions must not be imported by name).
    from dagster._core.workspace.autodiscovery import loadable_targets_from_python_module

    targets = loadable_targets_from_python_module("sales_cdc.definitions", str(project_root()))
    assert [target.attribute for target in targets] == ["defs"]


def test_every_asset_that_writes_the_lake_runs_in_its_table_pool():
    # One writer per table whatever launched it (sensor, schedule, UI, CLI): the instance limits each
    # pool to one step at a time (sales_cdc/commands/up.py's dagster.yaml).
    pools = {
        key.to_user_string(): assets.op.pool
        for assets in sales_cdc.definitions.defs.assets
        for key in assets.keys
    }
    assert pools.pop("orders") is None  # writes DynamoDB, not the lake
    assert pools == {
        "raw_orders_cdc": "lake_raw_catalog",
        "partition_repair": "lake_raw_catalog",
        "orders_current": "lake_orders_current",
        "sales_daily": "lake_sales_daily",
        "sales_hourly": "lake_sales_hourly",
        "cdc_event_stats": "lake_cdc_event_stats",
        "daily_report": "lake_daily_report",
    }
