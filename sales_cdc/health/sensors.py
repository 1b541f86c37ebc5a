"""The alarms sensor: reports each alarm of the stack that goes into ALARM, once per transition.

The cursor holds every alarm's last seen state (JSON ``{name: state}``). An alarm entering ALARM is
logged with its figures and what to do, recorded as an observation of the raw CDC table (visible on
its page) and launches ``pipeline_health_job``, whose failed check names it; an alarm leaving ALARM is
logged and observed too. Otherwise the tick skips, saying how many alarms are in ALARM.
"""

from __future__ import annotations

import json

import dagster as dg
from botocore.exceptions import ClientError

from sales_cdc.catalog.raw_table import raw_orders_cdc
from sales_cdc.health.alarms import AlarmState, pipeline_alarms
from sales_cdc.health.jobs import pipeline_health_job
from sales_cdc.resources.aws import CloudWatchResource
from sales_cdc.settings import SettingsError

SENSOR_INTERVAL_S = 60  # CloudWatch evaluates alarms once a minute


def _observation(alarm: AlarmState) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=raw_orders_cdc.key,
        description=alarm.problem() if alarm.firing else f"{alarm.name} is {alarm.state} again",
        metadata={
            "alarm": dg.MetadataValue.text(alarm.name),
            "state": dg.MetadataValue.text(alarm.state),
            "reason": dg.MetadataValue.text(alarm.reason),
        },
    )


@dg.sensor(
    name="pipeline_alarms_sensor",
    job=pipeline_health_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reports each pipeline alarm going into ALARM and runs the health checks.",
)
def pipeline_alarms_sensor(
    context: dg.SensorEvaluationContext, cloudwatch: CloudWatchResource
) -> dg.SensorResult:
    """Compare the alarms' states with the cursor's; report transitions into and out of ALARM."""
    try:
        alarms = pipeline_alarms(cloudwatch.get_client(), cloudwatch.stack_alarm_prefix())
    except SettingsError as exc:
        # The deployment is not ready (emulator down, stack not provisioned): say so on every tick
        # instead of failing it; the cursor stays as it was.
        return dg.SensorResult(skip_reason=str(exc), cursor=context.cursor)
    except ClientError as exc:
        return dg.SensorResult(
            skip_reason=f"CloudWatch refused describe_alarms: {exc}", cursor=context.cursor
        )
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    raised = [a for a in alarms if a.firing and seen.get(a.name) != "ALARM"]
    cleared = [a for a in alarms if not a.firing and seen.get(a.name) == "ALARM"]
    for alarm in raised:
        context.log.error(alarm.problem())
    for alarm in cleared:
        context.log.info(f"{alarm.name} left ALARM: now {alarm.state} ({alarm.reason})")
    cursor = json.dumps({alarm.name: alarm.state for alarm in alarms}, sort_keys=True)
    observations = [_observation(alarm) for alarm in [*raised, *cleared]]
    if raised:
        stamp = ",".join(f"{a.name}@{a.updated_at.isoformat() if a.updated_at else ''}" for a in raised)
        run = dg.RunRequest(run_key=stamp, tags={"sales-cdc/alarms": ",".join(a.name for a in raised)})
        return dg.SensorResult(run_requests=[run], asset_events=observations, cursor=cursor)
    firing = [a.name for a in alarms if a.firing]
    reason = (
        f"{len(firing)} alarm(s) still in ALARM, already reported: {', '.join(firing)}"
        if firing
        else f"none of the {len(alarms)} alarms is in ALARM"
    )
    return dg.SensorResult(skip_reason=dg.SkipReason(reason), asset_events=observations, cursor=cursor)
