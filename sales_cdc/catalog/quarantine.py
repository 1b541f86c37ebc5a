"""Quarantine of raw CDC objects that cannot be read, so one bad object never breaks a refresh.

An object under the raw prefix is *readable* when it is gzip (whole, not truncated) where the stream
compresses (a ``.gz`` key, or a table whose ``compressionType`` is gzip), holds newline-delimited JSON
objects, each value of a declared column (``lambda_transform.schema``) has that column's type, and it
is not empty. Any other object is moved (copy, then delete) to ``<QuarantinePrefix><original key>``
with the reason in its metadata (``quarantine-reason``) and beside it in ``<key>.reason.json``.
Partition repair validates the new objects before the summaries read them; see the README
(Quarantine) for releasing an object after fixing it.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from infra.lake import is_hidden_key, list_objects
from lambda_transform.schema import COLUMN_TYPES, DECIMAL_COLUMNS

GZIP_MAGIC = b"\x1f\x8b"
REASON_SUFFIX = ".reason.json"
REASON_METADATA = "quarantine-reason"
MAX_METADATA_CHARS = 1024  # S3 user metadata is at most 2 KB in all
# Timestamps the JSON SerDe (and the local engine) read: Athena text, ISO-8601, or epoch millis.
TIMESTAMP_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?")
INT_RANGES = {"tinyint": 2**7, "smallint": 2**15, "int": 2**31, "bigint": 2**63}


@dataclass
class Quarantined:
    """One object moved to quarantine: where it was, where it is, and why."""

    key: str
    quarantine_key: str
    reason: str


@dataclass
class QuarantineReport:
    """What a validation pass looked at and moved."""

    validated_keys: list[str] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)  # keys gone before they were read

    @property
    def validated(self) -> int:
        """Objects read and checked."""
        return len(self.validated_keys)

    @property
    def quarantined_keys(self) -> list[str]:
        """Original keys of the objects moved to quarantine."""
        return [item.key for item in self.quarantined]


def _type_problem(column: str, glue_type: str, value: Any) -> str | None:
    """Why ``value`` cannot be read as ``glue_type``, or None."""
    if value is None:
        return None
    if glue_type == "string":
        ok = isinstance(value, str)
    elif glue_type == "boolean":
        ok = isinstance(value, bool)
    elif glue_type in INT_RANGES:
        bound = INT_RANGES[glue_type]
        ok = isinstance(value, int) and not isinstance(value, bool) and -bound <= value < bound
    elif glue_type in ("double", "float"):
        ok = isinstance(value, (int, Decimal)) and not isinstance(value, bool)
    elif glue_type == "timestamp":
        ok = (isinstance(value, str) and TIMESTAMP_TEXT.fullmatch(value) is not None) or (
            isinstance(value, int) and not isinstance(value, bool)
        )
    elif column in DECIMAL_COLUMNS:
        precision, scale = DECIMAL_COLUMNS[column]
        ok = isinstance(value, (int, Decimal)) and not isinstance(value, bool)
        if ok:
            exponent = Decimal(value).as_tuple().exponent
            places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
            digits = len(str(abs(int(Decimal(value)))).lstrip("0"))
            ok = places <= scale and digits <= precision - scale
    else:
        return None  # a type this check does not know: the engine decides
    return None if ok else f"column {column} ({glue_type}) holds {json.dumps(value, default=str)[:60]}"


def unreadable_reason(
    key: str,
    data: bytes,
    *,
    expect_gzip: bool,
    column_types: Mapping[str, str] = COLUMN_TYPES,
) -> str | None:
    """Why the raw object ``key`` with content ``data`` cannot be read as the raw CDC table, or None."""
    if not data:
        return "empty object (0 bytes): nothing to read"
    if data[:2] == GZIP_MAGIC:
        try:
            data = _gunzip_all(data)
        except (zlib.error, EOFError) as exc:
            return f"not a complete gzip stream (truncated or corrupt: {exc})"
    elif expect_gzip:
        return "not gzip, but the stream writes gzip objects (.gz key or table compressionType gzip)"
    if not data.strip():
        return "no rows: the object holds only whitespace"
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            return f"line {number} is not JSON ({str(exc)[:80]}): the raw table is newline-delimited JSON"
        if not isinstance(row, dict):
            return f"line {number} is a JSON {type(row).__name__}, not an object (one JSON object per line)"
        for name, value in row.items():
            column = str(name).lower()
            if column in column_types:
                problem = _type_problem(column, column_types[column], value)
                if problem:
                    return f"line {number}: {problem}, which is not of the declared type"
    return None


def _gunzip_all(data: bytes) -> bytes:
    """Every gzip member of ``data`` (Firehose may concatenate them); raises on a cut or bad stream."""
    out: list[bytes] = []
    while data:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out.append(decompressor.decompress(data))
        out.append(decompressor.flush())
        if not decompressor.eof:
            raise EOFError("the stream ends before its end marker")
        data = decompressor.unused_data
        if data and data[:2] != GZIP_MAGIC:
            raise zlib.error("bytes after the last gzip member")
    return b"".join(out)


def quarantine_key(quarantine_prefix: str, key: str) -> str:
    """Where ``key`` goes in quarantine: the quarantine prefix followed by the original key."""
    return f"{quarantine_prefix}{key}"


def move_to_quarantine(s3: Any, bucket: str, key: str, reason: str, quarantine_prefix: str) -> Quarantined:
    """Copy ``key`` under the quarantine prefix with the reason (metadata and ``.reason.json``), then
    delete the original; the copy and the reason are written before the delete, so nothing is lost."""
    target = quarantine_key(quarantine_prefix, key)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    ascii_reason = reason.encode("ascii", "replace").decode()[:MAX_METADATA_CHARS]
    s3.copy_object(
        Bucket=bucket,
        Key=target,
        CopySource={"Bucket": bucket, "Key": key},
        MetadataDirective="REPLACE",
        Metadata={REASON_METADATA: ascii_reason, "original-key": key, "quarantined-at": now},
    )
    document = {
        "bucket": bucket,
        "original_key": key,
        "quarantine_key": target,
        "reason": reason,
        "quarantined_at": now,
        "release": f"fix the object, then: aws s3 mv s3://{bucket}/{target} s3://{bucket}/{key} "
        f"&& aws s3 rm s3://{bucket}/{target}{REASON_SUFFIX}",
    }
    s3.put_object(
        Bucket=bucket,
        Key=target + REASON_SUFFIX,
        Body=json.dumps(document, indent=2).encode(),
        ContentType="application/json",
    )
    s3.delete_object(Bucket=bucket, Key=key)
    return Quarantined(key, target, reason)


def expects_gzip(table: Mapping[str, Any]) -> bool:
    """Whether the raw table says its objects are gzip (the crawler records ``compressionType``)."""
    parameters = {
        **(table.get("Parameters") or {}),
        **(table.get("StorageDescriptor", {}).get("Parameters") or {}),
    }
    return str(parameters.get("compressionType", "")).lower() == "gzip"


def quarantine_unreadable(
    s3: Any,
    bucket: str,
    keys: Iterable[str],
    *,
    quarantine_prefix: str,
    table_gzip: bool,
) -> QuarantineReport:
    """Read each object of ``keys`` whole and move the unreadable ones to quarantine."""
    report = QuarantineReport()
    for key in dict.fromkeys(keys):
        try:
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                report.vanished.append(key)  # quarantined or deleted by an earlier run
                continue
            raise
        report.validated_keys.append(key)
        reason = unreadable_reason(key, data, expect_gzip=table_gzip or key.endswith(".gz"))
        if reason:
            report.quarantined.append(move_to_quarantine(s3, bucket, key, reason, quarantine_prefix))
    return report


def objects_of_folders(s3: Any, bucket: str, folders: Iterable[str]) -> list[str]:
    """The keys of the objects under each folder prefix (hidden ``_``/``.`` files excluded)."""
    keys: list[str] = []
    for folder in folders:
        keys.extend(
            obj["Key"]
            for obj in list_objects(s3, bucket, folder)
            if not is_hidden_key(obj["Key"][len(folder) :])
        )
    return keys


def quarantined_objects(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The quarantined objects (not their ``.reason.json``) under ``prefix``."""
    return [obj["Key"] for obj in list_objects(s3, bucket, prefix) if not obj["Key"].endswith(REASON_SUFFIX)]


def read_reason(s3: Any, bucket: str, quarantined_key: str) -> str:
    """The recorded reason of a quarantined object (from its ``.reason.json``), or why it is unknown."""
    try:
        body = s3.get_object(Bucket=bucket, Key=quarantined_key + REASON_SUFFIX)["Body"].read()
        return str(json.loads(body).get("reason") or "no reason recorded")
    except (ClientError, ValueError, AttributeError):
        return "no readable reason file"
