"""After the lake is reset, the Dagster UI (read through its GraphQL API) does not present the old
materializations as current without a warning; re-materializing makes an asset current again.

Real path throughout: assets materialized against the session emulator into an on-disk Dagster
instance, the emulator reset and provisioned again (a new, empty lake), the lake identity sensor
evaluated once, and the code location loaded from workspace.yaml by a code server as `dagster dev`
does, queried with the UI's GraphQL schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql
from test_analytics.analytics_support import History, at, clean_delivery, write_raw

from local_aws.server import reset_emulator
from sales_cdc.catalog.raw_table import raw_orders_cdc
from sales_cdc.health.lake_checks import build_lake_check
from sales_cdc.health.lake_reset import LAKE_CHECK_NAME
from sales_cdc.health.lake_sensor import lake_identity_sensor
from sales_cdc.ingest.orders import orders
from sales_cdc.resources import build_resources
from sales_cdc.settings import outputs_path

ROOT = Path(__file__).resolve().parents[2]
GENERATOR_RUN = {"ops": {"orders": {"config": {"orders": 5, "seed": 11, "days": 0}}}}

ASSET_QUERY = """
query ($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    ... on Asset {
      assetMaterializations(limit: 1) {
        runId
        metadataEntries { label ... on TextMetadataEntry { text } }
      }
      assetObservations(limit: 1) { description }
      definition {
        assetChecksOrError {
          ... on AssetChecks {
            checks {
              name
              executionForLatestMaterialization {
                status
                evaluation { success severity description }
              }
            }
          }
        }
      }
    }
  }
}
"""


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """An on-disk instance, like the DAGSTER_HOME of `sales-cdc up` (it outlives the lake)."""
    with dg.instance_for_test(temp_dir=str(tmp_path)) as on_disk:
        yield on_disk


def _asset(context: Any, name: str) -> dict[str, Any]:
    """What the UI shows of an asset: latest materialization, latest observation, its lake check."""
    data = execute_dagster_graphql(context, ASSET_QUERY, {"key": {"path": [name]}}).data["assetOrError"]
    (materialization,) = data["assetMaterializations"]
    metadata = {entry["label"]: entry.get("text") for entry in materialization["metadataEntries"]}
    checks = data["definition"]["assetChecksOrError"]["checks"]
    (lake_check,) = [check for check in checks if check["name"] == LAKE_CHECK_NAME]
    observations = data["assetObservations"]
    return {
        "run_id": materialization["runId"],
        "lake_id": metadata.get("lake_id"),
        "check": lake_check["executionForLatestMaterialization"],
        "observation": observations[0]["description"] if observations else None,
    }


def _materialize(assets: list[Any], resources: dict[str, Any], instance: dg.DagsterInstance) -> Any:
    checks = [build_lake_check(asset.key) for asset in assets]
    result = dg.materialize(
        [*assets, *checks], resources=resources, instance=instance, run_config=GENERATOR_RUN
    )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations()), result.get_asset_check_evaluations()
    return result


def test_a_reset_lake_shows_as_failed_checks_until_rematerialized(
    provisioned, local_stack, emulator, instance: dg.DagsterInstance
) -> None:
    resources = build_resources("local")
    day = datetime.now(UTC).date() - timedelta(days=1)
    history = History(seed=41)
    history.insert("lr-1", at(day, 9))
    write_raw(resources["s3"].get_client(), provisioned, clean_delivery(history.changes))
    before = _materialize([orders, raw_orders_cdc], resources, instance)

    # The lake is lost: a new, empty emulator state, provisioned again (as a start without state does).
    reset_emulator(emulator.endpoint)
    local_stack.provision(outputs_path=outputs_path("local"))

    sensor_context = dg.build_sensor_context(instance=instance, resources=resources)
    first = lake_identity_sensor(sensor_context)
    assert "2 asset(s) materialized in an earlier lake" in first.skip_message, first.skip_message
    again = lake_identity_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert "already checked" in again.skip_message  # once per lake

    with define_out_of_process_context(str(ROOT / "workspace.yaml"), None, instance) as context:
        for name in ("orders", "raw_orders_cdc"):
            shown = _asset(context, name)
            # The latest materialization is still the old lake's, and the UI says its data is gone.
            assert shown["run_id"] == before.run_id and shown["lake_id"]
            assert shown["check"]["status"] == "FAILED", shown
            evaluation = shown["check"]["evaluation"]
            assert not evaluation["success"] and evaluation["severity"] == "ERROR"
            assert evaluation["description"].startswith("data missing: the lake was reset at ")
            assert f"re-materialize {name}" in evaluation["description"]
            assert shown["observation"] == evaluation["description"]

        # Materialized again in the new lake: current, with a passing check; the other asset still warns.
        after = _materialize([orders], resources, instance)
        shown = _asset(context, "orders")
        assert (
            shown["run_id"] == after.run_id
            and shown["lake_id"] != _asset(context, "raw_orders_cdc")["lake_id"]
        )
        assert shown["check"]["status"] == "SUCCEEDED" and shown["check"]["evaluation"]["success"]
        assert _asset(context, "raw_orders_cdc")["check"]["status"] == "FAILED"
