"""``materialized_in_this_lake``: one asset check per lake-writing asset, failing when the asset's latest
materialization was written to another lake than the current one (the lake was lost or reset).

The check runs with every materialization of its asset (the UI's Materialize and the asset jobs select
an asset's checks), so a re-materialized asset passes again; the lake identity sensor records a failed
evaluation of it when it finds a reset (:mod:`sales_cdc.health.lake_reset`).
"""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at runtime.
import dagster as dg
from dagster_aws.s3 import S3Resource

from sales_cdc.health.lake_reset import LAKE_CHECK_NAME, check_materialized_in_this_lake
from sales_cdc.lake_identity import ensure_lake_identity
from sales_cdc.resources.aws import LakeResource, s3_client

# Every asset of the code location writes to the lake (DynamoDB, S3, the Glue catalog); a test holds
# this list equal to the definitions' assets.
LAKE_ASSETS = [
    dg.AssetKey(name)
    for name in (
        "orders",
        "raw_orders_cdc",
        "partition_repair",
        "orders_current",
        "sales_daily",
        "sales_hourly",
        "cdc_event_stats",
        "daily_report",
    )
]
LAKE_CHECK_DESCRIPTION = (
    "The latest materialization was written to the current lake (its lake_id metadata equals the id in "
    "s3://<lake bucket>/_lake/identity.json). Fails after the lake was lost or reset: re-materialize."
)


def build_lake_check(asset_key: dg.AssetKey) -> dg.AssetChecksDefinition:
    """The ``materialized_in_this_lake`` check of one asset."""

    @dg.asset_check(asset=asset_key, name=LAKE_CHECK_NAME, description=LAKE_CHECK_DESCRIPTION)
    def materialized_in_this_lake(
        context: dg.AssetCheckExecutionContext, s3: S3Resource, lake: LakeResource
    ) -> dg.AssetCheckResult:
        """Compare the asset's latest materialization's lake id with the lake's."""
        current = ensure_lake_identity(s3_client(s3), lake.bucket)
        return check_materialized_in_this_lake(context.instance, asset_key, current)

    return materialized_in_this_lake


LAKE_CHECKS = [build_lake_check(key) for key in LAKE_ASSETS]
