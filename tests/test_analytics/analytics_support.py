"""Helpers of the analytics tests (no tests here): CDC changes, raw objects, resources, snapshots.

Raw rows are made by the real Lambda transform (:func:`lambda_transform.cdc_row.to_cdc_row`) from
DynamoDB stream records, so the tests read exactly what production writes; objects are gzip NDJSON
under ``raw/<table>/dt=/hour=/`` like Firehose's, and the local crawler registers them.
"""

from __future__ import annotations

import gzip
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from dagster import AssetMaterialization, materialize
from dagster_aws.s3 import S3Resource

from infra.clients import LOCAL_CREDENTIALS
from lambda_transform.cdc_row import to_cdc_row
from local_aws.glue import LocalCrawler
from sales_cdc.analytics.derived_tables import plain
from sales_cdc.generator import iso_utc, to_attribute_values
from sales_cdc.resources.aws import DynamoDBResource, GlueResource, LakeResource
from sales_cdc.resources.query_engine import LocalQueryEngine
from sales_cdc.settings import Settings

# Sequence numbers that cross from 21 to 22 digits: compared as numbers-in-text without padding,
# "1000000000000000000003" < "999999999999999999998" and the wrong change would win.
FIRST_SEQUENCE = 10**21 - 6


@dataclass(frozen=True)
class Change:
    """One DynamoDB stream change of an order."""

    event_id: str
    event_name: str  # INSERT | MODIFY | REMOVE
    sequence: int
    event_ms: int
    item: dict[str, Any]  # the new image (the old image for REMOVE)
    arrival_ms: int


def ms(moment: datetime) -> int:
    """Epoch milliseconds of a UTC datetime."""
    return int(moment.timestamp() * 1000)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A UTC moment on ``day``."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


class History:
    """Builds the change history of some orders in stream order (sequence numbers increase)."""

    def __init__(self, seed: int = 7, first_sequence: int = FIRST_SEQUENCE) -> None:
        """``seed`` drives the event ids: give each history its own, or their ids collide."""
        self.changes: list[Change] = []
        self.items: dict[str, dict[str, Any]] = {}
        self._sequence = first_sequence
        self._ids = random.Random(seed)

    def _add(self, name: str, item: dict[str, Any], when: datetime, lag: timedelta) -> None:
        self._sequence += 1
        event_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        event_ms = ms(when)
        self.changes.append(
            Change(
                event_id,
                name,
                self._sequence,
                event_ms,
                dict(item),
                event_ms + int(lag.total_seconds() * 1000),
            )
        )

    def insert(
        self,
        order_id: str,
        when: datetime,
        *,
        product: tuple[str, str, str] = ("p-phone", "Phone X", "Phones"),
        quantity: int = 1,
        unit_price: str = "100.00",
        lag: timedelta = timedelta(milliseconds=800),
    ) -> None:
        """A new order, PLACED at ``when``."""
        stamp = iso_utc(ms(when))
        item = {
            "orderId": order_id,
            "customerId": f"c-{order_id}",
            "customerName": "Ann Lee",
            "productId": product[0],
            "productName": product[1],
            "category": product[2],
            "quantity": quantity,
            "unitPrice": Decimal(unit_price),
            "status": "PLACED",
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        self.items[order_id] = item
        self._add("INSERT", item, when, lag)

    def modify(
        self, order_id: str, when: datetime, lag: timedelta = timedelta(milliseconds=800), **changes: Any
    ) -> None:
        """An update of some attributes (DynamoDB names) at ``when``."""
        item = {**self.items[order_id], **changes, "updatedAt": iso_utc(ms(when))}
        self.items[order_id] = item
        self._add("MODIFY", item, when, lag)

    def remove(self, order_id: str, when: datetime, lag: timedelta = timedelta(milliseconds=800)) -> None:
        """A deletion at ``when`` (the row carries the old image)."""
        item = self.items.pop(order_id)
        self._add("REMOVE", item, when, lag)


def stream_record(change: Change) -> dict[str, Any]:
    """The change as the EventBridge Pipe delivers a DynamoDB stream record."""
    image = "OldImage" if change.event_name == "REMOVE" else "NewImage"
    return {
        "eventID": change.event_id,
        "eventName": change.event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": change.event_ms // 1000,
            "Keys": {"orderId": {"S": change.item["orderId"]}},
            image: to_attribute_values(change.item),
            "SequenceNumber": str(change.sequence),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


def cdc_row(change: Change) -> tuple[str, tuple[str, str]]:
    """The raw CDC line the Lambda writes for ``change``, and its (dt, hour) partition."""
    line, keys = to_cdc_row(stream_record(change), change.arrival_ms)
    return line, (keys["dt"], keys["hour"])


@dataclass(frozen=True)
class RawObject:
    """One raw object: its partition, a name, and its CDC lines."""

    dt: str
    hour: str
    name: str
    lines: tuple[str, ...]


def clean_delivery(changes: Iterable[Change]) -> list[RawObject]:
    """Every change exactly once, in stream order, one object per partition."""
    by_partition: dict[tuple[str, str], list[str]] = defaultdict(list)
    for change in changes:
        line, partition = cdc_row(change)
        by_partition[partition].append(line)
    return [RawObject(dt, hour, "clean", tuple(lines)) for (dt, hour), lines in sorted(by_partition.items())]


def messy_delivery(changes: Sequence[Change], seed: int = 3) -> tuple[list[RawObject], dict[str, int]]:
    """The same changes delivered the at-least-once way: some twice or three times (later, in other
    objects or the same one), objects written in shuffled order and rows shuffled within them.

    Returns the objects and the number of extra copies per event day.
    """
    rng = random.Random(seed)
    pieces: dict[tuple[str, str], list[list[str]]] = defaultdict(lambda: [[], [], []])
    copies: dict[str, int] = defaultdict(int)
    for index, change in enumerate(changes):
        line, partition = cdc_row(change)
        buckets = pieces[partition]
        buckets[rng.randrange(3)].append(line)
        for _ in range([0, 0, 1, 2][index % 4]):  # a redelivery arrives later, with a new arrival time
            redelivered = replace(change, arrival_ms=change.arrival_ms + rng.randrange(1_000, 90_000))
            buckets[rng.randrange(3)].append(cdc_row(redelivered)[0])
            copies[partition[0]] += 1
    objects = []
    for (dt, hour), buckets in pieces.items():
        for number, lines in enumerate(buckets):
            if lines:
                rng.shuffle(lines)
                objects.append(RawObject(dt, hour, f"part{number}", tuple(lines)))
    rng.shuffle(objects)
    return objects, dict(copies)


def write_raw(s3: Any, settings: Settings, objects: Iterable[RawObject]) -> list[str]:
    """Write raw objects (gzip NDJSON, Firehose-like names) under the raw prefix; returns their keys."""
    keys = []
    for number, obj in enumerate(objects):
        key = (
            f"{settings.raw_cdc_prefix}dt={obj.dt}/hour={obj.hour}/"
            f"sales-cdc-delivery-1-{obj.dt}-{obj.hour}-{number:04d}-{obj.name}.gz"
        )
        s3.put_object(Bucket=settings.bucket, Key=key, Body=gzip.compress("".join(obj.lines).encode()))
        keys.append(key)
    return keys


def clear_raw(s3: Any, settings: Settings) -> None:
    """Delete every raw object (the catalog keeps its partitions; the next crawl re-reads)."""
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.bucket, Prefix=settings.raw_cdc_prefix
    ):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=settings.bucket, Key=obj["Key"])


def crawl(settings: Settings) -> None:
    """Run the deployed crawler locally: creates the raw table and registers its partitions."""
    crawler = LocalCrawler.connect(settings.endpoint_url, settings.region)
    crawler.crawl(settings.output("CrawlerName"))


def boto3_kwargs(settings: Settings) -> dict[str, str]:
    """Keyword arguments of a boto3 client / dagster-aws resource for the emulator."""
    return {"endpoint_url": settings.endpoint_url or "", "region_name": settings.region, **LOCAL_CREDENTIALS}


def resources(settings: Settings) -> dict[str, Any]:
    """The analytics assets' resources for the local deployment in the test emulator."""
    return {
        "query_engine": LocalQueryEngine(
            database=settings.glue_database, endpoint_url=settings.endpoint_url, region_name=settings.region
        ),
        "lake": LakeResource.from_settings(settings),
        "s3": S3Resource(**boto3_kwargs(settings)),
        "dynamodb": DynamoDBResource(**boto3_kwargs(settings)),
        "glue": GlueResource(**boto3_kwargs(settings)),
    }


def materializations(result: Any) -> dict[tuple[str, str | None], AssetMaterialization]:
    """The materializations of a run result by (asset key, partition)."""
    found = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        found[(mat.asset_key.to_user_string(), mat.partition)] = mat
    return found


def check_results(result: Any) -> dict[str, Any]:
    """The asset check evaluations of a run result by check name."""
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def table_rows(engine: LocalQueryEngine, settings: Settings, sql: str) -> list[tuple]:
    """Rows of a query, sorted, with plain values (Decimal as text) so snapshots compare exactly."""
    result = engine.execute(sql, settings.glue_database)
    return sorted((tuple(plain(v) for v in row) for row in result.rows), key=repr)


def run(
    assets: Sequence[Any], settings: Settings, res: dict[str, Any], partition_key: str | None = None
) -> Any:
    """Materialize ``assets`` against the emulator; fails the test if the run fails."""
    result = materialize(assets, resources=res, partition_key=partition_key, raise_on_error=True)
    assert result.success
    return result
