"""The health checks and the alarms sensor read the alarms the provisioner created in the emulator.

States are set with set_alarm_state (what CloudWatch's evaluation would do), so the checks and the
sensor are tested on the real API path without waiting for metrics.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from infra.clients import LOCAL_CREDENTIALS
from sales_cdc.health.checks import check_raw_objects_fresh, pipeline_alarms_ok
from sales_cdc.health.sensors import pipeline_alarms_sensor
from sales_cdc.resources import build_resources
from sales_cdc.resources.aws import CloudWatchResource, s3_client


@pytest.fixture
def resources(provisioned) -> dict:
    return build_resources("local")


def _alarm(settings, suffix: str) -> str:
    return f"{settings.output('AlarmNamePrefix')}{suffix}"


def test_check_fails_naming_the_alarm_in_alarm_and_passes_when_ok(provisioned, resources) -> None:
    cloudwatch = resources["cloudwatch"]
    waiting = pipeline_alarms_ok(cloudwatch=cloudwatch)  # new alarms may have no data yet: not a failure
    assert waiting.passed, waiting.description
    client = cloudwatch.get_client()
    for alarm in client.describe_alarms(AlarmNamePrefix=provisioned.output("AlarmNamePrefix"))[
        "MetricAlarms"
    ]:
        client.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="OK", StateReason="0 errors")
    ok = pipeline_alarms_ok(cloudwatch=cloudwatch)
    assert ok.passed and ok.description == "11 alarms, none in ALARM"
    assert ok.metadata["in_ok"].value == 11

    name = _alarm(provisioned, "error-records")
    cloudwatch.get_client().set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed: 1 datapoint [7.0] >= 1.0"
    )
    failed = pipeline_alarms_ok(cloudwatch=cloudwatch)
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert name in failed.description and "[7.0] >= 1.0" in failed.description
    assert "under the error prefix" in failed.description  # the alarm's description: what to do
    assert failed.metadata["in_alarm"].value == 1


def test_check_fails_when_no_alarm_exists(provisioned, resources) -> None:
    client = resources["cloudwatch"].get_client()
    names = [a["AlarmName"] for a in client.describe_alarms()["MetricAlarms"]]
    client.delete_alarms(AlarmNames=names)
    result = pipeline_alarms_ok(cloudwatch=resources["cloudwatch"])
    assert not result.passed and "provision the stack again" in result.description


def test_sensor_reports_each_transition_once(provisioned, resources) -> None:
    cloudwatch = resources["cloudwatch"]
    name = _alarm(provisioned, "pipe-dead-letters")

    def tick(cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(cursor=cursor, resources={"cloudwatch": cloudwatch})
        return pipeline_alarms_sensor(context)

    quiet = tick(None)
    assert not quiet.run_requests and "none of the 11 alarms" in quiet.skip_reason.skip_message
    cloudwatch.get_client().set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="3 messages")
    raised = tick(quiet.cursor)
    [run] = raised.run_requests
    assert run.tags["sales-cdc/alarms"] == name and name in run.run_key
    [observation] = raised.asset_events
    assert observation.asset_key == dg.AssetKey("raw_orders_cdc") and "3 messages" in observation.description
    assert json.loads(raised.cursor)[name] == "ALARM"

    still = tick(raised.cursor)
    assert not still.run_requests and name in still.skip_reason.skip_message

    cloudwatch.get_client().set_alarm_state(AlarmName=name, StateValue="OK", StateReason="0 messages")
    cleared = tick(still.cursor)
    assert not cleared.run_requests and "OK again" in cleared.asset_events[0].description


def test_raw_freshness_follows_the_newest_object(provisioned, resources, monkeypatch) -> None:
    monkeypatch.setenv("SALES_CDC_FRESHNESS_MINUTES", "10")
    lake, s3 = resources["lake"], s3_client(resources["s3"])
    empty = check_raw_objects_fresh(s3, lake.bucket, lake.raw_prefix)
    assert not empty.passed and empty.severity == dg.AssetCheckSeverity.WARN
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    key = f"{lake.raw_prefix}dt={today}/hour=00/part-1.gz"
    s3.put_object(Bucket=lake.bucket, Key=key, Body=b"{}")
    written = s3.head_object(Bucket=lake.bucket, Key=key)["LastModified"]
    fresh = check_raw_objects_fresh(s3, lake.bucket, lake.raw_prefix, now=written)
    assert fresh.passed and key in fresh.metadata["newest_object"].value
    stale = check_raw_objects_fresh(s3, lake.bucket, lake.raw_prefix, now=written + timedelta(minutes=30))
    assert not stale.passed and "more than 10 min" in stale.description


def test_sensor_skips_with_the_fix_while_the_stack_lacks_alarms(provisioned, resources) -> None:
    kept = json.dumps({f"{provisioned.output('AlarmNamePrefix')}error-records": "ALARM"})
    unprovisioned = CloudWatchResource(
        endpoint_url=provisioned.endpoint_url, region_name=provisioned.region, **LOCAL_CREDENTIALS
    )
    context = dg.build_sensor_context(cursor=kept, resources={"cloudwatch": unprovisioned})
    result = pipeline_alarms_sensor(context)
    assert not result.run_requests and result.cursor == kept
    assert "AlarmNamePrefix" in result.skip_reason.skip_message
