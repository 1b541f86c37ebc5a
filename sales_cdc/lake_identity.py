"""The lake's identity: a small marker object that says *which* lake the data lives in.

The Dagster instance (run history, materializations, check results) and the lake (S3, Glue, DynamoDB,
locally all inside the emulator) are stored apart. Locally the lake can be lost or reset while the
instance survives (state deleted by hand, a corrupt snapshot, an explicit reset), and Dagster would
then show green history over data that no longer exists. So each lake carries an identity,
``s3://<lake bucket>/_lake/identity.json`` = ``{"lake_id": <uuid4>, "created_at": <ISO-8601 UTC>}``,
written once when it is absent, and every lake-writing asset records the ``lake_id`` it wrote to in
its materialization metadata (:func:`lake_id_metadata`). A materialization whose lake id is not the
current one describes data of another lake (see :mod:`sales_cdc.health.lake_reset`).

The marker lives in the lake bucket itself, so it disappears exactly when the lake's data does. On
AWS the bucket is never reset, so the identity is written once and stays.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from botocore.exceptions import ClientError

IDENTITY_KEY = "_lake/identity.json"
LAKE_ID_METADATA_KEY = "lake_id"


class LakeIdentityError(RuntimeError):
    """The identity marker cannot be read or written; the message names the object and what to do."""


@dataclass(frozen=True)
class LakeIdentity:
    """One lake: its id, when its marker was written, and whether this call wrote it."""

    lake_id: str
    created_at: datetime
    created_now: bool = False

    def as_json(self) -> dict[str, str]:
        """The marker's document."""
        return {"lake_id": self.lake_id, "created_at": self.created_at.isoformat()}


def _parse(body: bytes, bucket: str) -> LakeIdentity:
    where = f"s3://{bucket}/{IDENTITY_KEY}"
    try:
        document = json.loads(body)
        lake_id = str(document["lake_id"])
        created_at = datetime.fromisoformat(str(document["created_at"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise LakeIdentityError(
            f"{where} is not a lake identity ({exc!r}; expected JSON with lake_id and created_at): delete "
            "it to give the lake a new identity (Dagster will then flag every earlier materialization)"
        ) from None
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return LakeIdentity(lake_id=lake_id, created_at=created_at)


def read_lake_identity(s3: Any, bucket: str) -> LakeIdentity | None:
    """The lake's identity, or None when the bucket has no marker yet (a new or reset lake).

    Raises :class:`LakeIdentityError` when the marker exists but is not an identity, or the bucket
    cannot be read (naming the bucket and the S3 error).
    """
    try:
        body = s3.get_object(Bucket=bucket, Key=IDENTITY_KEY)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            return None
        raise LakeIdentityError(
            f"cannot read s3://{bucket}/{IDENTITY_KEY}: {code or exc}; is the lake bucket provisioned "
            "(`sales-cdc up` locally, `sales-cdc deploy` on aws)?"
        ) from exc
    return _parse(body, bucket)


def ensure_lake_identity(s3: Any, bucket: str, now: datetime | None = None) -> LakeIdentity:
    """The lake's identity, writing a new one when the bucket has none (``created_now`` is then True).

    Call it before anything reads Dagster's history against the lake (the sensor, ``sales-cdc up``,
    and every lake-writing asset through :func:`lake_id_metadata`). The write is conditional
    (``If-None-Match: *``): when two processes find the marker missing at once, one wins and the other
    reads the winner's, so a lake never gets two identities.
    """
    found = read_lake_identity(s3, bucket)
    if found is not None:
        return found
    identity = LakeIdentity(lake_id=str(uuid.uuid4()), created_at=now or datetime.now(UTC), created_now=True)
    try:
        s3.put_object(
            Bucket=bucket,
            Key=IDENTITY_KEY,
            Body=json.dumps(identity.as_json()).encode(),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("PreconditionFailed", "ConditionalRequestConflict"):
            winner = read_lake_identity(s3, bucket)
            if winner is not None:
                return winner
        raise LakeIdentityError(
            f"cannot write s3://{bucket}/{IDENTITY_KEY}: {code or exc}; check that the lake bucket exists "
            "and that this role may write to it"
        ) from exc
    return identity


def lake_id_metadata(s3: Any, bucket: str) -> dict[str, dg.MetadataValue]:
    """``{"lake_id": ...}`` for a lake-writing asset's materialization metadata.

    The one line each lake-writing asset adds to its metadata:
    ``**lake_id_metadata(s3_client(s3), lake.bucket)``. It costs one GET of a tiny object.
    """
    return {LAKE_ID_METADATA_KEY: dg.MetadataValue.text(ensure_lake_identity(s3, bucket).lake_id)}
