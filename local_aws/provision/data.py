"""Appliers for where the data lives and moves: DynamoDB tables, Kinesis streams, S3 buckets, SQS queues."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from local_aws.provision.common import (
    Applied,
    Clients,
    ProvisionError,
    as_int,
    describe_or_none,
    error_code,
    wait_until,
)

# Condition keys about the transport. The emulator serves plain HTTP on loopback, so a Deny on them
# would refuse every request; moto evaluates bucket policies. Such statements are left out locally
# (and said so); on AWS they apply as written.
_TRANSPORT_CONDITION_KEYS = {"aws:securetransport", "s3:tlsversion"}

_SQS_ATTRIBUTES = {
    "MessageRetentionPeriod": str,
    "VisibilityTimeout": str,
    "DelaySeconds": str,
    "SqsManagedSseEnabled": lambda v: "true" if str(v).lower() == "true" else "false",
}


def dynamodb_table(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::DynamoDB::Table: key schema, billing, stream, encryption and point-in-time recovery."""
    name = p["TableName"]

    def applied(table: dict[str, Any]) -> Applied:
        return Applied(name, {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn", "")})

    table = describe_or_none(
        lambda: c.dynamodb.describe_table(TableName=name)["Table"], "ResourceNotFoundException"
    )
    if exists_only:
        return None if table is None else applied(table)
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
            kwargs["ProvisionedThroughput"] = {k: as_int(v) for k, v in p["ProvisionedThroughput"].items()}
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
    wait_until(
        lambda: c.dynamodb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE", f"table {name}"
    )
    pitr = p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False)
    c.dynamodb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": bool(pitr)}
    )
    return applied(c.dynamodb.describe_table(TableName=name)["Table"])


def kinesis_stream(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::Kinesis::Stream: shard count, retention and encryption."""
    name = p["Name"]

    def describe() -> dict[str, Any]:
        return c.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]

    summary = describe_or_none(describe, "ResourceNotFoundException")
    if exists_only:
        return None if summary is None else Applied(name, {"Arn": summary["StreamARN"]})
    shards = as_int(p.get("ShardCount", 1))
    if summary is None:
        c.kinesis.create_stream(StreamName=name, ShardCount=shards)
    wait_until(lambda: describe()["StreamStatus"] == "ACTIVE", f"stream {name}")
    summary = describe()
    if summary["OpenShardCount"] != shards:
        c.kinesis.update_shard_count(StreamName=name, TargetShardCount=shards, ScalingType="UNIFORM_SCALING")
    retention = as_int(p.get("RetentionPeriodHours", 24))
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


def sqs_queue(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::SQS::Queue: retention, visibility, delay and managed encryption."""
    name = p["QueueName"]
    try:
        url = c.sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        # The code is AWS.SimpleQueueService.NonExistentQueue or a variant of it, by protocol.
        if "NonExistentQueue" not in error_code(exc):
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


def sqs_queue_policy(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::SQS::QueuePolicy: the policy document on each of its queues."""
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


def s3_bucket(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::S3::Bucket: encryption, public access block, ownership, versioning, lifecycle, notifications."""
    name = p["BucketName"]
    exists = _bucket_exists(c, name)
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


def _bucket_exists(c: Clients, bucket: str) -> bool:
    try:
        c.s3.head_bucket(Bucket=bucket)
    except ClientError:
        return False
    return True


def ensure_bucket(c: Clients, bucket: str) -> None:
    """Create ``bucket`` unless it exists (for artifacts provisioned before the template's buckets)."""
    if not _bucket_exists(c, bucket):
        c.s3.create_bucket(Bucket=bucket)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": as_int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": as_int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": as_int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return api


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


def s3_bucket_policy(c: Clients, p: dict[str, Any], exists_only: bool = False) -> Applied | None:
    """AWS::S3::BucketPolicy, without the TLS-only statements the emulator's plain HTTP cannot meet."""
    bucket = p["Bucket"]
    if exists_only:
        # Locally the policy may be empty once TLS-only statements are left out; whether it was
        # applied is known from the provisioning record, so existence here is the bucket's.
        return Applied(bucket) if _bucket_exists(c, bucket) else None
    document, dropped = local_policy(p["PolicyDocument"])
    if document["Statement"]:
        c.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))
    else:
        c.s3.delete_bucket_policy(Bucket=bucket)
    return Applied(bucket, {"LocallyOmitted": ",".join(dropped)})


APPLIERS = {
    "AWS::DynamoDB::Table": dynamodb_table,
    "AWS::Kinesis::Stream": kinesis_stream,
    "AWS::SQS::Queue": sqs_queue,
    "AWS::SQS::QueuePolicy": sqs_queue_policy,
    "AWS::S3::Bucket": s3_bucket,
    "AWS::S3::BucketPolicy": s3_bucket_policy,
}
