"""The emulator's entry point: moto's server with CPU fixes, which must not change behaviour."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from moto.athena.models import AthenaBackend
from moto.cloudwatch.models import cloudwatch_backends
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend, dynamo_type
from moto.kinesis.models import Shard

from infra.clients import LOCAL_CREDENTIALS
from local_aws.server import Emulator
from local_aws.server.fixes import (
    FIXED_MOTO_VERSIONS,
    ITEM_SIZE_LIMIT,
    WRITE_UNIT_BYTES,
    WriteCapacity,
    apply_fixes,
    write_units,
)
from test_local_aws.dataplane_helpers import wait_for

MOTO_ITEM_INIT = dynamo_type.Item.__init__
MOTO_START_QUERY_EXECUTION = AthenaBackend.start_query_execution
MOTO_DYNAMODB_WRITES = {
    name: getattr(DynamoDBBackend, name) for name in ("put_item", "update_item", "delete_item")
}
MOTO_SHARD = {
    name: getattr(Shard, name)
    for name in ("get_records", "get_max_sequence_number", "get_min_sequence_number")
}


@pytest.fixture
def fixed_item_init() -> Iterator[None]:
    """apply_fixes() in this process, undone afterwards (other tests may use moto in-process)."""
    assert apply_fixes(), f"moto {moto.__version__} is pinned but not in {sorted(FIXED_MOTO_VERSIONS)}"
    try:
        yield
    finally:
        dynamo_type.Item.__init__ = MOTO_ITEM_INIT  # type: ignore[method-assign]
        for name, function in MOTO_SHARD.items():
            setattr(Shard, name, function)
        AthenaBackend.start_query_execution = MOTO_START_QUERY_EXECUTION  # type: ignore[method-assign]
        for name, function in MOTO_DYNAMODB_WRITES.items():
            setattr(DynamoDBBackend, name, function)


def build(init, attrs: dict) -> tuple[str, object]:
    """An item built by ``init``: ("ok", its attributes as JSON) or ("too large", None)."""
    item = dynamo_type.Item.__new__(dynamo_type.Item)
    try:
        init(item, dynamo_type.DynamoType({"S": "k"}), None, attrs)
    except ItemSizeTooLarge:
        return "too large", None
    assert type(item.attrs) is dynamo_type.LimitedSizeDict
    return "ok", item.to_json()


def random_item(rng: random.Random, target_size: int) -> dict:
    """Attributes of every kind whose total size is near ``target_size`` bytes."""
    attrs: dict = {"orderId": {"S": "k"}, "n": {"N": "12.50"}, "flag": {"BOOL": True}, "gone": {"NULL": True}}
    attrs["tags"] = {"SS": ["a", "bb", "ccc"]}
    attrs["nested"] = {"M": {"x": {"L": [{"N": "1"}, {"S": "é" * 10}]}}}
    for i in range(rng.randint(1, 12)):
        attrs[f"s{i}"] = {"S": "x" * rng.randint(0, 200)}
    used = sum(dynamo_type.bytesize(k) + dynamo_type.DynamoType(v).size() for k, v in attrs.items())
    attrs["filler"] = {"S": "y" * max(0, target_size - used - len("filler"))}
    return attrs


def test_fixed_item_init_accepts_and_rejects_exactly_what_moto_does(fixed_item_init: None) -> None:
    rng = random.Random(7)
    fixed = dynamo_type.Item.__init__
    assert fixed is not MOTO_ITEM_INIT
    outcomes = set()
    limit = ITEM_SIZE_LIMIT
    for target in [10, 1000, limit - 1, limit, limit + 1, limit + 500]:
        for _ in range(5):
            attrs = random_item(rng, target)
            expected = build(MOTO_ITEM_INIT, attrs)
            assert build(fixed, attrs) == expected, f"fixed and moto's Item differ for a {target}-byte item"
            outcomes.add(expected[0])
    assert outcomes == {"ok", "too large"}  # both sides of the limit were exercised


def filled_shard(count: int) -> Shard:
    """A shard holding ``count`` records put through moto's own Shard.put_record, a few ms apart."""
    shard = Shard(0, 0, 2**128)
    clock = iter(range(10**6))
    for i in range(count):
        shard.put_record(f"key-{i}", f"data-{i}", "")
        shard.records[next(reversed(shard.records))].created_at = 1_700_000_000 + next(clock) * 0.007
    return shard


def read(shard: Shard, last: str, limit: int | None) -> tuple:
    records, last_sequence, millis_behind = shard.get_records(last, limit)
    return [r.sequence_number for r in records], last_sequence, millis_behind


def test_fixed_kinesis_shard_reads_exactly_what_moto_reads(fixed_item_init: None) -> None:
    fixed = {name: getattr(Shard, name) for name in MOTO_SHARD}
    assert all(fixed[name] is not MOTO_SHARD[name] for name in MOTO_SHARD)
    for count in (0, 1, 7, 250):
        shard = filled_shard(count)
        for name in ("get_max_sequence_number", "get_min_sequence_number"):
            assert fixed[name](shard) == MOTO_SHARD[name](shard), (name, count)
        for last in ("0", "1", "3", str(count - 1), str(count), str(count + 5)):
            for limit in (1, 2, 10, 1000, None):
                Shard.get_records = MOTO_SHARD["get_records"]
                expected = read(shard, last, limit)
                Shard.get_records = fixed["get_records"]
                assert read(shard, last, limit) == expected, (count, last, limit)


def test_a_shard_not_numbered_1_2_3_falls_back_to_moto_s_scan(fixed_item_init: None) -> None:
    shard = filled_shard(20)
    for number in (5, 6, 13):  # not something moto does today: the fallback keeps an upgrade safe
        del shard.records[number]
    fixed = Shard.get_records
    for last, limit in [("0", 3), ("4", 2), ("6", 10), ("12", 1), ("19", 5)]:
        Shard.get_records = MOTO_SHARD["get_records"]  # type: ignore[method-assign]
        expected = read(shard, last, limit)
        Shard.get_records = fixed  # type: ignore[method-assign]
        assert read(shard, last, limit) == expected


def test_an_unknown_moto_version_runs_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto, "__version__", "0.0.0-unknown")
    assert apply_fixes() == []
    assert dynamo_type.Item.__init__ is MOTO_ITEM_INIT
    assert all(getattr(Shard, name) is function for name, function in MOTO_SHARD.items())
    assert AthenaBackend.start_query_execution is MOTO_START_QUERY_EXECUTION
    assert all(getattr(DynamoDBBackend, name) is function for name, function in MOTO_DYNAMODB_WRITES.items())


@pytest.fixture
def orders_client(clean_emulator: Emulator):
    client = boto3.client(
        "dynamodb", endpoint_url=clean_emulator.endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS
    )
    client.create_table(
        TableName="sizes",
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return client


def test_the_emulator_runs_the_fix_and_keeps_the_item_size_limit(
    clean_emulator: Emulator, orders_client, sales_cdc_home
) -> None:
    log = (sales_cdc_home / "emulator.log").read_text()
    assert "sales-cdc emulator fix: DynamoDB items: size limit checked once per item" in log
    assert "sales-cdc emulator fix: Kinesis GetRecords: records found from the iterator's position" in log

    def item(size: int) -> dict:
        overhead = len("orderId") + 1 + len("payload")
        return {"orderId": {"S": "a"}, "payload": {"S": "p" * (size - overhead)}}

    orders_client.put_item(TableName="sizes", Item=item(ITEM_SIZE_LIMIT))
    with pytest.raises(ClientError) as raised:
        too_large = {"PutRequest": {"Item": item(ITEM_SIZE_LIMIT + 1)}}
        orders_client.batch_write_item(RequestItems={"sizes": [too_large]})
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Item size has exceeded the maximum allowed size" in raised.value.response["Error"]["Message"]
    # The rejected write left the stored item and the stream as they were.
    stored = orders_client.get_item(TableName="sizes", Key={"orderId": {"S": "a"}})["Item"]
    assert len(stored["payload"]["S"]) == len(item(ITEM_SIZE_LIMIT)["payload"]["S"])
    streams = boto3.client(
        "dynamodbstreams", endpoint_url=clean_emulator.endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS
    )
    arn = orders_client.describe_table(TableName="sizes")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"] == item(ITEM_SIZE_LIMIT)


def test_the_stock_server_can_still_be_chosen(sales_cdc_home) -> None:
    log_path = sales_cdc_home / "stock-emulator.log"
    with Emulator(port=0, fixes=False, log_path=log_path) as emulator:
        assert emulator.process is not None
        assert "moto.server" in " ".join(emulator.process.args)
    assert "sales-cdc emulator fix" not in log_path.read_text()


def test_write_units_are_one_per_started_kilobyte(fixed_item_init: None) -> None:
    def item_of(size: int) -> dynamo_type.Item:
        payload = size - len("orderId") - 1 - len("payload")
        return dynamo_type.Item(
            dynamo_type.DynamoType({"S": "k"}), None, {"orderId": {"S": "k"}, "payload": {"S": "p" * payload}}
        )

    for size, units in [(20, 1), (WRITE_UNIT_BYTES, 1), (WRITE_UNIT_BYTES + 1, 2), (3 * WRITE_UNIT_BYTES, 3)]:
        built = item_of(size)
        assert built.size() == size
        assert write_units(built, measured=True) == write_units(built) == units, size
    grown = item_of(20)
    grown.attrs["payload"] = dynamo_type.DynamoType({"S": "p" * 2 * WRITE_UNIT_BYTES})  # as UpdateItem does
    assert write_units(grown) == 3  # an updated item is measured again
    assert write_units(None) == 1  # a delete of nothing still costs a unit


def test_write_capacity_is_published_per_table_and_second_to_moto_s_cloudwatch() -> None:
    counted = WriteCapacity()
    account, region, second = "111122223333", "eu-west-3", 1_700_000_010
    for units, at in [(1, second), (3, second), (2, second + 1)]:
        counted.add(account, region, "orders-wcu", units, at)
    counted.add(account, region, "other-wcu", 5, second)
    assert counted.flush() == 3  # one datapoint per table and second
    assert counted.flush() == 0  # published once

    def total(table: str, start: int, end: int) -> list[tuple[float, float]]:
        points = cloudwatch_backends[account][region].get_metric_statistics(
            namespace="AWS/DynamoDB",
            metric_name="ConsumedWriteCapacityUnits",
            start_time=datetime.fromtimestamp(start, UTC).replace(tzinfo=None),  # naive UTC, as moto's
            end_time=datetime.fromtimestamp(end, UTC).replace(tzinfo=None),
            period=1,
            stats=["Sum", "SampleCount"],
            dimensions=[{"Name": "TableName", "Value": table}],
            unit="Count",
        )
        return sorted((float(p.sum), float(p.sample_count)) for p in points)

    assert total("orders-wcu", second, second + 2) == [(2.0, 1.0), (4.0, 1.0)]
    assert total("other-wcu", second, second + 2) == [(5.0, 1.0)]


def test_the_emulator_publishes_consumed_write_capacity_for_every_kind_of_write(
    clean_emulator: Emulator, orders_client, sales_cdc_home
) -> None:
    log = (sales_cdc_home / "emulator.log").read_text()
    assert "sales-cdc emulator fix: DynamoDB writes: ConsumedWriteCapacityUnits published" in log
    # A table of its own: writes of an earlier test may still be published under "sizes".
    table = f"wcu-{uuid.uuid4().hex[:8]}"
    orders_client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    started = datetime.now(UTC) - timedelta(seconds=5)

    def item(key: str, size: int = 30) -> dict:
        return {"orderId": {"S": key}, "payload": {"S": "p" * (size - len("orderId") - len(key) - 7)}}

    orders_client.put_item(TableName=table, Item=item("a"))  # 1
    orders_client.put_item(TableName=table, Item=item("b", 2 * WRITE_UNIT_BYTES + 100))  # 3
    orders_client.update_item(  # 1
        TableName=table,
        Key={"orderId": {"S": "a"}},
        UpdateExpression="SET note = :n",
        ExpressionAttributeValues={":n": {"S": "x"}},
    )
    orders_client.delete_item(TableName=table, Key={"orderId": {"S": "b"}})  # 3 (the deleted item's size)
    batch = [{"PutRequest": {"Item": item(key)}} for key in ("c", "d")]
    orders_client.batch_write_item(RequestItems={table: batch})  # 2
    orders_client.transact_write_items(  # 2
        TransactItems=[
            {"Put": {"TableName": table, "Item": item("e")}},
            {"Delete": {"TableName": table, "Key": {"orderId": {"S": "c"}}}},
        ]
    )
    cloudwatch = boto3.client(
        "cloudwatch", endpoint_url=clean_emulator.endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS
    )

    def published() -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/DynamoDB",
            MetricName="ConsumedWriteCapacityUnits",
            Dimensions=[{"Name": "TableName", "Value": table}],
            StartTime=started,
            EndTime=datetime.now(UTC) + timedelta(seconds=60),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    wait_for(lambda: published() >= 12, 20, "the write capacity of 12 units to be published", every=0.5)
    assert published() == 12
