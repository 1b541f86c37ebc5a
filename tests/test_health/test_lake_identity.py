"""The lake identity marker, the detection rules against a real Dagster instance, and checks on a
table that does not exist (a reset lake), all against the session emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from botocore.exceptions import ClientError

from local_aws.server import reset_emulator
from sales_cdc.analytics.checks import (
    newest_event_fresh,
    order_id_unique,
    order_values_valid,
    reconciles_with_dynamodb,
)
from sales_cdc.health.lake_reset import lake_reset_report, report_lake_reset
from sales_cdc.lake_identity import (
    IDENTITY_KEY,
    LakeIdentity,
    LakeIdentityError,
    ensure_lake_identity,
    lake_id_metadata,
    read_lake_identity,
)
from sales_cdc.missing_tables import unless_table_missing
from sales_cdc.resources import build_resources
from sales_cdc.resources.aws import s3_client
from sales_cdc.resources.query_engine import QueryFailedError
from sales_cdc.settings import outputs_path

ORDERS_CURRENT = dg.AssetKey("orders_current")
ORDERS = dg.AssetKey("orders")


@pytest.fixture
def resources(provisioned) -> dict[str, Any]:
    return build_resources("local")


@pytest.fixture
def s3(resources) -> Any:
    return s3_client(resources["s3"])


def test_the_identity_is_written_once_and_read_back(resources, s3) -> None:
    bucket = resources["lake"].bucket
    assert read_lake_identity(s3, bucket) is None  # a new lake has none
    first = ensure_lake_identity(s3, bucket)
    again = ensure_lake_identity(s3, bucket)
    assert first.created_now and not again.created_now
    assert (again.lake_id, again.created_at) == (first.lake_id, first.created_at)
    assert lake_id_metadata(s3, bucket)["lake_id"].value == first.lake_id


def test_a_reset_lake_gets_a_new_identity(resources, s3, emulator, local_stack) -> None:
    bucket = resources["lake"].bucket
    before = ensure_lake_identity(s3, bucket)
    reset_emulator(emulator.endpoint)
    local_stack.provision(outputs_path=outputs_path("local"))
    after = ensure_lake_identity(s3, bucket)
    assert after.created_now and after.lake_id != before.lake_id


def test_a_damaged_marker_is_named_with_what_to_do(resources, s3) -> None:
    bucket = resources["lake"].bucket
    s3.put_object(Bucket=bucket, Key=IDENTITY_KEY, Body=b"{not json")
    with pytest.raises(
        LakeIdentityError, match=rf"s3://{bucket}/{IDENTITY_KEY} is not a lake identity.*delete"
    ):
        ensure_lake_identity(s3, bucket)


def test_a_missing_bucket_is_reported_with_the_fix(resources, s3) -> None:
    with pytest.raises(LakeIdentityError, match="no-such-lake-bucket.*NoSuchBucket.*provisioned"):
        read_lake_identity(s3, "no-such-lake-bucket")


def _materialize_runless(instance: dg.DagsterInstance, key: dg.AssetKey, lake_id: str | None) -> None:
    metadata = {"lake_id": lake_id} if lake_id else {}
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, metadata=metadata))


def test_detection_flags_other_lakes_and_missing_ids_only_after_a_proven_reset() -> None:
    instance = dg.DagsterInstance.ephemeral()
    old = LakeIdentity("lake-old", datetime.now(UTC) - timedelta(days=1))
    _materialize_runless(instance, ORDERS_CURRENT, None)  # an asset that records no lake id
    _materialize_runless(instance, ORDERS, "lake-old")
    assert lake_reset_report(instance, old) == []  # same lake: nothing to say
    assert report_lake_reset(instance, old, {ORDERS}) == []
    assert report_lake_reset(instance, old, {ORDERS}) is None  # once per lake id

    # Upgrading (history without lake ids, one identity) flags nothing: no proof of a reset.
    fresh = dg.DagsterInstance.ephemeral()
    _materialize_runless(fresh, ORDERS_CURRENT, None)
    assert lake_reset_report(fresh, LakeIdentity("first", datetime.now(UTC) + timedelta(seconds=1))) == []

    new = LakeIdentity("lake-new", datetime.now(UTC) + timedelta(seconds=1))
    found = {m.asset_key: m for m in lake_reset_report(instance, new)}
    assert set(found) == {ORDERS, ORDERS_CURRENT}
    assert found[ORDERS].recorded_lake_id == "lake-old" and found[ORDERS_CURRENT].recorded_lake_id is None
    text = found[ORDERS].describe(new)
    assert text.startswith("data missing: the lake was reset at ") and "re-materialize orders" in text

    # Materialized again in the new lake: current; the one without an id but newer than the lake too.
    _materialize_runless(instance, ORDERS, "lake-new")
    later = LakeIdentity("lake-new", datetime.now(UTC) - timedelta(days=2))
    assert lake_reset_report(instance, later) == []
    assert [m.asset_key for m in lake_reset_report(instance, new)] == [ORDERS_CURRENT]


def test_detection_records_an_observation_and_a_failed_check_on_the_stale_materialization() -> None:
    instance = dg.DagsterInstance.ephemeral()
    _materialize_runless(instance, ORDERS, "lake-old")
    new = LakeIdentity("lake-new", datetime.now(UTC))
    (mismatch,) = report_lake_reset(instance, new, {ORDERS})
    observation = instance.fetch_observations(ORDERS, limit=1).records[0].asset_observation
    assert observation.description == mismatch.describe(new)
    check = dg.AssetCheckKey(ORDERS, "materialized_in_this_lake")
    (execution,) = instance.event_log_storage.get_asset_check_execution_history(check, limit=1)
    evaluation = execution.evaluation
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.target_materialization_data.storage_id == mismatch.storage_id


CHECKS_ON_ORDERS_CURRENT = [order_id_unique, order_values_valid, newest_event_fresh]


@pytest.mark.parametrize("check", CHECKS_ON_ORDERS_CURRENT, ids=lambda c: c.check_key.name)
def test_a_check_on_a_missing_table_fails_saying_what_to_do(resources, check) -> None:
    result = check(query_engine=resources["query_engine"], lake=resources["lake"])
    database = resources["lake"].glue_database
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.description == (
        f"table missing: {database}.orders_current (lake reset or not yet materialized): "
        "materialize orders_current"
    )
    assert "TABLE_NOT_FOUND" in result.metadata["engine_reason"].value


def test_reconciliation_on_a_missing_table_fails_saying_what_to_do(resources) -> None:
    result = reconciles_with_dynamodb(
        query_engine=resources["query_engine"],
        lake=resources["lake"],
        dynamodb=resources["dynamodb"],
        s3=resources["s3"],
    )
    assert not result.passed and result.description.startswith("table missing: ")


def test_other_query_failures_are_not_taken_for_a_missing_table(resources) -> None:
    engine = resources["query_engine"]
    with pytest.raises(QueryFailedError, match="SYNTAX_ERROR|mismatched"):
        unless_table_missing(
            lambda: engine.execute("SELEC 1"), database="d", table="t", asset="orders_current"
        )


class _MarkerWrittenMeanwhile:
    """The real S3 client, except that the first GET misses the marker: another process writes it
    between this process's GET and PUT (the interleaving of two start-ups, made deterministic)."""

    def __init__(self, s3: Any) -> None:
        self._s3, self._missed = s3, False

    def get_object(self, **kwargs: Any) -> Any:
        if not self._missed:
            self._missed = True
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "not yet"}}, "GetObject")
        return self._s3.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_two_start_ups_at_once_agree_on_one_identity(resources, s3) -> None:
    bucket = resources["lake"].bucket
    winner = ensure_lake_identity(s3, bucket)
    loser = ensure_lake_identity(_MarkerWrittenMeanwhile(s3), bucket)
    assert loser.lake_id == winner.lake_id and not loser.created_now
