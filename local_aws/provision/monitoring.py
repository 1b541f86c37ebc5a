"""Appliers for watching the pipeline: CloudWatch alarms and dashboards, the SNS topic they notify and
its key, subscriptions and policy.

The emulator keeps them as AWS would; evaluating the alarms against the published metrics is the job
of the local CloudWatch stand-in, which reads whatever alarms exist (so the template stays the one
list of them).
"""

from __future__ import annotations

import json
from typing import Any

from local_aws.provision.common import Applied, Clients, ProvisionError, as_int

_ALARM_INTEGERS = ("Period", "EvaluationPeriods", "DatapointsToAlarm")
_ALARM_PASSED_AS_IS = (
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "ExtendedStatistic",
    "ComparisonOperator",
    "TreatMissingData",
    "Unit",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "EvaluateLowSampleCountPercentile",
)


def kms_key(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::KMS::Key: a symmetric key with its policy and rotation, found again by its Description.

    A key has no name; the template gives each key a Description unique in the stack, and the key
    of that description (not pending deletion) is the one this resource owns.
    """
    description = p.get("Description")
    if not description:
        raise ProvisionError("an AWS::KMS::Key needs a Description here: it is how the key is found again")
    found = None
    for page in c.kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            metadata = c.kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if metadata.get("Description") == description and metadata["KeyState"] != "PendingDeletion":
                found = metadata
    if exists_only:
        return (
            None if found is None else Applied(found["KeyId"], {"Arn": found["Arn"], "KeyId": found["KeyId"]})
        )
    policy = json.dumps(p["KeyPolicy"])
    if found is None:
        found = c.kms.create_key(Description=description, Policy=policy)["KeyMetadata"]
    else:
        c.kms.put_key_policy(KeyId=found["KeyId"], PolicyName="default", Policy=policy)
    if str(p.get("EnableKeyRotation", False)).lower() == "true":
        c.kms.enable_key_rotation(KeyId=found["KeyId"])
    else:
        c.kms.disable_key_rotation(KeyId=found["KeyId"])
    return Applied(found["KeyId"], {"Arn": found["Arn"], "KeyId": found["KeyId"]})


def _topic_arn(c: Clients, name: str) -> str | None:
    for page in c.sns.get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                return topic["TopicArn"]
    return None


def sns_topic(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::SNS::Topic: its display name and encryption key."""
    name = p["TopicName"]
    arn = _topic_arn(c, name)
    if exists_only:
        return None if arn is None else Applied(arn, {"TopicArn": arn, "TopicName": name})
    if arn is None:
        arn = c.sns.create_topic(Name=name)["TopicArn"]
    for attribute in ("DisplayName", "KmsMasterKeyId"):
        c.sns.set_topic_attributes(
            TopicArn=arn, AttributeName=attribute, AttributeValue=str(p.get(attribute, ""))
        )
    return Applied(arn, {"TopicArn": arn, "TopicName": name})


def sns_topic_policy(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::SNS::TopicPolicy: the policy document on each of its topics."""
    if exists_only:
        return Applied("topic-policy") if all(_topic_exists(c, arn) for arn in p["Topics"]) else None
    for arn in p["Topics"]:
        c.sns.set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(p["PolicyDocument"])
        )
    return Applied("topic-policy")


def _topic_exists(c: Clients, arn: str) -> bool:
    return _topic_arn(c, arn.rsplit(":", 1)[-1]) == arn


def sns_subscription(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::SNS::Subscription: one protocol and endpoint on a topic (an e-mail one stays pending locally)."""
    topic, protocol, endpoint = p["TopicArn"], p["Protocol"], p["Endpoint"]
    found = [
        sub["SubscriptionArn"]
        for page in c.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
        for sub in page["Subscriptions"]
        if sub["Protocol"] == protocol and sub["Endpoint"] == endpoint
    ]
    if exists_only:
        return Applied(found[0]) if found else None
    if found:
        return Applied(found[0])
    arn = c.sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=True)
    return Applied(arn["SubscriptionArn"])


def cloudwatch_alarm(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::CloudWatch::Alarm on one metric or on metric math (Metrics): put_metric_alarm replaces the
    definition, keeping its state."""
    name = p["AlarmName"]
    found = c.cloudwatch.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"])["MetricAlarms"]
    if exists_only:
        return Applied(name, {"Arn": found[0]["AlarmArn"]}) if found else None
    kwargs: dict[str, Any] = {key: p[key] for key in _ALARM_PASSED_AS_IS if key in p}
    if "Metrics" in p:
        kwargs["Metrics"] = [_metric_query(name, query) for query in p["Metrics"]]
    kwargs.update({key: as_int(p[key]) for key in _ALARM_INTEGERS if key in p})
    try:
        threshold = float(p["Threshold"])
    except (KeyError, TypeError, ValueError):
        raise ProvisionError(f"alarm {name!r}: Threshold {p.get('Threshold')!r} is not a number") from None
    actions_enabled = str(p.get("ActionsEnabled", True)).lower() == "true"
    c.cloudwatch.put_metric_alarm(
        AlarmName=name, Threshold=threshold, ActionsEnabled=actions_enabled, **kwargs
    )
    arn = c.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    return Applied(name, {"Arn": arn})


def _metric_query(alarm: str, query: Any) -> dict[str, Any]:
    """One entry of a metric-math alarm's Metrics in the shape put_metric_alarm takes."""
    if not isinstance(query, dict) or not query.get("Id"):
        raise ProvisionError(f"alarm {alarm!r}: each entry of Metrics needs an Id; found {query!r}")
    shaped: dict[str, Any] = {"Id": query["Id"]}
    for key in ("Expression", "Label"):
        if key in query:
            shaped[key] = str(query[key])
    if "ReturnData" in query:
        shaped["ReturnData"] = str(query["ReturnData"]).lower() == "true"
    if "Period" in query:
        shaped["Period"] = as_int(query["Period"])
    stat = query.get("MetricStat")
    if stat is not None:
        try:
            metric = stat["Metric"]
            shaped["MetricStat"] = {
                "Metric": {
                    "Namespace": metric["Namespace"],
                    "MetricName": metric["MetricName"],
                    "Dimensions": [
                        {"Name": d["Name"], "Value": str(d["Value"])} for d in metric.get("Dimensions", [])
                    ],
                },
                "Period": as_int(stat["Period"]),
                "Stat": stat["Stat"],
            }
        except (KeyError, TypeError) as exc:
            raise ProvisionError(
                f"alarm {alarm!r}: metric {query['Id']!r} has a MetricStat without {exc}; give it "
                "Metric (Namespace, MetricName, Dimensions), Period and Stat"
            ) from None
        if "Unit" in stat:
            shaped["MetricStat"]["Unit"] = stat["Unit"]
    if ("MetricStat" in shaped) == ("Expression" in shaped):
        raise ProvisionError(
            f"alarm {alarm!r}: metric {query['Id']!r} needs exactly one of MetricStat and Expression"
        )
    return shaped


def cloudwatch_dashboard(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::CloudWatch::Dashboard: its body (JSON text) under its name."""
    name = p["DashboardName"]
    listed = c.cloudwatch.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"]
    if exists_only:
        return Applied(name) if any(entry["DashboardName"] == name for entry in listed) else None
    body = p["DashboardBody"]
    try:
        json.loads(body)
    except (TypeError, ValueError) as exc:
        raise ProvisionError(f"dashboard {name!r}: DashboardBody is not JSON ({exc})") from None
    c.cloudwatch.put_dashboard(DashboardName=name, DashboardBody=body)
    return Applied(name)


APPLIERS = {
    "AWS::KMS::Key": kms_key,
    "AWS::SNS::Topic": sns_topic,
    "AWS::SNS::TopicPolicy": sns_topic_policy,
    "AWS::SNS::Subscription": sns_subscription,
    "AWS::CloudWatch::Alarm": cloudwatch_alarm,
    "AWS::CloudWatch::Dashboard": cloudwatch_dashboard,
}
