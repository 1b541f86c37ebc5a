"""Builders for Firehose transformation events carrying DynamoDB Streams records, as AWS sends them."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeSerializer

FIXTURES = Path(__file__).parent / "fixtures"
ARRIVAL_MS = 1_795_000_000_456  # 2026-11-18 11:06:40.456 UTC
EVENT_SECONDS = 1_795_000_000  # 2026-11-18 11:06:40 UTC
STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-11-18T00:00:00.000"
_SERIALIZER = TypeSerializer()


def _base64_binary(attr_value: dict[str, Any]) -> dict[str, Any]:
    """boto3's client form (binary as bytes) in the wire form of stream records (binary as base64)."""
    ((tag, value),) = attr_value.items()
    if tag == "B":
        return {"B": base64.b64encode(value).decode("ascii")}
    if tag == "BS":
        return {"BS": [base64.b64encode(member).decode("ascii") for member in value]}
    if tag == "M":
        return {"M": {name: _base64_binary(member) for name, member in value.items()}}
    if tag == "L":
        return {"L": [_base64_binary(member) for member in value]}
    return attr_value


def dynamodb_json(value: Any, *, binary_as_base64: bool = True) -> dict[str, Any]:
    """One Python value as a DynamoDB attribute value (boto3's TypeSerializer), by default in the wire
    form of stream records (binary as base64 text); ``binary_as_base64=False`` keeps boto3's bytes."""
    attr_value = _SERIALIZER.serialize(value)
    return _base64_binary(attr_value) if binary_as_base64 else attr_value


def dynamodb_item(item: dict[str, Any], *, binary_as_base64: bool = True) -> dict[str, dict[str, Any]]:
    """A dict of Python values as a DynamoDB item (attribute name -> attribute value)."""
    return {name: dynamodb_json(value, binary_as_base64=binary_as_base64) for name, value in item.items()}


def order_item(**overrides: Any) -> dict[str, Any]:
    """A valid `orders` item (Python values), as the generator writes it."""
    item: dict[str, Any] = {
        "orderId": "o-0001",
        "customerId": "c-42",
        "customerName": "Zoë O'Brien",
        "productId": "p-1001",
        "productName": 'UltraBook 14" Laptop',
        "category": "Electronics",
        "quantity": 2,
        "unitPrice": Decimal("1299.99"),
        "status": "PLACED",
        "createdAt": "2026-11-18T11:06:39.823Z",
        "updatedAt": "2026-11-18T11:06:40.009Z",
    }
    item.update(overrides)
    return item


def stream_record(
    event_name: str = "INSERT",
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    *,
    sequence: str = "4000000000000123456789012",
    seconds: Any = EVENT_SECONDS,
    event_id: str = "6e704245a4ff91e3e7949b80dcb0b82e",
    encoded: bool = False,
) -> dict[str, Any]:
    """A DynamoDB Streams record in the shape the EventBridge Pipe writes to Kinesis.

    ``new``/``old`` are Python items (encoded here) unless ``encoded`` says they already are
    DynamoDB JSON.
    """
    images = {}
    for name, item in (("NewImage", new), ("OldImage", old)):
        if item is not None:
            images[name] = item if encoded else dynamodb_item(item)
    key_source = images.get("NewImage") or images.get("OldImage") or {}
    return {
        "eventID": event_id,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": seconds,
            "Keys": {"orderId": key_source.get("orderId", {"S": "o-0001"})},
            **images,
            "SequenceNumber": sequence,
            "SizeBytes": 321,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": STREAM_ARN,
    }


def b64(payload: bytes | str | dict[str, Any]) -> str:
    """Base64 text of raw bytes, text, or an object serialized as AWS does (compact UTF-8 JSON)."""
    if isinstance(payload, dict):
        payload = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return base64.b64encode(payload).decode("ascii")


def firehose_record(data: Any, record_id: str = "r-1", arrival_ms: Any = ARRIVAL_MS) -> dict[str, Any]:
    """One Firehose record from a Kinesis source; ``data`` is a dict/str/bytes payload or raw base64
    text when given as ``("raw", text)``."""
    encoded = data[1] if isinstance(data, tuple) and data[0] == "raw" else b64(data)
    return {
        "recordId": record_id,
        "approximateArrivalTimestamp": arrival_ms,
        "data": encoded,
        "kinesisRecordMetadata": {
            "shardId": "shardId-000000000000",
            "partitionKey": "o-0001",
            "approximateArrivalTimestamp": arrival_ms,
            "sequenceNumber": "49657000000000000000000000000000000000000000000000000001",
            "subsequenceNumber": 0,
        },
    }


def firehose_event(*records: dict[str, Any]) -> dict[str, Any]:
    """A Firehose data-transformation event around these records."""
    return {
        "invocationId": "8f3e5c2a-1b4d-4e6f-9a7b-2c1d0e9f8a7b",
        "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/sales-cdc-raw",
        "sourceKinesisStreamArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/sales-cdc-orders",
        "region": "eu-west-1",
        "records": list(records),
    }


def row_of(answer: dict[str, Any]) -> dict[str, Any]:
    """The CDC row an Ok answer carries, parsed (numbers as Decimal, to compare exactly)."""
    text = base64.b64decode(answer["data"]).decode("utf-8")
    assert text.endswith("\n") and text.count("\n") == 1, text
    return json.loads(text, parse_float=Decimal)


def load_fixture(name: str) -> Any:
    """A JSON golden fixture from tests/test_lambda_transform/fixtures/."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))
