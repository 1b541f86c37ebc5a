"""Encryption at rest and in transit for everything the template stores data in.

Firehose: a delivery stream whose source is a Kinesis stream cannot take
``DeliveryStreamEncryptionConfigurationInput`` (that is for DirectPut streams only). Its data at rest
is protected by the encrypted source stream and by the destination bucket's default encryption, which
is what is asserted for it.
"""

from __future__ import annotations

from typing import Any

import pytest

from infra.cfn import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
SSE_ALGORITHMS = {"AES256", "aws:kms", "aws:kms:dsse"}


def _of_type(rtype: str) -> list[tuple[str, dict[str, Any]]]:
    found = [
        (logical_id, r.get("Properties", {})) for logical_id, r in RESOURCES.items() if r["Type"] == rtype
    ]
    return found


def _target(reference: Any) -> str:
    """The logical id a Ref / Fn::GetAtt points at."""
    if isinstance(reference, dict) and "Ref" in reference:
        return reference["Ref"]
    if isinstance(reference, dict) and "Fn::GetAtt" in reference:
        return reference["Fn::GetAtt"][0]
    raise AssertionError(f"expected a Ref or Fn::GetAtt to a resource of the template, got {reference!r}")


def _assert_bucket_encrypted(logical_id: str) -> None:
    props = RESOURCES[logical_id]["Properties"]
    rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    algorithms = {rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for rule in rules}
    assert algorithms and algorithms <= SSE_ALGORITHMS, (
        f"{logical_id} has no default encryption: {algorithms}"
    )


def test_dynamodb_tables_are_encrypted_with_kms() -> None:
    tables = _of_type("AWS::DynamoDB::Table")
    assert tables
    for logical_id, props in tables:
        sse = props.get("SSESpecification", {})
        # SSEEnabled true means KMS (AWS managed key unless KMSMasterKeyId names another); false/absent
        # means the AWS owned key, which the account cannot audit.
        assert sse.get("SSEEnabled") is True, f"{logical_id}: SSESpecification.SSEEnabled must be true"


def test_kinesis_streams_are_encrypted_with_kms() -> None:
    streams = _of_type("AWS::Kinesis::Stream")
    assert streams
    for logical_id, props in streams:
        encryption = props.get("StreamEncryption", {})
        assert encryption.get("EncryptionType") == "KMS" and encryption.get("KeyId"), logical_id


def test_firehose_data_is_encrypted_at_source_and_destination() -> None:
    streams = _of_type("AWS::KinesisFirehose::DeliveryStream")
    assert streams
    for logical_id, props in streams:
        if props.get("DeliveryStreamType") == "KinesisStreamAsSource":
            assert "DeliveryStreamEncryptionConfigurationInput" not in props  # not allowed with this source
            source = _target(props["KinesisStreamSourceConfiguration"]["KinesisStreamARN"])
            assert RESOURCES[source]["Type"] == "AWS::Kinesis::Stream"
            assert RESOURCES[source]["Properties"]["StreamEncryption"]["EncryptionType"] == "KMS", (
                f"{logical_id} reads {source}, which is not encrypted"
            )
        else:
            encryption = props.get("DeliveryStreamEncryptionConfigurationInput", {})
            assert encryption.get("KeyType"), f"{logical_id}: a DirectPut stream needs server-side encryption"
        destination = props["ExtendedS3DestinationConfiguration"]
        _assert_bucket_encrypted(_target(destination["BucketARN"]))
        # Firehose must not override the bucket's default encryption with "NoEncryption".
        assert destination.get("EncryptionConfiguration", {}).get("NoEncryptionConfig") != "NoEncryption"
        if "S3BackupConfiguration" in destination:
            _assert_bucket_encrypted(_target(destination["S3BackupConfiguration"]["BucketARN"]))


def test_buckets_are_encrypted_private_and_tls_only() -> None:
    buckets = _of_type("AWS::S3::Bucket")
    assert buckets
    policies = {
        _target(props["Bucket"]): props["PolicyDocument"] for _, props in _of_type("AWS::S3::BucketPolicy")
    }
    for logical_id, props in buckets:
        _assert_bucket_encrypted(logical_id)
        block = props.get("PublicAccessBlockConfiguration", {})
        flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        assert all(block.get(flag) is True for flag in flags), (
            f"{logical_id}: public access not fully blocked"
        )
        assert logical_id in policies, f"{logical_id} has no bucket policy denying non-TLS requests"
        tls = [
            s
            for s in policies[logical_id]["Statement"]
            if s["Effect"] == "Deny"
            and s.get("Principal") == "*"
            and s["Action"] in ("s3:*", ["s3:*"])
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert tls, f"{logical_id}: no Deny of aws:SecureTransport=false for every principal and action"
        covered = [r["Fn::Sub"] for r in tls[0]["Resource"]]
        assert covered == [
            f"arn:${{AWS::Partition}}:s3:::${{{logical_id}}}",
            f"arn:${{AWS::Partition}}:s3:::${{{logical_id}}}/*",
        ], f"{logical_id}: the TLS-only statement must cover the bucket and its objects"


def test_queues_are_encrypted() -> None:
    queues = _of_type("AWS::SQS::Queue")
    assert queues
    for logical_id, props in queues:
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), logical_id


@pytest.mark.parametrize("logical_id", [i for i, _ in _of_type("AWS::Athena::WorkGroup")])
def test_athena_results_are_encrypted_and_enforced(logical_id: str) -> None:
    config = RESOURCES[logical_id]["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True  # clients cannot turn encryption off
    assert config["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] in {
        "SSE_S3",
        "SSE_KMS",
        "CSE_KMS",
    }
