"""The template watches the pipeline: an alarm per signal with a parameterised threshold and a description
saying what to do, an encrypted notification topic CloudWatch may publish to, an optional e-mail
subscription and a dashboard of the pipeline from write to S3."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.cfn import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]

# logical id -> (namespace, metric, dimension, resource measured, comparison, treat missing data)
EXPECTED_ALARMS = {
    "ChangeStreamIteratorAgeAlarm": ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", "ChangeStream", "GreaterThanThreshold", "breaching"),  # noqa: E501
    "DeliveryFreshnessAlarm": ("AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", "DeliveryStream", "GreaterThanThreshold", "ignore"),  # noqa: E501
    "DeliverySuccessAlarm": ("AWS/Firehose", "DeliveryToS3.Success", "DeliveryStreamName", "DeliveryStream", "LessThanThreshold", "notBreaching"),  # noqa: E501
    "TransformErrorsAlarm": ("AWS/Lambda", "Errors", "FunctionName", "TransformFunction", "GreaterThanOrEqualToThreshold", "notBreaching"),  # noqa: E501
    "TransformThrottlesAlarm": ("AWS/Lambda", "Throttles", "FunctionName", "TransformFunction", "GreaterThanOrEqualToThreshold", "notBreaching"),  # noqa: E501
    "PipeFailedExecutionsAlarm": ("AWS/EventBridge/Pipes", "ExecutionFailed", "PipeName", "OrdersPipe", "GreaterThanOrEqualToThreshold", "notBreaching"),  # noqa: E501
    "PipeThrottledExecutionsAlarm": ("AWS/EventBridge/Pipes", "ExecutionThrottled", "PipeName", "OrdersPipe", "GreaterThanOrEqualToThreshold", "notBreaching"),  # noqa: E501
    "PipeDeadLettersAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "PipeDeadLetterQueue", "GreaterThanOrEqualToThreshold", "notBreaching"),  # noqa: E501
    "ErrorRecordsAlarm": ("SalesCdc", "ErrorRecords", "DeliveryStreamName", "DeliveryStream", "GreaterThanOrEqualToThreshold", "notBreaching"),  # noqa: E501
    "OrdersWriteThrottlesAlarm": ("AWS/DynamoDB", "WriteThrottleEvents", "TableName", "OrdersTable", "GreaterThanOrEqualToThreshold", "notBreaching"),  # noqa: E501
}  # fmt: skip
# Metric-math alarms (no Namespace/MetricName of their own): logical id -> the metrics they combine.
EXPECTED_MATH_ALARMS = {
    "ChangesNotDeliveredAlarm": {
        "m1": ("AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", "OrdersTable", "Sum"),
        "m2": ("AWS/Kinesis", "IncomingRecords", "StreamName", "ChangeStream", "Sum"),
    },
}


def _target(reference: Any) -> str:
    if "Ref" in reference:
        return reference["Ref"]
    return reference["Fn::GetAtt"][0]


def test_every_signal_has_exactly_one_alarm() -> None:
    alarms = {lid for lid, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == set(EXPECTED_ALARMS) | set(EXPECTED_MATH_ALARMS)


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_ALARMS))
def test_alarm_watches_its_metric_with_a_parameterised_threshold(logical_id: str) -> None:
    namespace, metric, dimension, measured, comparison, missing = EXPECTED_ALARMS[logical_id]
    props = RESOURCES[logical_id]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == (namespace, metric)
    [dim] = props["Dimensions"]
    assert dim["Name"] == dimension and _target(dim["Value"]) == measured
    assert props["ComparisonOperator"] == comparison
    assert props["TreatMissingData"] == missing
    threshold = props["Threshold"]["Ref"]
    assert PARAMETERS[threshold]["Type"] == "Number" and "Default" in PARAMETERS[threshold]
    assert props["Period"] == {"Ref": "AlarmPeriodSeconds"}
    assert props["AlarmName"]["Fn::Sub"].startswith("${ProjectName}-alarm-")
    description = props["AlarmDescription"]
    assert 20 < len(description) < 256 and "\n" not in description
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopic"}]


def test_changes_not_delivered_alarm_fires_on_writes_without_changes() -> None:
    """Orders written (DynamoDB write capacity) while the Pipe's only target receives nothing."""
    props = RESOURCES["ChangesNotDeliveredAlarm"]["Properties"]
    assert "Namespace" not in props and "MetricName" not in props and "Period" not in props
    queries = {q["Id"]: q for q in props["Metrics"]}
    stats = {qid: q for qid, q in queries.items() if "MetricStat" in q}
    assert set(stats) == set(EXPECTED_MATH_ALARMS["ChangesNotDeliveredAlarm"])
    for qid, (namespace, metric, dimension, measured, stat) in EXPECTED_MATH_ALARMS[
        "ChangesNotDeliveredAlarm"
    ].items():
        metric_stat = stats[qid]["MetricStat"]
        assert (metric_stat["Metric"]["Namespace"], metric_stat["Metric"]["MetricName"]) == (
            namespace,
            metric,
        )
        [dim] = metric_stat["Metric"]["Dimensions"]
        assert dim["Name"] == dimension and _target(dim["Value"]) == measured
        assert metric_stat["Stat"] == stat and metric_stat["Period"] == {"Ref": "AlarmPeriodSeconds"}
        assert stats[qid]["ReturnData"] is False
    [returned] = [q for q in queries.values() if q.get("ReturnData") is True]
    assert returned["Id"] == "e1"
    assert returned["Expression"] == "IF(FILL(m1, 0) > 0 AND FILL(m2, 0) == 0, 1, 0)"
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and props["Threshold"] == 1
    assert props["TreatMissingData"] == "notBreaching"
    periods = props["EvaluationPeriods"]["Ref"]
    assert props["DatapointsToAlarm"] == {"Ref": periods}
    assert PARAMETERS[periods]["Type"] == "Number" and PARAMETERS[periods]["Default"] == 2
    assert props["AlarmName"] == {"Fn::Sub": "${ProjectName}-alarm-changes-not-delivered"}
    description = props["AlarmDescription"]
    assert 20 < len(description) < 256 and "Pipe" in description
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopic"}]


def test_alarm_topic_is_kms_encrypted_with_a_key_cloudwatch_may_use() -> None:
    topic = RESOURCES["AlarmTopic"]["Properties"]
    assert _target(topic["KmsMasterKeyId"]) == "AlarmTopicKey"
    key = RESOURCES["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    grants = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert grants and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(grants[0]["Action"])
    assert "aws:SourceAccount" in grants[0]["Condition"]["StringEquals"]
    policy = RESOURCES["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in policy)


def test_email_subscription_exists_only_when_an_address_is_given() -> None:
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert PARAMETERS["AlarmEmail"]["Default"] == ""
    assert TEMPLATE["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }


def test_dashboard_shows_every_hop_from_write_to_s3() -> None:
    body = json.loads(RESOURCES["PipelineDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"])
    shown = {(m[0], m[1]) for widget in body["widgets"] for m in widget["properties"]["metrics"]}
    for hop in [
        ("AWS/DynamoDB", "ConsumedWriteCapacityUnits"),
        ("AWS/EventBridge/Pipes", "Invocations"),
        ("AWS/Kinesis", "IncomingRecords"),
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds"),
        ("AWS/Lambda", "Invocations"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Firehose", "DeliveryToS3.Success"),
        ("AWS/Firehose", "DeliveryToS3.DataFreshness"),
        ("SalesCdc", "ErrorRecords"),
    ]:
        assert hop in shown, f"the dashboard does not show {hop}"


def test_outputs_name_what_the_application_reads() -> None:
    outputs = TEMPLATE["Outputs"]
    assert outputs["AlarmNamePrefix"]["Value"] == {"Fn::Sub": "${ProjectName}-alarm-"}
    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}
    assert outputs["PipelineDashboardName"]["Value"] == {"Ref": "PipelineDashboard"}
