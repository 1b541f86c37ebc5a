"""The lake identity sensor: notices a new (lost or reset) lake without the CLI, from the UI alone.

Each tick reads the lake's identity (writing one when the lake has none). The first tick that sees a
lake id runs the detection of :mod:`sales_cdc.health.lake_reset` against this Dagster instance and
records, on every asset whose latest materialization belongs to another lake, an observation and a
failed ``materialized_in_this_lake`` check; later ticks of the same lake skip (the instance remembers
the lake id, so ``sales-cdc up`` and the sensor report a reset once between them).
"""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at runtime.
import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError
from dagster_aws.s3 import S3Resource

from sales_cdc.health.lake_checks import LAKE_ASSETS
from sales_cdc.health.lake_reset import report_lake_reset
from sales_cdc.lake_identity import LakeIdentityError, ensure_lake_identity
from sales_cdc.resources.aws import LakeResource, s3_client
from sales_cdc.settings import SettingsError

SENSOR_INTERVAL_S = 30  # one GET of a tiny object per tick


@dg.sensor(
    name="lake_identity_sensor",
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Notices when the lake was lost or reset and marks the assets whose data is gone.",
)
def lake_identity_sensor(
    context: dg.SensorEvaluationContext, s3: S3Resource, lake: LakeResource
) -> dg.SkipReason:
    """Read the lake's identity; on a lake id not seen before, flag the materializations of other lakes."""
    try:
        current = ensure_lake_identity(s3_client(s3), lake.bucket)
    except (SettingsError, LakeIdentityError, ClientError, BotoCoreError) as exc:
        # The deployment is not ready (emulator down, stack not provisioned yet): say so on every tick.
        return dg.SkipReason(f"cannot read the lake's identity: {exc}")
    mismatches = report_lake_reset(context.instance, current, set(LAKE_ASSETS))
    if mismatches is None:
        return dg.SkipReason(f"lake {current.lake_id} already checked against Dagster's history")
    for mismatch in mismatches:
        context.log.warning(mismatch.describe(current))
    return dg.SkipReason(
        f"lake {current.lake_id} (since {current.created_at.isoformat(timespec='seconds')}): "
        + (
            f"{len(mismatches)} asset(s) materialized in an earlier lake, marked: "
            + ", ".join(m.asset_key.to_user_string() for m in mismatches)
            if mismatches
            else "Dagster's history matches it"
        )
    )
