"""Issue 18: a stopped Pipe while orders are written raises the template's changes-not-delivered alarm
(metric math over DynamoDB's ConsumedWriteCapacityUnits and the change stream's IncomingRecords), the
Dagster check fails naming it, and starting the Pipe again clears it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from local_aws.cloudwatch import AlarmEvaluator
from local_aws.dataplane import DataPlane, format_health
from sales_cdc.health.checks import pipeline_alarms_ok
from sales_cdc.resources import build_resources
from sales_cdc.settings import Settings
from test_local_aws.dataplane_helpers import Clients, wait_for

PERIOD = 10  # the shortest alarm period, so two periods pass within seconds


def with_short_period(alarm: dict[str, Any]) -> dict[str, Any]:
    """The provisioned alarm's definition, every metric's period set to PERIOD."""
    metrics = []
    for query in alarm["Metrics"]:
        query = dict(query)
        if "MetricStat" in query:
            query["MetricStat"] = {**query["MetricStat"], "Period": PERIOD}
        metrics.append(query)
    keys = (
        "AlarmName",
        "AlarmDescription",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "AlarmActions",
        "OKActions",
    )
    return {**{key: alarm[key] for key in keys}, "Metrics": metrics}


@pytest.mark.e2e
def test_a_stopped_pipe_while_orders_are_written_raises_changes_not_delivered(
    provisioned: Settings, aws: Clients, make_data_plane: Callable[..., DataPlane]
) -> None:
    name = f"{provisioned.output('AlarmNamePrefix')}changes-not-delivered"
    (provisioned_alarm,) = aws.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert provisioned_alarm["EvaluationPeriods"] == provisioned_alarm["DatapointsToAlarm"] == 2
    aws.cloudwatch.put_metric_alarm(**with_short_period(provisioned_alarm))
    evaluator = AlarmEvaluator(aws.cloudwatch)  # only this test's clock moves it

    def state_at(moment: float) -> str:
        evaluator.evaluate_once(moment)
        (alarm,) = aws.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return alarm["StateValue"]

    pipe = provisioned.output("PipeName")
    aws.pipes.stop_pipe(Name=pipe)
    plane = make_data_plane(provisioned, status_file=None, metrics_flush_s=1.0, alarm_every_s=3600).start()
    try:
        wait_for(lambda: plane.health()["pipe"]["state"] == "STOPPED", 30, "the pipe to report STOPPED")
        # Orders written in two consecutive periods while the Pipe is stopped.
        first = int(time.time()) // PERIOD * PERIOD
        written = 0
        while time.time() < first + PERIOD + 1:
            written += 1
            aws.dynamodb.put_item(
                TableName=provisioned.orders_table, Item={"orderId": {"S": f"undelivered-{written}"}}
            )
            time.sleep(0.2)
        end_of_second_period = first + 2 * PERIOD
        wait_for(
            lambda: state_at(end_of_second_period) == "ALARM",
            30,
            f"the changes-not-delivered alarm; health: {format_health(plane.health())}",
        )
        (raised,) = aws.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]

        failed = pipeline_alarms_ok(cloudwatch=build_resources("local")["cloudwatch"])
        assert not failed.passed
        assert "changes-not-delivered" in failed.description and "Pipe is RUNNING" in failed.description

        aws.pipes.start_pipe(Name=pipe)
        wait_for(
            lambda: plane.health()["pipe"]["events_moved"] >= written,
            30,
            f"the started pipe to move {written} events; health: {format_health(plane.health())}",
        )
        # The moved changes reach the change stream: the period they arrived in does not breach.
        wait_for(
            lambda: state_at(time.time() + PERIOD) == "OK",
            30,
            f"the changes-not-delivered alarm to clear; health: {format_health(plane.health())}",
        )
    finally:
        plane.stop()

    assert raised["StateReason"].startswith("Threshold Crossed: 2 out of the last 2 datapoints [1.0 (")
    assert written >= 2


def test_an_alarm_on_metric_math_outside_the_local_subset_is_left_alone(cloudwatch: Any) -> None:
    name = f"test-rate-{uuid.uuid4().hex[:8]}"
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Metrics=[
            {
                "Id": "m1",
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {"Namespace": "SalesCdc", "MetricName": "ErrorRecords", "Dimensions": []},
                    "Period": PERIOD,
                    "Stat": "Sum",
                },
            },
            {"Id": "e1", "Expression": "RATE(m1)", "ReturnData": True},
        ],
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="breaching",
    )
    evaluator = AlarmEvaluator(cloudwatch)
    evaluator.evaluate_once(time.time() + PERIOD)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"  # as created: not judged with a wrong expression
    assert "RATE" in evaluator.unsupported[name]
