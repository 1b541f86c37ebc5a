"""Asset checks of the health group, on the raw CDC table: the pipeline's alarms, and raw data arriving.

- ``pipeline_alarms_ok`` (ERROR): no alarm of the stack is in ALARM; a failure names each alarm with
  CloudWatch's reason (the figures) and the alarm's description (what to do).
- ``raw_objects_fresh`` (WARN, since the source may simply be idle): the newest raw CDC object is
  younger than the freshness threshold (``$SALES_CDC_FRESHNESS_MINUTES``, shared with the analytics
  freshness check).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from infra.lake import list_objects, partition_folder
from sales_cdc.analytics.checks import freshness_minutes
from sales_cdc.catalog.raw_table import raw_orders_cdc
from sales_cdc.health.alarms import pipeline_alarms, states_table
from sales_cdc.resources.aws import CloudWatchResource, LakeResource, s3_client


def check_pipeline_alarms(cloudwatch: Any, prefix: str) -> dg.AssetCheckResult:
    """Pass when no alarm named ``prefix*`` is in ALARM; fail naming each one that is, or when none exist."""
    alarms = pipeline_alarms(cloudwatch, prefix)
    firing = [alarm for alarm in alarms if alarm.firing]
    counts = {
        state: sum(1 for a in alarms if a.state == state) for state in ("OK", "ALARM", "INSUFFICIENT_DATA")
    }
    metadata: dict[str, Any] = {
        "alarm_prefix": dg.MetadataValue.text(prefix),
        "alarms": dg.MetadataValue.md(states_table(alarms)),
        **{f"in_{state.lower()}": dg.MetadataValue.int(count) for state, count in counts.items()},
    }
    if not alarms:
        description = (
            f"no CloudWatch alarm is named {prefix}*, so nothing watches the pipeline; provision the stack "
            "again with the current template (`sales-cdc up`, or `sales-cdc deploy` on aws)"
        )
    elif firing:
        description = "\n".join(alarm.problem() for alarm in firing)
    else:
        waiting = counts["INSUFFICIENT_DATA"]
        description = f"{len(alarms)} alarms, none in ALARM" + (
            f" ({waiting} without enough data yet)" if waiting else ""
        )
    return dg.AssetCheckResult(
        passed=bool(alarms) and not firing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )


def newest_raw_object(s3: Any, bucket: str, raw_prefix: str, now: datetime) -> dict[str, Any] | None:
    """The newest object of the raw CDC prefix among today's and yesterday's event dates (UTC), or None.

    Only the two newest ``dt=`` partitions are listed: the lake keeps every day, and a change arriving
    now has an event time of now (or just before midnight), so older partitions cannot hold it.
    """
    days = [(now - timedelta(days=back)).strftime("%Y-%m-%d") for back in (0, 1)]
    objects = [
        obj for day in days for obj in list_objects(s3, bucket, raw_prefix + partition_folder(["dt"], [day]))
    ]
    return max(objects, key=lambda obj: obj["LastModified"], default=None)


def check_raw_objects_fresh(
    s3: Any, bucket: str, raw_prefix: str, now: datetime | None = None
) -> dg.AssetCheckResult:
    """Pass when the newest raw CDC object is younger than the freshness threshold (WARN otherwise)."""
    now = now or datetime.now(UTC)
    threshold = freshness_minutes()
    newest = newest_raw_object(s3, bucket, raw_prefix, now)
    metadata: dict[str, Any] = {"threshold_minutes": dg.MetadataValue.float(float(threshold))}
    if newest is None:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"no raw CDC object under s3://{bucket}/{raw_prefix} for today or yesterday (UTC): no change "
                "has arrived for a day; check the pipeline_alarms_ok check and that orders are written"
            ),
            metadata=metadata,
        )
    age_minutes = (now - newest["LastModified"].astimezone(UTC)).total_seconds() / 60
    metadata.update(
        newest_object=dg.MetadataValue.text(f"s3://{bucket}/{newest['Key']}"),
        newest_written_at=dg.MetadataValue.text(newest["LastModified"].astimezone(UTC).isoformat()),
        age_minutes=dg.MetadataValue.float(round(age_minutes, 2)),
    )
    fresh = age_minutes <= threshold
    return dg.AssetCheckResult(
        passed=fresh,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"the newest raw object was written {age_minutes:.1f} min ago"
            + ("" if fresh else f", more than {threshold:g} min: data stopped arriving or the source is idle")
        ),
        metadata=metadata,
    )


@dg.asset_check(
    asset=raw_orders_cdc,
    name="pipeline_alarms_ok",
    description="No pipeline alarm (lag, delivery, Lambda, Pipe, dead letters, error records) is in ALARM.",
)
def pipeline_alarms_ok(cloudwatch: CloudWatchResource) -> dg.AssetCheckResult:
    """The stack's alarms, read through CloudWatch's API."""
    return check_pipeline_alarms(cloudwatch.get_client(), cloudwatch.stack_alarm_prefix())


@dg.asset_check(
    asset=raw_orders_cdc,
    name="raw_objects_fresh",
    description="The newest raw CDC object is recent ($SALES_CDC_FRESHNESS_MINUTES, 60 by default).",
)
def raw_objects_fresh(s3: S3Resource, lake: LakeResource) -> dg.AssetCheckResult:
    """When the newest raw CDC object was written."""
    return check_raw_objects_fresh(s3_client(s3), lake.bucket, lake.raw_prefix)


HEALTH_CHECKS = [pipeline_alarms_ok, raw_objects_fresh]
