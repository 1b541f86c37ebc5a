"""A durable emulator (``state_dir``) keeps DynamoDB, its stream, Kinesis, S3, SQS, Glue and the pumps'
checkpoints across a graceful stop and a kill -9, and refuses a damaged snapshot without touching it."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.clients import LOCAL_CREDENTIALS
from local_aws.pumps import CheckpointStore, CheckpointTable, ShardPosition
from local_aws.server import Emulator, EmulatorError
from local_aws.server.snapshot import SNAPSHOT_FILE
from local_aws.stack import LocalStack

REGION = "us-east-1"
TABLE = "orders"
STREAM = "changes"
BUCKET = "durable-lake"
ITEMS = 40


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "aws-state"


def _emulator(state_dir: Path, tmp_path: Path) -> Emulator:
    return Emulator(port=0, record=False, state_dir=state_dir, log_path=tmp_path / "emulator.log")


@pytest.fixture
def running(state_dir: Path, tmp_path: Path) -> Iterator[list[Emulator]]:
    """The emulators a test starts on ``state_dir``; any still running is stopped at the end."""
    started: list[Emulator] = []
    yield started
    for emulator in started:
        emulator.stop(timeout=30)


def _start(started: list[Emulator], state_dir: Path, tmp_path: Path) -> Emulator:
    emulator = _emulator(state_dir, tmp_path).start()
    started.append(emulator)
    return emulator


def _client(emulator: Emulator, service: str) -> Any:
    return boto3.client(service, endpoint_url=emulator.endpoint, region_name=REGION, **LOCAL_CREDENTIALS)


def _write_everything(emulator: Emulator, first: int = 0, count: int = ITEMS) -> None:
    """DynamoDB items (table with a stream), Kinesis records, S3 objects, an SQS message, a Glue table."""
    dynamodb, kinesis, s3 = (_client(emulator, name) for name in ("dynamodb", "kinesis", "s3"))
    if first == 0:
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        s3.create_bucket(Bucket=BUCKET)
        sqs = _client(emulator, "sqs")
        sqs.send_message(
            QueueUrl=sqs.create_queue(QueueName="dead-letters")["QueueUrl"], MessageBody="failed"
        )
        glue = _client(emulator, "glue")
        glue.create_database(DatabaseInput={"Name": "lake"})
        glue.create_table(
            DatabaseName="lake",
            TableInput={
                "Name": "orders_cdc",
                "StorageDescriptor": {"Columns": [{"Name": "order_id", "Type": "string"}]},
            },
        )
    for number in range(first, first + count):
        key = f"order-{number:05d}"
        dynamodb.put_item(TableName=TABLE, Item={"orderId": {"S": key}, "quantity": {"N": str(number)}})
        kinesis.put_record(StreamName=STREAM, Data=key.encode(), PartitionKey=key)
        s3.put_object(Bucket=BUCKET, Key=f"raw/{key}.json", Body=key.encode())


def _keys(emulator: Emulator) -> set[str]:
    pages = _client(emulator, "dynamodb").get_paginator("scan").paginate(TableName=TABLE)
    return {item["orderId"]["S"] for page in pages for item in page["Items"]}


def _stream_keys(emulator: Emulator) -> list[str]:
    """Every order id in the DynamoDB stream, read from its start (TRIM_HORIZON)."""
    streams = _client(emulator, "dynamodbstreams")
    arn = _client(emulator, "dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    keys = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        keys += [record["dynamodb"]["Keys"]["orderId"]["S"] for record in records]
    return keys


def _kinesis_data(emulator: Emulator) -> list[bytes]:
    kinesis = _client(emulator, "kinesis")
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return [
        r["Data"] for r in kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    ]


def _s3_keys(emulator: Emulator) -> set[str]:
    pages = _client(emulator, "s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


def test_a_graceful_stop_keeps_everything(running: list[Emulator], state_dir: Path, tmp_path: Path) -> None:
    first = _start(running, state_dir, tmp_path)
    assert first.restored()["restored"] is False  # a new state directory starts empty
    _write_everything(first)
    first.stop()

    again = _start(running, state_dir, tmp_path)
    expected = {f"order-{n:05d}" for n in range(ITEMS)}
    assert _keys(again) == expected
    assert sorted(_stream_keys(again)) == sorted(expected)  # the stream is still readable from its start
    assert _kinesis_data(again) == [f"order-{n:05d}".encode() for n in range(ITEMS)]
    assert _s3_keys(again) == {f"raw/{key}.json" for key in expected}
    body = _client(again, "s3").get_object(Bucket=BUCKET, Key="raw/order-00007.json")["Body"].read()
    assert body == b"order-00007"
    sqs = _client(again, "sqs")
    messages = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName="dead-letters")["QueueUrl"])
    assert [m["Body"] for m in messages["Messages"]] == ["failed"]
    glue_table = _client(again, "glue").get_table(DatabaseName="lake", Name="orders_cdc")["Table"]
    assert glue_table["StorageDescriptor"]["Columns"] == [{"Name": "order_id", "Type": "string"}]
    # What was restored is reported for the CLI to print.
    restored = again.restored()
    assert restored["restored"] is True
    assert restored["tables"] == {TABLE: ITEMS}
    assert restored["services"]["dynamodb"]["stream_records"] == ITEMS
    assert restored["services"]["s3"] == {"buckets": 1, "objects": ITEMS}
    assert restored["services"]["kinesis"] == {"streams": 1, "records": ITEMS}
    assert restored["services"]["sqs"] == {"queues": 1, "messages": 1}
    assert restored["services"]["glue"] == {"databases": 1, "tables": 1}
    # And writes go on from there: new items join the old ones.
    _write_everything(again, first=ITEMS, count=3)
    assert len(_keys(again)) == ITEMS + 3


def test_a_kill_9_keeps_what_the_last_snapshot_held(
    running: list[Emulator], state_dir: Path, tmp_path: Path
) -> None:
    first = _start(running, state_dir, tmp_path)
    _write_everything(first)
    status = first.wait_for_snapshot()  # a snapshot holding every write answered so far
    assert status["kind"] == "fork" and status["generation"] >= 1
    _write_everything(first, first=ITEMS, count=5)  # may or may not reach a snapshot before the kill
    os.killpg(first.process.pid, signal.SIGKILL)  # the emulator and a snapshot child it may have
    first.process.wait()

    again = _start(running, state_dir, tmp_path)
    keys = _keys(again)
    assert {f"order-{n:05d}" for n in range(ITEMS)} <= keys <= {f"order-{n:05d}" for n in range(ITEMS + 5)}
    # Consistent: whatever survived, the table, its stream, Kinesis and S3 describe the same moment.
    assert sorted(_stream_keys(again)) == sorted(keys)
    assert {f"raw/{key}.json" for key in keys} == _s3_keys(again)
    assert len(_kinesis_data(again)) == len(keys)


def test_a_damaged_snapshot_stops_the_start_and_is_left_as_it_is(
    running: list[Emulator], state_dir: Path, tmp_path: Path
) -> None:
    first = _start(running, state_dir, tmp_path)
    _write_everything(first, count=3)
    first.stop()
    snapshot = state_dir / SNAPSHOT_FILE
    damaged = snapshot.read_bytes()[:-100]  # a truncated copy
    snapshot.write_bytes(damaged)

    emulator = _emulator(state_dir, tmp_path)
    with pytest.raises(EmulatorError) as refused:
        emulator.start()
    message = str(refused.value)
    assert str(snapshot) in message and "damaged" in message and "move it aside" in message
    assert "Traceback" not in message
    assert emulator.process.poll() is not None  # nothing left running that could overwrite it
    assert snapshot.read_bytes() == damaged


def test_a_snapshot_of_something_else_is_refused(state_dir: Path, tmp_path: Path) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / SNAPSHOT_FILE).write_text("not a snapshot")
    with pytest.raises(EmulatorError, match="it is not an emulator snapshot"):
        _emulator(state_dir, tmp_path).start()
    assert (state_dir / SNAPSHOT_FILE).read_text() == "not a snapshot"


def test_checkpoints_in_the_emulator_survive_a_restart(
    running: list[Emulator], state_dir: Path, tmp_path: Path
) -> None:
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"
    first = _start(running, state_dir, tmp_path)
    store = CheckpointStore(CheckpointTable(_client(first, "dynamodb")), "pipe-orders", arn)
    assert store.positions() == {}
    store.advance("shard-1", "1200")
    store.finish("shard-0")
    assert store.flush() is True
    first.stop()

    again = _start(running, state_dir, tmp_path)
    table = CheckpointTable(_client(again, "dynamodb"))
    assert CheckpointStore(table, "pipe-orders", arn).positions() == {
        "shard-0": ShardPosition(None, True),
        "shard-1": ShardPosition("1200", False),
    }
    # Another stream incarnation does not resume at this one's position.
    assert CheckpointStore(table, "pipe-orders", arn.replace("2026", "2027")).positions() == {}
    assert len(table.keys()) == 1


def test_a_provisioned_stack_comes_back_provisioned(tmp_path: Path) -> None:
    """Every service the template provisions (KMS keys, SSM, Lambda, SQS policies, ...) snapshots and
    restores: a second provisioning finds everything in place and creates nothing."""
    home = tmp_path / "local"
    first = LocalStack(home, port=0, aws_state=home / "aws-state")
    try:
        first.start_or_reuse_emulator()
        created = first.provision(outputs_path=home / "outputs.json")
        assert set(created.actions.values()) == {"created"}
        assert first.emulator is not None
        first.emulator.wait_for_snapshot()
    finally:
        first.stop()
    lines: list[str] = []
    again = LocalStack(home, port=0, aws_state=home / "aws-state")
    try:
        again.start_or_reuse_emulator(report=lines.append)
        reprovisioned = again.provision(outputs_path=home / "outputs.json")
    finally:
        again.stop()
    assert "created" not in reprovisioned.actions.values()
    assert reprovisioned.outputs["OrdersStreamArn"] == created.outputs["OrdersStreamArn"]  # the same table
    assert any(line.startswith("Embedded AWS: restored ") for line in lines), lines
