"""Metric math as local alarms evaluate it: the subset, one period at a time, refusals that say why."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from local_aws.cloudwatch import AlarmEvaluator
from local_aws.cloudwatch.math import MathError, parse

CHANGES_NOT_DELIVERED = "IF(FILL(m1, 0) > 0 AND FILL(m2, 0) == 0, 1, 0)"


@pytest.mark.parametrize(
    ("writes", "changes", "expected"),
    [
        (3.0, None, 1.0),
        (3.0, 0.0, 1.0),
        (3.0, 3.0, 0.0),
        (None, None, 0.0),
        (0.0, None, 0.0),
        (None, 2.0, 0.0),
    ],
)
def test_changes_not_delivered_is_1_only_for_writes_without_changes(
    writes: float | None, changes: float | None, expected: float
) -> None:
    expression = parse(CHANGES_NOT_DELIVERED)
    assert expression.ids == {"m1", "m2"}
    assert expression.evaluate({"m1": writes, "m2": changes}) == expected


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("1 + 2 * 3", {}, 7.0),
        ("(1 + 2) * 3", {}, 9.0),
        ("-m1 - -2", {"m1": 5.0}, -3.0),
        ("m1 / m2", {"m1": 6.0, "m2": 3.0}, 2.0),
        ("m1 / m2", {"m1": 6.0, "m2": 0.0}, None),  # no datapoint, as CloudWatch drops it
        ("m1 + 1", {"m1": None}, None),  # missing stays missing
        ("FILL(m1, -1.5) * 2", {"m1": None}, -3.0),
        ("m1 >= 2 OR m1 < 0", {"m1": 2.0}, 1.0),
        ("NOT m1 != 2 and m1 <= 2", {"m1": 2.0}, 1.0),
        ("not (m1 > 1)", {"m1": 2.0}, 0.0),
        ("IF(m1, 10, 20)", {"m1": 0.0}, 20.0),
        ("IF(m1 == 1, 10, 20)", {"m1": None}, None),
        ("2.5e1 - .5", {}, 24.5),
    ],
)
def test_the_subset_evaluates_as_cloudwatch_does(
    text: str, values: dict[str, float | None], expected: float | None
) -> None:
    assert parse(text).evaluate(values) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("RATE(m1)", "function RATE() is not evaluated locally"),
        ("FILL(m1, REPEAT)", "REPEAT and LINEAR are not evaluated locally"),
        ("m1 ** 2", "found '*'"),
        ("__import__('os')", "cannot read"),  # strings are not even tokens
        ("exp(m1)", "function exp() is not evaluated locally"),
        ("m1; m2", "cannot read '; m2'"),
        ("IF(m1, 1)", "expected ','"),
        ("1 +", "found 'the end'"),
        ("m1 m2", "expected an operator or the end, found 'm2'"),
        ("", "is empty"),
    ],
)
def test_anything_outside_the_subset_is_refused_naming_it(text: str, named: str) -> None:
    with pytest.raises(MathError) as raised:
        parse(text)
    assert named in str(raised.value) and repr(text) in str(raised.value)


def test_an_id_without_a_value_is_named() -> None:
    with pytest.raises(MathError, match=r"reads \['m2'\]"):
        parse("m1 + m2").evaluate({"m1": 1.0})


PERIOD = 60
NOW = (int(datetime.now(UTC).timestamp()) // PERIOD - 30) * PERIOD  # aligned, in the recent past


def test_the_evaluator_judges_a_metric_math_alarm_period_by_period(cloudwatch: Any) -> None:
    namespace = f"Test/{uuid.uuid4().hex}"
    # Writes in the last three periods; changes only in the oldest: the last two breach.
    data = [
        {"MetricName": metric, "Timestamp": datetime.fromtimestamp(NOW - ago * PERIOD + 5, UTC), "Value": 4.0}
        for metric, ago in [("Writes", 3), ("Writes", 2), ("Writes", 1), ("Changes", 3)]
    ]
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
    name = f"test-math-{uuid.uuid4().hex[:8]}"

    def stat(metric: str) -> dict[str, Any]:
        return {"Metric": {"Namespace": namespace, "MetricName": metric}, "Period": PERIOD, "Stat": "Sum"}

    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Metrics=[
            {"Id": "m1", "MetricStat": stat("Writes"), "ReturnData": False},
            {"Id": "m2", "MetricStat": stat("Changes"), "ReturnData": False},
            {"Id": "e1", "Expression": CHANGES_NOT_DELIVERED, "ReturnData": True},
        ],
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    evaluator = AlarmEvaluator(cloudwatch)

    def state_at(moment: float) -> dict[str, Any]:
        evaluator.evaluate_once(moment)
        (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return alarm

    assert state_at(NOW - PERIOD)["StateValue"] == "OK"  # (changes delivered, undelivered): 1 of 2
    raised = state_at(NOW)
    assert raised["StateValue"] == "ALARM"
    assert raised["StateReason"].startswith("Threshold Crossed: 2 out of the last 2 datapoints [1.0 (")
    assert state_at(NOW + 2 * PERIOD)["StateValue"] == "OK"  # no writes: 0, nothing breaches
    assert name not in evaluator.unsupported
