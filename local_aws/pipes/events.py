"""What the local Pipe sends to its target: the event AWS Pipes delivers for a DynamoDB stream record.

Each record is delivered as the JSON AWS Pipes sends for a DynamoDB stream source: ``eventID``,
``eventName``, ``eventVersion``, ``eventSource`` ("aws:dynamodb"), ``awsRegion``, ``dynamodb`` (with
``ApproximateCreationDateTime`` as epoch seconds, a number) and ``eventSourceARN`` (the stream ARN).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson


def epoch_seconds(moment: Any) -> int | float:
    """``ApproximateCreationDateTime`` as Pipes writes it: epoch seconds, a number.

    DynamoDB Streams on AWS round to the second (an integer); moto keeps milliseconds, which are kept
    as a fraction rather than thrown away.
    """
    if isinstance(moment, datetime):
        value = moment.timestamp() if moment.tzinfo else moment.replace(tzinfo=UTC).timestamp()
    else:
        value = float(moment)
    rounded = round(value, 3)
    return int(rounded) if rounded == int(rounded) else rounded


def to_pipe_event(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """The JSON object AWS Pipes delivers for one DynamoDB Streams record (boto3's GetRecords shape)."""
    stream = dict(record["dynamodb"])
    if "ApproximateCreationDateTime" in stream:
        stream["ApproximateCreationDateTime"] = epoch_seconds(stream["ApproximateCreationDateTime"])
    event: dict[str, Any] = {
        "eventID": record.get("eventID"),
        "eventName": record.get("eventName"),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": record.get("eventSource", "aws:dynamodb"),
        "awsRegion": record.get("awsRegion"),
        "dynamodb": stream,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:  # TTL deletions carry the service principal
        event["userIdentity"] = record["userIdentity"]
    return event


def _json_default(value: Any) -> Any:
    # boto3 decodes binary attribute values (B, BS) to bytes; on the wire they are base64 text.
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return epoch_seconds(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a Pipe event")


def encode_event(event: Mapping[str, Any]) -> bytes:
    """The event as compact JSON bytes (the Kinesis record's data)."""
    return orjson.dumps(event, default=_json_default)
