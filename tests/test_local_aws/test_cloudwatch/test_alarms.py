"""Alarm evaluation as CloudWatch does it, on the emulator's alarms and metrics, at a chosen moment."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from local_aws.cloudwatch import AlarmEvaluator

PERIOD = 60
# A fixed, period-aligned moment in the recent past: the evaluation is at NOW, datapoints before it.
NOW = (int(datetime.now(UTC).timestamp()) // PERIOD - 30) * PERIOD


def put_datapoints(cloudwatch: Any, namespace: str, values: list[float | None]) -> None:
    """One value per period before NOW, oldest first (None: nothing published in that period)."""
    data = [
        {
            "MetricName": "Signal",
            "Dimensions": [{"Name": "Thing", "Value": "x"}],
            "Timestamp": datetime.fromtimestamp(NOW - (len(values) - i) * PERIOD + 7, UTC),
            "Value": value,
        }
        for i, value in enumerate(values)
        if value is not None
    ]
    if data:
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)


def alarm(
    cloudwatch: Any,
    values: list[float | None],
    operator: str = "GreaterThanThreshold",
    threshold: float = 10.0,
    missing: str = "missing",
    datapoints_to_alarm: int | None = None,
    statistic: str = "Maximum",
) -> str:
    """A new alarm over a new metric that received ``values``; returns its name."""
    namespace = f"Test/{uuid.uuid4().hex}"
    put_datapoints(cloudwatch, namespace, values)
    name = f"test-alarm-{uuid.uuid4().hex[:12]}"
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=namespace,
        MetricName="Signal",
        Dimensions=[{"Name": "Thing", "Value": "x"}],
        Statistic=statistic,
        Period=PERIOD,
        EvaluationPeriods=len(values),
        DatapointsToAlarm=datapoints_to_alarm or len(values),
        ComparisonOperator=operator,
        Threshold=threshold,
        TreatMissingData=missing,
    )
    return name


def state(cloudwatch: Any, name: str) -> tuple[str, str]:
    (found,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return found["StateValue"], found.get("StateReason", "")


def evaluate(cloudwatch: Any, name: str, at: float = NOW) -> tuple[str, str]:
    AlarmEvaluator(cloudwatch).evaluate_once(at)
    return state(cloudwatch, name)


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("GreaterThanThreshold", 10.0, "OK"),
        ("GreaterThanThreshold", 10.5, "ALARM"),
        ("GreaterThanOrEqualToThreshold", 10.0, "ALARM"),
        ("GreaterThanOrEqualToThreshold", 9.5, "OK"),
        ("LessThanThreshold", 10.0, "OK"),
        ("LessThanThreshold", 9.5, "ALARM"),
        ("LessThanOrEqualToThreshold", 10.0, "ALARM"),
        ("LessThanOrEqualToThreshold", 10.5, "OK"),
    ],
)
def test_each_comparison_operator(cloudwatch: Any, operator: str, value: float, expected: str) -> None:
    name = alarm(cloudwatch, [value], operator=operator)
    assert evaluate(cloudwatch, name)[0] == expected


def test_the_state_reason_is_worded_like_cloudwatchs(cloudwatch: Any) -> None:
    name = alarm(cloudwatch, [120000.0], threshold=60000.0)
    stamp = datetime.fromtimestamp(NOW - PERIOD, UTC).strftime("%d/%m/%y %H:%M:%S")
    assert evaluate(cloudwatch, name) == (
        "ALARM",
        f"Threshold Crossed: 1 datapoint [120000.0 ({stamp})] was greater than the threshold (60000.0).",
    )


def test_the_statistic_is_of_the_alarms_period(cloudwatch: Any) -> None:
    namespace = f"Test/{uuid.uuid4().hex}"
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "Signal",
                "Dimensions": [{"Name": "Thing", "Value": "x"}],
                "Timestamp": datetime.fromtimestamp(NOW - PERIOD + offset, UTC),
                "Value": 4.0,
            }
            for offset in (1, 20, 40)
        ]
        # after NOW: not in the evaluated period
        + [{"MetricName": "Signal", "Dimensions": [{"Name": "Thing", "Value": "x"}], "Value": 100.0}],
    )
    cloudwatch.put_metric_alarm(
        AlarmName=(name := f"test-alarm-{uuid.uuid4().hex[:12]}"),
        Namespace=namespace,
        MetricName="Signal",
        Dimensions=[{"Name": "Thing", "Value": "x"}],
        Statistic="Sum",
        Period=PERIOD,
        EvaluationPeriods=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Threshold=12.0,
    )
    assert evaluate(cloudwatch, name)[0] == "ALARM"  # 3 x 4.0 in the period: Sum 12


@pytest.mark.parametrize(
    ("values", "m", "expected"),
    [
        ([20.0, 1.0, 20.0], 2, "ALARM"),  # 2 of 3 breaching
        ([20.0, 1.0, 1.0], 2, "OK"),
        ([1.0, 20.0, 20.0], 3, "OK"),
        ([20.0, 20.0, 20.0], 3, "ALARM"),
    ],
)
def test_m_out_of_n_datapoints(cloudwatch: Any, values: list[float], m: int, expected: str) -> None:
    name = alarm(cloudwatch, values, datapoints_to_alarm=m)
    assert evaluate(cloudwatch, name)[0] == expected


@pytest.mark.parametrize(
    ("missing", "values", "expected"),
    [
        ("breaching", [None], "ALARM"),
        ("notBreaching", [None], "OK"),
        ("missing", [None], "INSUFFICIENT_DATA"),
        ("ignore", [None], "INSUFFICIENT_DATA"),  # kept: the state a new alarm starts in
        ("breaching", [20.0, None, None], "ALARM"),
        ("notBreaching", [20.0, None, None], "OK"),
        ("missing", [None, None, 20.0], "ALARM"),  # fewer datapoints than M: all of them breach
        ("missing", [None, 1.0, 20.0], "OK"),
        ("ignore", [None, None, 1.0], "OK"),
    ],
)
def test_missing_data_modes(cloudwatch: Any, missing: str, values: list[float | None], expected: str) -> None:
    name = alarm(cloudwatch, values, missing=missing)
    assert evaluate(cloudwatch, name)[0] == expected


def test_ignore_keeps_the_current_state_and_missing_goes_to_insufficient_data(cloudwatch: Any) -> None:
    ignoring = alarm(cloudwatch, [20.0], missing="ignore")
    missing = alarm(cloudwatch, [20.0], missing="missing")
    assert evaluate(cloudwatch, ignoring)[0] == "ALARM" and state(cloudwatch, missing)[0] == "ALARM"

    later = NOW + 5 * PERIOD  # nothing was published after NOW
    assert evaluate(cloudwatch, ignoring, at=later)[0] == "ALARM"
    assert state(cloudwatch, missing) == ("INSUFFICIENT_DATA", "Insufficient Data: 1 datapoint was unknown.")


def test_a_state_is_set_only_when_it_changes(cloudwatch: Any) -> None:
    name = alarm(cloudwatch, [20.0])
    evaluator = AlarmEvaluator(cloudwatch)
    first = [t for t in evaluator.evaluate_once(NOW) if t.alarm_name == name]
    (updated,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    again = [t for t in evaluator.evaluate_once(NOW) if t.alarm_name == name]
    (unchanged,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert [(t.old_state, t.new_state) for t in first] == [("INSUFFICIENT_DATA", "ALARM")]
    assert again == []
    assert unchanged["StateUpdatedTimestamp"] == updated["StateUpdatedTimestamp"]


def test_a_window_that_began_before_the_metrics_started_is_not_judged(cloudwatch) -> None:
    # Locally the metrics start with the data plane: the missing data before that moment is not a
    # stopped consumer, so an alarm treating missing data as breaching must not fire on start-up.
    name = alarm(cloudwatch, [None], missing="breaching")
    AlarmEvaluator(cloudwatch, publishing_since=NOW - PERIOD / 2).evaluate_once(NOW)
    assert state(cloudwatch, name)[0] == "INSUFFICIENT_DATA"
    AlarmEvaluator(cloudwatch, publishing_since=NOW - PERIOD).evaluate_once(NOW)
    assert state(cloudwatch, name)[0] == "ALARM"
