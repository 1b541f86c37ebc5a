"""Changes the pipeline could not deliver: Firehose's error records, attributed to their orders.

Firehose writes each record it could not deliver as one JSON line under the stack's error prefix
(``<ErrorPrefix><error-output-type>/...``), on AWS and in the local stand-in alike
(``local_aws/firehose/lambda_contract.py``): ``errorCode``, ``errorMessage``, ``attemptsMade``,
``arrivalTimestamp``, ``attemptEndingTimestamp``, ``lambdaArn`` and ``rawData``, the original
Kinesis record in base64 - here the DynamoDB stream record the Pipe delivered, which names the order
(``dynamodb.Keys.orderId``) and the change (``dynamodb.SequenceNumber``).

For a record the transform answered ProcessingFailed, Firehose's code and message are generic
(``Lambda.ProcessingFailedStatus``); the Lambda's own reason goes to its log only. So the reason is
found again by applying the same transform (:func:`lambda_transform.cdc_row.to_cdc_row`) to the
original record: it is deterministic, and names the attribute, the value and what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from infra.lake import list_objects
from lambda_transform.cdc_row import KEY_ATTRIBUTE, to_cdc_row
from lambda_transform.errors import RecordRejected
from lambda_transform.firehose import decode_data
from sales_cdc.analytics.derived_tables import object_lines


@dataclass(frozen=True)
class FailedChange:
    """One change of an order that reached the error prefix instead of the lake."""

    order_id: str
    sequence_number: str  # the DynamoDB stream sequence number (digits)
    event_name: str  # INSERT | MODIFY | REMOVE, as the stream record says
    error_code: str  # Firehose's errorCode
    error_message: str  # Firehose's errorMessage
    transform_reason: str | None  # why the transform rejects the record, when it does
    key: str  # the error object holding the record

    @property
    def sequence(self) -> int:
        """The sequence number as an integer (they reach 40 digits: compared exactly)."""
        return int(self.sequence_number)

    @property
    def reason(self) -> str:
        """Firehose's code and message, and the transform's reason when it rejects the record."""
        text = f"{self.error_code}: {self.error_message}" if self.error_message else self.error_code
        if self.transform_reason:
            text += f"; the transform says {self.transform_reason}"
        return text

    def as_json(self) -> dict[str, str | None]:
        """The change as JSON-able metadata."""
        return {
            "event_name": self.event_name,
            "sequence_number": self.sequence_number,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "transform_reason": self.transform_reason,
            "error_object": self.key,
        }


@dataclass
class FailedChanges:
    """The error records under the error prefix, the newest failed change of each order first of all."""

    latest: dict[str, FailedChange] = field(default_factory=dict)  # order id -> newest failed change
    records: int = 0  # error records read
    objects: int = 0  # error objects read
    unattributed: int = 0  # records whose data names no order and sequence number (not a change)

    def add(self, change: FailedChange) -> None:
        """Count a failed change; keep it if it is the newest of its order."""
        known = self.latest.get(change.order_id)
        if known is None or change.sequence > known.sequence:
            self.latest[change.order_id] = change


def _string_attribute(image: Any, name: str) -> str | None:
    value = image.get(name) if isinstance(image, dict) else None
    text = value.get("S") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def failed_change(line: bytes, key: str) -> FailedChange | None:
    """The change an error record holds, or None when its data is not a DynamoDB stream record
    naming an order and a sequence number (garbage put into the stream, a truncated line)."""
    try:
        error = json.loads(line)
    except ValueError:
        return None
    if not isinstance(error, dict):
        return None
    try:
        record = decode_data(error.get("rawData"))
    except RecordRejected:
        return None
    change = record.get("dynamodb")
    if not isinstance(change, dict):
        return None
    order_id = _string_attribute(change.get("Keys"), KEY_ATTRIBUTE)
    for image in ("NewImage", "OldImage"):
        order_id = order_id or _string_attribute(change.get(image), KEY_ATTRIBUTE)
    sequence = change.get("SequenceNumber")
    if order_id is None or not (isinstance(sequence, str) and sequence.isascii() and sequence.isdigit()):
        return None
    try:
        to_cdc_row(record, error.get("arrivalTimestamp"))
        transform_reason = None  # the transform accepts it: Firehose failed it for another reason
    except RecordRejected as exc:
        transform_reason = exc.reason
    return FailedChange(
        order_id=order_id,
        sequence_number=sequence,
        event_name=str(record.get("eventName")),
        error_code=str(error.get("errorCode") or "unknown"),
        error_message=str(error.get("errorMessage") or ""),
        transform_reason=transform_reason,
        key=key,
    )


def read_failed_changes(s3: Any, bucket: str, error_prefix: str) -> FailedChanges:
    """Every error record under ``error_prefix`` (there are few: each is a change that failed),
    attributed to its order. ``s3`` is a boto3 client."""
    found = FailedChanges()
    for obj in list_objects(s3, bucket, error_prefix):
        found.objects += 1
        for line in object_lines(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()):
            found.records += 1
            change = failed_change(line, obj["Key"])
            if change is None:
                found.unattributed += 1
            else:
                found.add(change)
    return found
