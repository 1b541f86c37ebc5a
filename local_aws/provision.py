"""Local provisioner: applies ``infra/template.yaml`` to the embedded AWS through each service's own API.

moto's CloudFormation skips Firehose, Pipes, Glue and Athena resources, so every resource type is
applied here with the same boto3 calls a human would make, every property taken from the template
(parameters, Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Split resolved by ``infra.cfn``).

Idempotent: a hash of each resource's resolved properties is kept in the emulator itself (SSM
Parameter Store under ``/sales-cdc/provisioned/``), so it lives and dies with the emulator. A resource
that exists with the same hash is left alone; a changed one is updated in place; a missing one is
created. The stack outputs are written where ``sales_cdc.settings`` reads them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.cfn import (
    LOCAL_PARAMETERS_PATH,
    TEMPLATE_PATH,
    Resolver,
    TemplateError,
    dependency_order,
    load_template,
    outputs,
    references,
    resolve_parameters,
)
from infra.clients import LOCAL_CREDENTIALS

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
STACK_NAME = "sales-cdc-local"
_STATE_PREFIX = "/sales-cdc/provisioned/"
_PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::Region",
    "AWS::Partition",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::URLSuffix",
    "AWS::NoValue",
}


class ProvisionError(RuntimeError):
    """Provisioning failed; the message names the resource, the problem, and what was already applied."""


@dataclass
class Applied:
    """What applying one resource produced."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class ProvisionResult:
    """The outcome of a provisioning run."""

    outputs: dict[str, str]
    actions: dict[str, str]  # logical id -> created | updated | unchanged
    seconds: float

    @property
    def changed(self) -> bool:
        return any(action != "unchanged" for action in self.actions.values())


def load_local_parameters(path: Path = LOCAL_PARAMETERS_PATH) -> dict[str, Any]:
    """The local deployment's parameter overrides (keys starting with '_' are comments)."""
    data = json.loads(path.read_text())
    return {key: value for key, value in data.items() if not key.startswith("_")}


class _Clients:
    """boto3 clients for the emulator, created on first use."""

    def __init__(self, endpoint: str, region: str) -> None:
        self._session = boto3.session.Session(region_name=region, **LOCAL_CREDENTIALS)
        self._endpoint = endpoint
        self._clients: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        if service not in self._clients:
            # `lambda` is a keyword: the attribute is `lambda_`.
            name = service.rstrip("_")
            self._clients[service] = self._session.client(name, endpoint_url=self._endpoint)
        return self._clients[service]


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _int(value: Any) -> int:
    return int(float(value))


def _wait(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ProvisionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- appliers
# Each applier creates or updates one resource from its resolved properties and returns its Ref
# value and Fn::GetAtt attributes. ``exists`` says whether it is there already.


def _dynamodb_table(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    name = p["TableName"]
    try:
        table = c.dynamodb.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        table = None
    if exists_only:
        return (
            None
            if table is None
            else Applied(name, {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn", "")})
        )
    stream = p.get("StreamSpecification")
    stream_spec = (
        {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        if stream
        else {"StreamEnabled": False}
    )
    billing = p.get("BillingMode", "PROVISIONED")
    if table is None:
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": p["AttributeDefinitions"],
            "KeySchema": p["KeySchema"],
            "BillingMode": billing,
            "StreamSpecification": stream_spec,
        }
        if billing == "PROVISIONED":
            kwargs["ProvisionedThroughput"] = {k: _int(v) for k, v in p["ProvisionedThroughput"].items()}
        if p.get("SSESpecification", {}).get("SSEEnabled"):
            kwargs["SSESpecification"] = {"Enabled": True}
        c.dynamodb.create_table(**kwargs)
    else:
        if table["KeySchema"] != p["KeySchema"]:
            raise ProvisionError(
                f"table {name!r}: the key schema changed from {table['KeySchema']} to {p['KeySchema']}, "
                "which requires replacing the table; delete it (or restart the emulator) and provision again"
            )
        current_stream = table.get("StreamSpecification") or {"StreamEnabled": False}
        if current_stream != stream_spec:
            if current_stream.get("StreamEnabled"):
                c.dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
            if stream_spec["StreamEnabled"]:
                c.dynamodb.update_table(TableName=name, StreamSpecification=stream_spec)
    _wait(
        lambda: c.dynamodb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE", f"table {name}"
    )
    pitr = p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False)
    c.dynamodb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": bool(pitr)}
    )
    table = c.dynamodb.describe_table(TableName=name)["Table"]
    return Applied(name, {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn", "")})


def _kinesis_stream(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    name = p["Name"]
    try:
        summary = c.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        summary = None
    if exists_only:
        return None if summary is None else Applied(name, {"Arn": summary["StreamARN"]})
    shards = _int(p.get("ShardCount", 1))
    if summary is None:
        c.kinesis.create_stream(StreamName=name, ShardCount=shards)
    _wait(
        lambda: (
            c.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
            == "ACTIVE"
        ),
        f"stream {name}",
    )
    summary = c.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    if summary["OpenShardCount"] != shards:
        c.kinesis.update_shard_count(StreamName=name, TargetShardCount=shards, ScalingType="UNIFORM_SCALING")
    retention = _int(p.get("RetentionPeriodHours", 24))
    if summary["RetentionPeriodHours"] < retention:
        c.kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=retention)
    elif summary["RetentionPeriodHours"] > retention:
        c.kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=retention)
    encryption = p.get("StreamEncryption")
    if encryption and summary.get("EncryptionType", "NONE") == "NONE":
        c.kinesis.start_stream_encryption(
            StreamName=name, EncryptionType=encryption["EncryptionType"], KeyId=encryption["KeyId"]
        )
    return Applied(name, {"Arn": summary["StreamARN"]})


_SQS_ATTRIBUTES = {
    "MessageRetentionPeriod": str,
    "VisibilityTimeout": str,
    "DelaySeconds": str,
    "SqsManagedSseEnabled": lambda v: "true" if str(v).lower() == "true" else "false",
}


def _sqs_queue(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    name = p["QueueName"]
    try:
        url = c.sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        if "NonExistentQueue" not in _code(exc):
            raise
        url = None
    attrs = {key: conv(p[key]) for key, conv in _SQS_ATTRIBUTES.items() if key in p}
    if exists_only and url is None:
        return None
    if not exists_only:
        if url is None:
            url = c.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        else:
            c.sqs.set_queue_attributes(QueueUrl=url, Attributes=attrs)
    arn = c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Applied(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def _sqs_queue_policy(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    policy = json.dumps(local_policy(p["PolicyDocument"])[0])
    if exists_only:
        current = [
            c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
            .get("Attributes", {})
            .get("Policy")
            for url in p["Queues"]
        ]
        return Applied("queue-policy") if all(current) else None
    for url in p["Queues"]:
        c.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return Applied("queue-policy")


def _iam_role(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    name = p["RoleName"]
    try:
        role = c.iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if _code(exc) != "NoSuchEntity":
            raise
        role = None
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


def _pipe(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    name = p["Name"]
    try:
        pipe = c.pipes.describe_pipe(Name=name)
    except ClientError as exc:
        if _code(exc) not in ("NotFoundException", "ResourceNotFoundException"):
            raise
        pipe = None
    if exists_only:
        return None if pipe is None else Applied(name, {"Arn": pipe["Arn"]})
    source = _typed(p.get("SourceParameters", {}))
    target = _typed(p.get("TargetParameters", {}))
    if pipe is None:
        pipe = c.pipes.create_pipe(
            Name=name,
            Description=p.get("Description", ""),
            DesiredState=p.get("DesiredState", "RUNNING"),
            Source=p["Source"],
            SourceParameters=source,
            Target=p["Target"],
            TargetParameters=target,
            RoleArn=p["RoleArn"],
        )
    else:
        c.pipes.update_pipe(
            Name=name,
            Description=p.get("Description", ""),
            DesiredState=p.get("DesiredState", "RUNNING"),
            SourceParameters={"DynamoDBStreamParameters": _updatable_stream_params(source)},
            Target=p["Target"],
            TargetParameters=target,
            RoleArn=p["RoleArn"],
        )
        # update_pipe cannot change StartingPosition (AWS neither); it is fixed at creation.
    return Applied(name, {"Arn": pipe["Arn"]})


def _updatable_stream_params(source: dict[str, Any]) -> dict[str, Any]:
    params = dict(source.get("DynamoDBStreamParameters", {}))
    params.pop("StartingPosition", None)
    return params


# Properties that CloudFormation takes as strings from parameters but the APIs want as numbers.
_NUMERIC_KEYS = {
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
    "IntervalInSeconds",
    "SizeInMBs",
    "DurationInSeconds",
    "BytesScannedCutoffPerQuery",
    "SampleSize",
}


def _typed(node: Any, key: str = "") -> Any:
    """Coerce numeric-valued properties (strings after parameter substitution) to int."""
    if isinstance(node, dict):
        return {k: _typed(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_typed(v, key) for v in node]
    if key in _NUMERIC_KEYS and isinstance(node, str):
        return _int(node)
    if isinstance(node, str) and node.lower() in ("true", "false") and key in ("Enabled",):
        return node.lower() == "true"
    return node


def _s3_bucket(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    name = p["BucketName"]
    try:
        c.s3.head_bucket(Bucket=name)
        exists = True
    except ClientError:
        exists = False
    attrs = {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}
    if exists_only:
        return Applied(name, attrs) if exists else None
    if not exists:
        c.s3.create_bucket(Bucket=name)
    if "BucketEncryption" in p:
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}),
            }
            for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        c.s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in p:
        c.s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in p:
        c.s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=p["OwnershipControls"])
    if "VersioningConfiguration" in p:
        c.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=p["VersioningConfiguration"])
    if "LifecycleConfiguration" in p:
        c.s3.put_bucket_lifecycle_configuration(
            Bucket=name,
            LifecycleConfiguration={
                "Rules": [_lifecycle_rule(r) for r in p["LifecycleConfiguration"]["Rules"]]
            },
        )
    if "NotificationConfiguration" in p:
        queues = [
            {
                "QueueArn": q["Queue"],
                "Events": [q["Event"]],
                **(
                    {"Filter": {"Key": {"FilterRules": q["Filter"]["S3Key"]["Rules"]}}}
                    if "Filter" in q
                    else {}
                ),
            }
            for q in p["NotificationConfiguration"].get("QueueConfigurations", [])
        ]
        c.s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"QueueConfigurations": queues}
        )
    return Applied(name, attrs)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": _int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": _int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": _int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return api


# Condition keys about the transport. The emulator serves plain HTTP on loopback, so a Deny on them
# would refuse every request; moto evaluates bucket policies. Such statements are left out locally
# (and said so); on AWS they apply as written.
_TRANSPORT_CONDITION_KEYS = {"aws:securetransport", "s3:tlsversion"}


def local_policy(document: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The policy without Deny statements conditioned on TLS; returns it and the Sids left out."""
    kept, dropped = [], []
    for statement in document.get("Statement", []):
        keys = {key.lower() for values in statement.get("Condition", {}).values() for key in values}
        if statement.get("Effect") == "Deny" and keys & _TRANSPORT_CONDITION_KEYS:
            dropped.append(statement.get("Sid", "(no Sid)"))
        else:
            kept.append(statement)
    return {**document, "Statement": kept}, dropped


def _s3_bucket_policy(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    bucket = p["Bucket"]
    if exists_only:
        # Locally the policy may be empty once TLS-only statements are left out; whether it was
        # applied is known from the provisioning record, so existence here is the bucket's.
        try:
            c.s3.head_bucket(Bucket=bucket)
        except ClientError:
            return None
        return Applied(bucket)
    document, dropped = local_policy(p["PolicyDocument"])
    if document["Statement"]:
        c.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))
    else:
        c.s3.delete_bucket_policy(Bucket=bucket)
    return Applied(bucket, {"LocallyOmitted": ",".join(dropped)})


def _log_group(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
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
            c.logs.put_retention_policy(logGroupName=name, retentionInDays=_int(p["RetentionInDays"]))
    arn = f"arn:aws:logs:{c.logs.meta.region_name}:{ACCOUNT_ID}:log-group:{name}:*"
    return Applied(name, {"Arn": arn})


def _log_stream(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    group, name = p["LogGroupName"], p["LogStreamName"]
    streams = c.logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=name)["logStreams"]
    exists = any(s["logStreamName"] == name for s in streams)
    if exists_only:
        return Applied(name) if exists else None
    if not exists:
        c.logs.create_log_stream(logGroupName=group, logStreamName=name)
    return Applied(name)


def _lambda_function(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    name = p["FunctionName"]
    try:
        function = c.lambda_.get_function(FunctionName=name)["Configuration"]
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        function = None
    if exists_only:
        return None if function is None else Applied(name, {"Arn": function["FunctionArn"]})
    config = {
        "Role": p["Role"],
        "Handler": p["Handler"],
        "Runtime": p["Runtime"],
        "Description": p.get("Description", ""),
        "Timeout": _int(p.get("Timeout", 3)),
        "MemorySize": _int(p.get("MemorySize", 128)),
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
            FunctionName=name, ReservedConcurrentExecutions=_int(p["ReservedConcurrentExecutions"])
        )
    return Applied(name, {"Arn": function["FunctionArn"]})


def _delivery_stream(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    name = p["DeliveryStreamName"]
    try:
        description = c.firehose.describe_delivery_stream(DeliveryStreamName=name)[
            "DeliveryStreamDescription"
        ]
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        description = None
    if exists_only:
        return None if description is None else Applied(name, {"Arn": description["DeliveryStreamARN"]})
    destination = _typed(p["ExtendedS3DestinationConfiguration"])
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
    description = c.firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    return Applied(name, {"Arn": description["DeliveryStreamARN"]})


def _glue_database(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    database = p["DatabaseInput"]
    name = database["Name"]
    try:
        c.glue.get_database(Name=name)
        exists = True
    except ClientError as exc:
        if _code(exc) != "EntityNotFoundException":
            raise
        exists = False
    if exists_only:
        return Applied(name) if exists else None
    if exists:
        c.glue.update_database(Name=name, DatabaseInput=database)
    else:
        c.glue.create_database(DatabaseInput=database)
    return Applied(name)


def _glue_crawler(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    name = p["Name"]
    try:
        c.glue.get_crawler(Name=name)
        exists = True
    except ClientError as exc:
        if _code(exc) != "EntityNotFoundException":
            raise
        exists = False
    if exists_only:
        return Applied(name) if exists else None
    kwargs = {
        "Name": name,
        "Role": p["Role"],
        "DatabaseName": p["DatabaseName"],
        "Description": p.get("Description", ""),
        "Targets": _typed(p["Targets"]),
        "SchemaChangePolicy": p.get("SchemaChangePolicy", {}),
        "RecrawlPolicy": p.get("RecrawlPolicy", {}),
        "Configuration": p.get("Configuration", ""),
    }
    if "Schedule" in p:
        kwargs["Schedule"] = p["Schedule"]["ScheduleExpression"]
    if exists:
        try:
            c.glue.update_crawler(**kwargs)
            return Applied(name)
        except ClientError as exc:
            # The emulator does not implement UpdateCrawler; a crawler holds no data, so recreate it.
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 500:
                raise
            c.glue.delete_crawler(Name=name)
    c.glue.create_crawler(**kwargs)
    return Applied(name)


def _athena_workgroup(c: _Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    name = p["Name"]
    try:
        exists = bool(c.athena.get_work_group(WorkGroup=name).get("WorkGroup"))
    except ClientError as exc:
        if _code(exc) != "InvalidRequestException":
            raise
        exists = False
    if exists_only:
        return Applied(name) if exists else None
    config = _typed(p.get("WorkGroupConfiguration", {}))
    description = p.get("Description", "")
    if exists:
        update = {key: value for key, value in config.items() if key != "ResultConfiguration"}
        if "ResultConfiguration" in config:
            update["ResultConfigurationUpdates"] = config["ResultConfiguration"]
        try:
            c.athena.update_work_group(
                WorkGroup=name,
                Description=description,
                ConfigurationUpdates=update,
                State=p.get("State", "ENABLED"),
            )
            return Applied(name)
        except ClientError as exc:
            # The emulator does not implement UpdateWorkGroup; a workgroup holds no data, so recreate it.
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 500:
                raise
            c.athena.delete_work_group(WorkGroup=name, RecursiveDeleteOption=True)
    c.athena.create_work_group(Name=name, Description=description, Configuration=config)
    return Applied(name)


APPLIERS: dict[str, Callable[..., Applied | None]] = {
    "AWS::DynamoDB::Table": _dynamodb_table,
    "AWS::Kinesis::Stream": _kinesis_stream,
    "AWS::SQS::Queue": _sqs_queue,
    "AWS::SQS::QueuePolicy": _sqs_queue_policy,
    "AWS::IAM::Role": _iam_role,
    "AWS::Pipes::Pipe": _pipe,
    "AWS::S3::Bucket": _s3_bucket,
    "AWS::S3::BucketPolicy": _s3_bucket_policy,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Logs::LogStream": _log_stream,
    "AWS::Lambda::Function": _lambda_function,
    "AWS::KinesisFirehose::DeliveryStream": _delivery_stream,
    "AWS::Glue::Database": _glue_database,
    "AWS::Glue::Crawler": _glue_crawler,
    "AWS::Athena::WorkGroup": _athena_workgroup,
}


# --------------------------------------------------------------------------- the run


def _upload_lambda_package(c: _Clients, bucket: str, key: str) -> str:
    """Put the Lambda package where the template's Code points; returns its hash."""
    from infra.deploy import build_lambda_package

    # The sources only: locally the Firehose stand-in runs the handler in-process from this checkout
    # (with the project's own orjson), so vendoring wheels for Lambda's platform would buy nothing and
    # need the package index at provisioning time. `sales-cdc deploy` vendors them for AWS.
    package = build_lambda_package()
    data, digest = package.data, package.sha256
    try:
        c.s3.head_bucket(Bucket=bucket)
    except ClientError:
        c.s3.create_bucket(Bucket=bucket)
    try:
        current = c.s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256")
    except ClientError:
        current = None
    if current != digest:
        c.s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"sha256": digest})
    return digest


def _stored_hashes(c: _Clients) -> dict[str, str]:
    """Logical id -> hash of the properties last applied, from the emulator (one listing, not a call each)."""
    pages = c.ssm.get_paginator("get_parameters_by_path").paginate(Path=_STATE_PREFIX.rstrip("/"))
    return {
        parameter["Name"][len(_STATE_PREFIX) :]: parameter["Value"]
        for page in pages
        for parameter in page["Parameters"]
    }


def provision(
    endpoint: str,
    *,
    template_path: Path | str = TEMPLATE_PATH,
    parameter_overrides: Mapping[str, Any] | None = None,
    region: str = REGION,
    report: Callable[[str], None] = print,
    write_settings: bool = True,
) -> ProvisionResult:
    """Apply the template to the emulator at ``endpoint``; returns the outputs and what changed.

    ``parameter_overrides`` default to ``infra/parameters.local.json``. Raises TemplateError for a
    malformed template or an unsupported resource type (before anything is applied) and
    ProvisionError when applying a resource fails (naming it and what was applied before it).
    """
    started = time.monotonic()
    template = load_template(template_path)
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in APPLIERS:
            raise TemplateError(
                f"resource {logical_id!r} has type {resource['Type']}, which the local deployment cannot "
                f"provision (supported: {', '.join(sorted(APPLIERS))})"
            )
    overrides = load_local_parameters() if parameter_overrides is None else dict(parameter_overrides)
    parameters = resolve_parameters(template, overrides)
    order = dependency_order(template)
    known = set(parameters) | set(template["Resources"]) | _PSEUDO_PARAMETERS
    for logical_id, resource in template["Resources"].items():
        unknown = sorted(references(resource.get("Properties", {})) - known)
        if unknown:
            raise TemplateError(
                f"resource {logical_id!r} refers to {', '.join(unknown)}, "
                "which is not a parameter or a resource"
            )
    pseudo = {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::StackName": STACK_NAME,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NoValue": "",
    }
    resolver = Resolver(parameters=parameters, pseudo=pseudo)
    clients = _Clients(endpoint, region)
    code_hash = ""
    if "LambdaCodeBucket" in parameters and "LambdaCodeKey" in parameters:
        code_hash = _upload_lambda_package(
            clients, parameters["LambdaCodeBucket"], parameters["LambdaCodeKey"]
        )

    actions: dict[str, str] = {}
    stored_hashes = _stored_hashes(clients)
    for logical_id in order:
        resource = template["Resources"][logical_id]
        kind = resource["Type"]
        resolver.logical_id = logical_id
        try:
            props = resolver.resolve(resource.get("Properties", {}))
            digest = hashlib.sha256(
                json.dumps(
                    [kind, props, code_hash if kind == "AWS::Lambda::Function" else ""], sort_keys=True
                ).encode()
            ).hexdigest()
            applier = APPLIERS[kind]
            existing = applier(clients, props, exists_only=True)
            stored = stored_hashes.get(logical_id)
            if existing is not None and stored == digest:
                applied, action = existing, "unchanged"
            else:
                applied = applier(clients, props)
                action = "created" if existing is None or stored is None else "updated"
                clients.ssm.put_parameter(
                    Name=_STATE_PREFIX + logical_id, Value=digest, Type="String", Overwrite=True
                )
        except (ClientError, BotoCoreError, ProvisionError, KeyError, TypeError, ValueError) as exc:
            done = [f"{lid} ({a})" for lid, a in actions.items() if a != "unchanged"]
            raise ProvisionError(
                f"resource {logical_id!r} ({kind}) failed: {exc}. "
                + (
                    f"Already applied in this run: {', '.join(done)}. "
                    if done
                    else "Nothing was changed before it. "
                )
                + "Fix the template or the emulator and run provisioning again; it resumes where it stopped."
            ) from exc
        assert applied is not None
        resolver.refs[logical_id] = applied.ref
        resolver.attributes[logical_id] = applied.attributes
        actions[logical_id] = action
        if action != "unchanged":
            omitted = applied.attributes.get("LocallyOmitted")
            note = f"  (left out locally, the emulator has no TLS: {omitted})" if omitted else ""
            report(f"  {action:<9} {kind:<38} {logical_id}{note}")

    result_outputs = outputs(template, resolver)
    if write_settings:
        from sales_cdc.settings import write_outputs

        write_outputs(result_outputs, "local")
    result = ProvisionResult(result_outputs, actions, time.monotonic() - started)
    counts = {a: sum(1 for v in actions.values() if v == a) for a in ("created", "updated", "unchanged")}
    if result.changed:
        report(
            f"Provisioned {len(actions)} resources in {result.seconds:.1f} s: "
            f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged."
        )
    else:
        report(f"No changes: all {len(actions)} resources are up to date ({result.seconds:.1f} s).")
    return result
