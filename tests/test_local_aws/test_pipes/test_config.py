"""The local Pipe's reading of a deployed Pipe: AWS defaults, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from local_aws.pipes.config import PipeConfig, PipeConfigError

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-21T00:00:00.000"


def description(**overrides: Any) -> dict[str, Any]:
    base = {
        "Name": "p",
        "Arn": "arn:aws:pipes:us-east-1:123456789012:pipe/p",
        "Source": STREAM,
        "SourceParameters": {
            "DynamoDBStreamParameters": {
                "BatchSize": 10,
                "MaximumBatchingWindowInSeconds": 2,
                "StartingPosition": "LATEST",
            }
        },
        "Target": "arn:aws:kinesis:us-east-1:123456789012:stream/changes",
        "TargetParameters": {"KinesisStreamParameters": {"PartitionKey": "$.dynamodb.Keys.orderId.S"}},
        "DesiredState": "RUNNING",
        "CurrentState": "RUNNING",
    }
    return {**base, **overrides}


def test_the_deployed_configuration_is_read_with_aws_defaults() -> None:
    config = PipeConfig.from_description(description())
    assert (config.batch_size, config.maximum_batching_window_s, config.starting_position) == (
        10,
        2.0,
        "LATEST",
    )
    assert config.maximum_retry_attempts == -1  # AWS: retry until the record expires
    assert config.moving
    assert not PipeConfig.from_description(
        description(DesiredState="STOPPED", CurrentState="STOPPING")
    ).moving


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"Source": "arn:aws:sqs:us-east-1:123456789012:q"}, "not a DynamoDB stream ARN"),
        ({"Target": "arn:aws:lambda:us-east-1:123456789012:function:f"}, "not a Kinesis stream ARN"),
        ({"Enrichment": "arn:aws:lambda:us-east-1:123456789012:function:f"}, "Enrichment"),
        ({"TargetParameters": {}}, "PartitionKey is required"),
        (
            {
                "SourceParameters": {
                    "DynamoDBStreamParameters": {"BatchSize": 501, "StartingPosition": "LATEST"}
                }
            },
            "largest batch a Kinesis target takes",
        ),
    ],
)
def test_unsupported_configurations_are_named(override: dict[str, Any], message: str) -> None:
    with pytest.raises(PipeConfigError, match=message):
        PipeConfig.from_description(description(**override))
