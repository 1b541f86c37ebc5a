"""The provisioner creates the alarms, their topic (and e-mail subscription when asked) and the dashboard
from the template, with the local deployment's thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import yaml

from infra.cfn import TemplateError, load_template, resolve_parameters
from infra.clients import LOCAL_CREDENTIALS
from local_aws.provision import load_local_parameters, provision
from local_aws.provision.common import ProvisionError


def _client(emulator, service: str):
    return boto3.client(service, endpoint_url=emulator.endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS)


def test_alarms_topic_and_dashboard_are_created_from_the_template(provisioned, emulator) -> None:
    template = load_template()
    params = resolve_parameters(template, load_local_parameters())
    cloudwatch = _client(emulator, "cloudwatch")
    alarms = {
        a["AlarmName"]: a
        for a in cloudwatch.describe_alarms(AlarmNamePrefix=provisioned.output("AlarmNamePrefix"))[
            "MetricAlarms"
        ]
    }
    declared = {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) == len(declared) == 11
    topic_arn = provisioned.output("AlarmTopicArn")
    for props in (r["Properties"] for r in declared.values()):
        name = props["AlarmName"]["Fn::Sub"].replace("${ProjectName}", params["ProjectName"])
        alarm = alarms[name]
        if "Metrics" in props:  # metric math: checked below
            continue
        assert alarm["Threshold"] == float(params[props["Threshold"]["Ref"]])
        assert alarm["Period"] == int(params["AlarmPeriodSeconds"]) == 60  # the local override
        assert (alarm["Namespace"], alarm["MetricName"]) == (props["Namespace"], props["MetricName"])
        assert alarm["TreatMissingData"] == props["TreatMissingData"]
        assert alarm["AlarmDescription"] == props["AlarmDescription"]
        assert alarm["AlarmActions"] == alarm["OKActions"] == [topic_arn]
    lag = alarms[f"{params['ProjectName']}-alarm-change-stream-iterator-age"]
    assert lag["Dimensions"] == [{"Name": "StreamName", "Value": provisioned.output("ChangeStreamName")}]
    assert lag["Threshold"] == 60000  # seconds on a laptop, not the hour AWS defaults to

    # The metric-math alarm: its metrics in the shape CloudWatch keeps, with the local period.
    math = alarms[f"{params['ProjectName']}-alarm-changes-not-delivered"]
    assert math["Metrics"] == [
        {
            "Id": "m1",
            "Label": "Orders table write capacity",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/DynamoDB",
                    "MetricName": "ConsumedWriteCapacityUnits",
                    "Dimensions": [{"Name": "TableName", "Value": provisioned.orders_table}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        },
        {
            "Id": "m2",
            "Label": "Change stream incoming records",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Kinesis",
                    "MetricName": "IncomingRecords",
                    "Dimensions": [{"Name": "StreamName", "Value": provisioned.output("ChangeStreamName")}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        },
        {
            "Id": "e1",
            "Label": "Writes without changes",
            "ReturnData": True,
            "Expression": "IF(FILL(m1, 0) > 0 AND FILL(m2, 0) == 0, 1, 0)",
        },
    ]
    assert (math["EvaluationPeriods"], math["DatapointsToAlarm"], math["Threshold"]) == (2, 2, 1.0)
    assert math["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert math["TreatMissingData"] == "notBreaching"
    assert math["AlarmActions"] == math["OKActions"] == [topic_arn]

    attributes = _client(emulator, "sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    key = _client(emulator, "kms").describe_key(KeyId=attributes["KmsMasterKeyId"])["KeyMetadata"]
    assert key["KeyState"] == "Enabled"
    assert (
        "cloudwatch.amazonaws.com" in json.loads(attributes["Policy"])["Statement"][0]["Principal"]["Service"]
    )
    assert _client(emulator, "sns").list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"] == []

    dashboard = cloudwatch.get_dashboard(DashboardName=provisioned.output("PipelineDashboardName"))
    body = json.loads(dashboard["DashboardBody"])
    stream_widget = json.dumps(body["widgets"])
    assert provisioned.output("ChangeStreamName") in stream_widget and "${" not in stream_widget


def test_email_subscription_follows_the_parameter(provisioned, emulator) -> None:
    overrides = {**load_local_parameters(), "AlarmEmail": "ops@example.com"}
    result = provision(emulator.endpoint, parameter_overrides=overrides, report=lambda line: None)
    assert result.actions["AlarmEmailSubscription"] == "created"
    subscriptions = _client(emulator, "sns").list_subscriptions_by_topic(
        TopicArn=provisioned.output("AlarmTopicArn")
    )["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]
    again = provision(emulator.endpoint, parameter_overrides=overrides, report=lambda line: None)
    assert not again.changed


def test_a_bad_alarm_email_is_refused_naming_it(clean_emulator) -> None:
    with pytest.raises(TemplateError, match="AlarmEmail.*not-an-address"):
        provision(
            clean_emulator.endpoint,
            parameter_overrides={**load_local_parameters(), "AlarmEmail": "not-an-address"},
            report=lambda line: None,
        )


def test_an_unsupported_condition_function_is_named(clean_emulator, tmp_path: Path) -> None:
    template = load_template()
    template["Conditions"]["HasAlarmEmail"] = {"Fn::Contains": [["a"], "a"]}
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    with pytest.raises(TemplateError, match="condition 'HasAlarmEmail'.*Fn::Contains"):
        provision(clean_emulator.endpoint, template_path=path, report=lambda line: None)


def test_a_metric_query_with_neither_stat_nor_expression_is_refused_naming_it(
    clean_emulator, tmp_path: Path
) -> None:
    template = load_template()
    template["Resources"]["ChangesNotDeliveredAlarm"]["Properties"]["Metrics"][0].pop("MetricStat")
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    with pytest.raises(ProvisionError, match="changes-not-delivered.*'m1' needs exactly one of MetricStat"):
        provision(clean_emulator.endpoint, template_path=path, report=lambda line: None)
