"""The event the local Pipe sends for a DynamoDB stream record, and the partition key paths into it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from local_aws.pipes.config import PartitionKeyError, PipeConfigError, compile_partition_key
from local_aws.pipes.events import encode_event, to_pipe_event

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-21T00:00:00.000"


def stream_record(**dynamodb: Any) -> dict[str, Any]:
    """A record as boto3's dynamodbstreams.get_records returns it."""
    return {
        "eventID": "e1",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2026, 11, 21, 23, 40, 51, 737000, tzinfo=UTC),
            "Keys": {"orderId": {"S": "o-1"}},
            "NewImage": {"orderId": {"S": "o-1"}, "unitPrice": {"N": "249.99"}, "blob": {"B": b"\x00\xff"}},
            "OldImage": {"orderId": {"S": "o-1"}, "unitPrice": {"N": "199.99"}},
            "SequenceNumber": "1100000000017454423009",
            "SizeBytes": 120,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            **dynamodb,
        },
    }


def test_the_event_has_the_shape_aws_pipes_sends_for_a_dynamodb_stream() -> None:
    event = json.loads(encode_event(to_pipe_event(stream_record(), STREAM)))
    assert set(event) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert event["eventSource"] == "aws:dynamodb" and event["eventSourceARN"] == STREAM
    # Epoch seconds as a number (moto keeps milliseconds: they survive as a fraction).
    assert event["dynamodb"]["ApproximateCreationDateTime"] == 1795304451.737
    assert event["dynamodb"]["NewImage"]["unitPrice"] == {"N": "249.99"}  # numbers stay exact text
    assert event["dynamodb"]["NewImage"]["blob"] == {"B": "AP8="}  # binary as base64, as on the wire
    assert event["dynamodb"]["SequenceNumber"] == "1100000000017454423009"
    whole = stream_record(ApproximateCreationDateTime=datetime(2026, 11, 21, 23, 40, 51, tzinfo=UTC))
    assert to_pipe_event(whole, STREAM)["dynamodb"]["ApproximateCreationDateTime"] == 1795304451


def test_partition_key_paths_are_evaluated_against_the_event() -> None:
    event = to_pipe_event(stream_record(), STREAM)
    assert compile_partition_key("$.dynamodb.Keys.orderId.S")(event) == "o-1"
    assert compile_partition_key("$['dynamodb']['Keys'].orderId['S']")(event) == "o-1"
    assert compile_partition_key("$.dynamodb.SizeBytes")(event) == "120"
    assert compile_partition_key("static-key")(event) == "static-key"
    with pytest.raises(PartitionKeyError, match="missing 'customerId'"):
        compile_partition_key("$.dynamodb.Keys.customerId.S")(event)
    with pytest.raises(PipeConfigError, match="not a JSON path"):
        compile_partition_key("$.dynamodb..Keys")
