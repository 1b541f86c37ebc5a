"""The artifact bucket: created encrypted, private and TLS-only; uploads are content-addressed."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from infra.deploy.errors import DeployError, Report, error_code, error_message

BUCKET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def default_artifact_bucket(account_id: str, region: str) -> str:
    """The artifact bucket deploy uses when none is given: one per account and region."""
    return f"sales-cdc-artifacts-{account_id}-{region}"


def partition_of(region: str) -> str:
    """The AWS partition a region belongs to (``aws``, ``aws-cn`` or ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def tls_only_policy(bucket: str, partition: str = "aws") -> str:
    """A bucket policy denying every request that does not use TLS."""
    arn = f"arn:{partition}:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def ensure_artifact_bucket(
    s3: Any, bucket: str, region: str, report: Report, *, tls_only: bool = True
) -> bool:
    """Make sure the artifact bucket exists; create it encrypted, private and TLS-only if it does not.

    Returns True when the bucket was created. An existing bucket is used as it is (it may be shared),
    with a warning when it does not block public access. ``tls_only=False`` leaves out the policy that
    denies non-TLS requests, for an endpoint reached over plain http (an emulator), which it would lock out.
    """
    if not BUCKET_NAME_PATTERN.match(bucket):
        raise DeployError(
            f"artifact bucket name {bucket!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, "
            "dots and hyphens); pass --artifact-bucket with a valid name."
        )
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = error_code(exc)
        if code in ("403", "AccessDenied", "Forbidden"):
            raise DeployError(
                f"artifact bucket {bucket!r} exists but these credentials cannot use it (403); bucket "
                "names are global, so pass --artifact-bucket with a bucket your account owns."
            ) from exc
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise DeployError(f"cannot check artifact bucket {bucket!r}: {error_message(exc)}") from exc
    else:
        _warn_if_public(s3, bucket, report)
        return False

    tls = ", TLS only" if tls_only else ""
    report(f"creating artifact bucket {bucket} (encrypted, public access blocked{tls})")
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**create)
    except ClientError as exc:
        if error_code(exc) == "BucketAlreadyOwnedByYou":
            return False
        raise DeployError(
            f"cannot create artifact bucket {bucket!r}: {error_message(exc)}; "
            "pass --artifact-bucket with a bucket your account owns."
        ) from exc
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
            ]
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    if tls_only:
        s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket, partition_of(region)))
    return True


def _warn_if_public(s3: Any, bucket: str, report: Report) -> None:
    try:
        config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError:
        config = {}
    keys = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    if not all(config.get(key) for key in keys):
        report(
            f"warning: artifact bucket {bucket} does not block all public access; the Lambda code is "
            "uploaded there anyway. Turn on its public access block, or pass --artifact-bucket with a "
            "private bucket."
        )


def upload_artifact(s3: Any, bucket: str, key: str, data: bytes, report: Report) -> bool:
    """Upload ``data`` to ``s3://bucket/key`` encrypted, unless it is there already; True when uploaded.

    Keys are content-addressed, so an existing key already holds these bytes.
    """
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise DeployError(f"cannot check s3://{bucket}/{key}: {error_message(exc)}") from exc
    else:
        report(f"s3://{bucket}/{key} is already uploaded")
        return False
    s3.put_object(Bucket=bucket, Key=key, Body=data, ServerSideEncryption="AES256")
    report(f"uploaded s3://{bucket}/{key} ({len(data) / 1024:.1f} KiB)")
    return True
