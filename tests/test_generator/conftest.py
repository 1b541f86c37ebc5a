"""Fixtures of the generator tests: an orders table in the emulator, a client, and a fault injector."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from infra.cfn import orders_table_definition
from infra.clients import LOCAL_CREDENTIALS
from local_aws.server import Emulator

TABLE = "orders"


def create_orders_table(client: Any, name: str = TABLE) -> str:
    """Create an orders table with the key schema and stream of the template's OrdersTable.

    Used instead of the full local provisioning (several seconds per test) where only the table is
    needed; the properties still come from the template, the single source of truth.
    """
    client.create_table(**orders_table_definition(name))
    return name


@pytest.fixture
def dynamodb(clean_emulator: Emulator) -> Any:
    """A DynamoDB client of the (emptied) emulator."""
    return boto3.client(
        "dynamodb", endpoint_url=clean_emulator.endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS
    )


@pytest.fixture
def orders_table(dynamodb: Any) -> str:
    """An empty orders table (created from the template's definition); returns its name."""
    return create_orders_table(dynamodb)


def scan_table(client: Any, table: str) -> dict[str, dict[str, Any]]:
    """Every item of the table as Python values (numbers as Decimal), by orderId."""
    deserialize = TypeDeserializer().deserialize
    items: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        for raw in page["Items"]:
            item = {name: deserialize(value) for name, value in raw.items()}
            items[item["orderId"]] = item
    return items


def stream_event_names(client: Any, endpoint: str, table: str) -> list[tuple[str, str]]:
    """(eventName, orderId) of every record of the table's DynamoDB stream, in stream order."""
    streams = boto3.client(
        "dynamodbstreams", endpoint_url=endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS
    )
    arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    events = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page["Records"]:
                break
            events += [(r["eventName"], r["dynamodb"]["Keys"]["orderId"]["S"]) for r in page["Records"]]
            iterator = page.get("NextShardIterator")
    return events


class FaultInjector:
    """Wraps a real (emulator) client; chosen BatchWriteItem calls fail or come back partly unprocessed.

    ``fault(call_number)`` returns None (pass through), "unprocessed" (only every other write is
    really sent, the rest is returned as UnprocessedItems, as DynamoDB does under load) or an error
    code raised as a ClientError without sending anything (throttling). Every call is recorded.
    """

    def __init__(self, client: Any, fault: Callable[[int], str | None]) -> None:
        self._client = client
        self._fault = fault
        self._lock = threading.Lock()
        self.calls: list[dict[str, list[dict[str, Any]]]] = []
        self.injected: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(
        self, RequestItems: dict[str, list[dict[str, Any]]], **kwargs: Any
    ) -> dict[str, Any]:
        with self._lock:
            number = len(self.calls)
            self.calls.append(RequestItems)
            fault = self._fault(number)
            if fault == "unprocessed" and all(len(requests) < 2 for requests in RequestItems.values()):
                fault = None  # a single write cannot be split; pass it through
            if fault:
                self.injected[fault] = self.injected.get(fault, 0) + 1
        if fault is None:
            return self._client.batch_write_item(RequestItems=RequestItems, **kwargs)
        if fault != "unprocessed":
            raise ClientError({"Error": {"Code": fault, "Message": "injected by the test"}}, "BatchWriteItem")
        sent = {table: requests[::2] for table, requests in RequestItems.items()}
        held = {table: requests[1::2] for table, requests in RequestItems.items() if requests[1::2]}
        response = self._client.batch_write_item(RequestItems=sent, **kwargs)
        response["UnprocessedItems"] = held
        return response


@pytest.fixture
def fault_injector(dynamodb: Any) -> Iterator[Callable[[Callable[[int], str | None]], FaultInjector]]:
    """Factory of FaultInjector around the emulator's client."""
    yield lambda fault: FaultInjector(dynamodb, fault)
