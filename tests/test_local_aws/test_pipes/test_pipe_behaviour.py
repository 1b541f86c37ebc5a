"""The Pipe's desired state and retry / dead-letter settings, changed on the emulator while it runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from local_aws.dataplane import DataPlane, format_health
from sales_cdc.generator import GeneratorConfig, generate_orders
from sales_cdc.settings import Settings
from test_local_aws.dataplane_helpers import Clients, read_stream, wait_for


def kinesis_count(aws: Clients, settings: Settings) -> int:
    stream = settings.output("ChangeStreamName")
    total = 0
    for shard in aws.kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = aws.kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        total += len(aws.kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"])
    return total


@pytest.mark.e2e
def test_stopped_pipe_moves_nothing_and_undeliverable_records_go_to_the_dead_letter_queue(
    provisioned: Settings, aws: Clients, make_data_plane: Callable[..., DataPlane]
) -> None:
    name = provisioned.output("PipeName")
    aws.pipes.stop_pipe(Name=name)
    generate_orders(aws.dynamodb, GeneratorConfig(events=30, seed=5, table=provisioned.orders_table))
    plane = make_data_plane(provisioned, status_file=None).start()
    try:
        wait_for(lambda: plane.health()["pipe"]["state"] == "STOPPED", 30, "the pipe to report STOPPED")
        assert plane.health()["pipe"]["events_read"] == 0
        assert kinesis_count(aws, provisioned) == 0

        aws.pipes.start_pipe(Name=name)
        wait_for(
            lambda: plane.health()["pipe"]["events_moved"] == 30, 30, "the started pipe to move 30 events"
        )
        assert kinesis_count(aws, provisioned) == 30

        # Retarget the pipe to a stream that does not exist, with one retry: records go to the DLQ.
        pipe = aws.pipes.describe_pipe(Name=name)
        parameters = pipe["SourceParameters"]["DynamoDBStreamParameters"]
        parameters.pop("StartingPosition", None)  # fixed at creation, as on AWS
        aws.pipes.update_pipe(
            Name=name,
            RoleArn=pipe["RoleArn"],
            Target=pipe["Target"].replace("sales-cdc-order-changes", "no-such-stream"),
            SourceParameters={"DynamoDBStreamParameters": {**parameters, "MaximumRetryAttempts": 1}},
        )
        plane.pipe.config(refresh=True)
        generate_orders(aws.dynamodb, GeneratorConfig(events=5, seed=6, table=provisioned.orders_table))
        wait_for(
            lambda: plane.health()["pipe"]["dead_lettered"] == 5,
            60,
            f"5 dead-lettered records; health: {format_health(plane.health())}",
        )
        health = plane.health()["pipe"]
    finally:
        plane.stop()

    assert health["events_moved"] == 30 and health["retries"] >= 1
    messages: list[dict[str, Any]] = []
    queue_url = provisioned.output("PipeDeadLetterQueueUrl")
    while received := aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        messages += [json.loads(m["Body"]) for m in received]
        aws.sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(received)],
        )
    truth = read_stream(aws.dynamodbstreams, provisioned.output("OrdersStreamArn"))[-5:]
    infos = [message["DDBStreamBatchInfo"] for message in messages]
    assert sum(info["batchSize"] for info in infos) == 5
    assert (
        min((info["startSequenceNumber"] for info in infos), key=int)
        == truth[0]["dynamodb"]["SequenceNumber"]
    )
    assert (
        max((info["endSequenceNumber"] for info in infos), key=int) == truth[-1]["dynamodb"]["SequenceNumber"]
    )
    assert all(info["streamArn"] == provisioned.output("OrdersStreamArn") for info in infos)
    assert all(m["requestContext"]["condition"] == "RetryAttemptsExhausted" for m in messages)
