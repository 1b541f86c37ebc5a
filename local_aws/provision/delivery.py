"""Appliers for what delivers the changes: IAM roles, the Pipe, the Lambda transform, Firehose, its logs."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from infra.deploy.package import build_lambda_package
from local_aws.provision.common import ACCOUNT_ID, Applied, Clients, as_int, describe_or_none, typed
from local_aws.provision.data import ensure_bucket


def iam_role(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::IAM::Role: trust policy and inline policies (others are deleted)."""
    name = p["RoleName"]
    role = describe_or_none(lambda: c.iam.get_role(RoleName=name)["Role"], "NoSuchEntity")
    if exists_only:
        return None if role is None else Applied(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})
    trust = json.dumps(p["AssumeRolePolicyDocument"])
    if role is None:
        role = c.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]
    else:
        c.iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
    wanted = {policy["PolicyName"]: policy["PolicyDocument"] for policy in p.get("Policies", [])}
    for policy_name in c.iam.list_role_policies(RoleName=name)["PolicyNames"]:
        if policy_name not in wanted:
            c.iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    for policy_name, document in wanted.items():
        c.iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    return Applied(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


def pipe(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::Pipes::Pipe: source and target parameters (StartingPosition only at creation, as on AWS)."""
    name = p["Name"]
    found = describe_or_none(
        lambda: c.pipes.describe_pipe(Name=name), "NotFoundException", "ResourceNotFoundException"
    )
    if exists_only:
        return None if found is None else Applied(name, {"Arn": found["Arn"]})
    source = typed(p.get("SourceParameters", {}))
    target = typed(p.get("TargetParameters", {}))
    common = {
        "Name": name,
        "Description": p.get("Description", ""),
        "DesiredState": p.get("DesiredState", "RUNNING"),
        "Target": p["Target"],
        "TargetParameters": target,
        "RoleArn": p["RoleArn"],
    }
    if found is None:
        found = c.pipes.create_pipe(**common, Source=p["Source"], SourceParameters=source)
    else:
        # update_pipe cannot change StartingPosition (AWS neither); it is fixed at creation.
        stream_params = dict(source.get("DynamoDBStreamParameters", {}))
        stream_params.pop("StartingPosition", None)
        c.pipes.update_pipe(**common, SourceParameters={"DynamoDBStreamParameters": stream_params})
    return Applied(name, {"Arn": found["Arn"]})


def log_group(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::Logs::LogGroup with its retention."""
    name = p["LogGroupName"]
    found = [
        g
        for g in c.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        if g["logGroupName"] == name
    ]
    if exists_only and not found:
        return None
    if not exists_only:
        if not found:
            c.logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in p:
            c.logs.put_retention_policy(logGroupName=name, retentionInDays=as_int(p["RetentionInDays"]))
    arn = f"arn:aws:logs:{c.logs.meta.region_name}:{ACCOUNT_ID}:log-group:{name}:*"
    return Applied(name, {"Arn": arn})


def log_stream(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::Logs::LogStream."""
    group, name = p["LogGroupName"], p["LogStreamName"]
    streams = c.logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=name)["logStreams"]
    exists = any(s["logStreamName"] == name for s in streams)
    if exists_only:
        return Applied(name) if exists else None
    if not exists:
        c.logs.create_log_stream(logGroupName=group, logStreamName=name)
    return Applied(name)


def lambda_function(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::Lambda::Function: configuration, code (from the uploaded package) and reserved concurrency."""
    name = p["FunctionName"]
    function = describe_or_none(
        lambda: c.lambda_.get_function(FunctionName=name)["Configuration"], "ResourceNotFoundException"
    )
    if exists_only:
        return None if function is None else Applied(name, {"Arn": function["FunctionArn"]})
    config = {
        "Role": p["Role"],
        "Handler": p["Handler"],
        "Runtime": p["Runtime"],
        "Description": p.get("Description", ""),
        "Timeout": as_int(p.get("Timeout", 3)),
        "MemorySize": as_int(p.get("MemorySize", 128)),
        "Environment": p.get("Environment", {"Variables": {}}),
    }
    code = p["Code"]
    if function is None:
        function = c.lambda_.create_function(FunctionName=name, Code=code, **config)
    else:
        c.lambda_.update_function_configuration(FunctionName=name, **config)
        function = c.lambda_.update_function_code(FunctionName=name, **code)
    if "ReservedConcurrentExecutions" in p:
        c.lambda_.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=as_int(p["ReservedConcurrentExecutions"])
        )
    return Applied(name, {"Arn": function["FunctionArn"]})


def delivery_stream(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::KinesisFirehose::DeliveryStream: source and extended S3 destination (the data plane reads it)."""
    name = p["DeliveryStreamName"]

    def describe() -> dict[str, Any]:
        return c.firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]

    description = describe_or_none(describe, "ResourceNotFoundException")
    if exists_only:
        return None if description is None else Applied(name, {"Arn": description["DeliveryStreamARN"]})
    destination = typed(p["ExtendedS3DestinationConfiguration"])
    if description is None:
        kwargs: dict[str, Any] = {
            "DeliveryStreamName": name,
            "DeliveryStreamType": p.get("DeliveryStreamType", "DirectPut"),
            "ExtendedS3DestinationConfiguration": destination,
        }
        if "KinesisStreamSourceConfiguration" in p:
            kwargs["KinesisStreamSourceConfiguration"] = p["KinesisStreamSourceConfiguration"]
        c.firehose.create_delivery_stream(**kwargs)
    else:
        c.firehose.update_destination(
            DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId=description["VersionId"],
            DestinationId=description["Destinations"][0]["DestinationId"],
            ExtendedS3DestinationUpdate=destination,
        )
    return Applied(name, {"Arn": describe()["DeliveryStreamARN"]})


def upload_lambda_package(c: Clients, bucket: str, key: str) -> str:
    """Put the Lambda package where the template's Code points, unless it is there already; its hash."""
    # The sources only: locally the Firehose stand-in runs the handler in-process from this checkout
    # (with the project's own orjson), so vendoring wheels for Lambda's platform would buy nothing and
    # need the package index at provisioning time. `sales-cdc deploy` vendors them for AWS.
    package = build_lambda_package()
    ensure_bucket(c, bucket)
    try:
        current = c.s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256")
    except ClientError:
        current = None
    if current != package.sha256:
        c.s3.put_object(Bucket=bucket, Key=key, Body=package.data, Metadata={"sha256": package.sha256})
    return package.sha256


APPLIERS = {
    "AWS::IAM::Role": iam_role,
    "AWS::Pipes::Pipe": pipe,
    "AWS::Logs::LogGroup": log_group,
    "AWS::Logs::LogStream": log_stream,
    "AWS::Lambda::Function": lambda_function,
    "AWS::KinesisFirehose::DeliveryStream": delivery_stream,
}
