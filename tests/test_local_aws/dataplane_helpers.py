"""Helpers of the data-plane tests: clients, the stream's ground truth, reading the lake, waiting.

A conftest.py imports the fixtures ``aws`` and ``lake`` from here to offer them to its folder.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from infra.clients import LOCAL_CREDENTIALS
from sales_cdc.settings import Settings


class Clients:
    """boto3 clients of the emulator a test runs against."""

    def __init__(self, settings: Settings) -> None:
        self._kwargs = {
            "endpoint_url": settings.endpoint_url,
            "region_name": settings.region,
            **LOCAL_CREDENTIALS,
        }
        self._clients: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        if service not in self._clients:
            self._clients[service] = boto3.client(service.rstrip("_"), **self._kwargs)
        return self._clients[service]


@pytest.fixture
def aws(provisioned: Settings) -> Clients:
    """Clients of the freshly provisioned emulator."""
    return Clients(provisioned)


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# ------------------------------------------------------------------------------------ ground truth


def read_stream(streams: Any, stream_arn: str) -> list[dict[str, Any]]:
    """Every record of a DynamoDB stream, from TRIM_HORIZON to the tip (all shards)."""
    records: list[dict[str, Any]] = []
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(response["Records"])
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return records


# ------------------------------------------------------------------------------------ the lake


@dataclass
class LakeObject:
    key: str
    lines: list[bytes]

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(line, parse_float=Decimal) for line in self.lines if line.strip()]


class Lake:
    """Reads the objects under a prefix once each (objects are immutable, so they are cached)."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self._cache: dict[str, LakeObject] = {}

    def objects(self, prefix: str) -> list[LakeObject]:
        found = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            page = self.s3.list_objects_v2(**kwargs)
            for entry in page.get("Contents", []):
                key = entry["Key"]
                if key not in self._cache:
                    body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                    if key.endswith(".gz"):
                        body = gzip.decompress(body)
                    self._cache[key] = LakeObject(key, body.splitlines())
                found.append(self._cache[key])
            if not page.get("IsTruncated"):
                return found
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def rows_by_event(self, prefix: str) -> dict[tuple[str, str], list[tuple[str, dict[str, Any]]]]:
        """Rows keyed by (sequence number, event id), with the key of the object holding each copy."""
        rows: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
        for obj in self.objects(prefix):
            for row in obj.rows():
                rows.setdefault((row["sequence_number"], row["event_id"]), []).append((obj.key, row))
        return rows


def record_key(record: dict[str, Any]) -> tuple[str, str]:
    """A stream record's identity: (sequence number, eventID).

    The sequence number alone is not enough on the emulator: moto numbers stream records with
    ``len(items) + start`` without a lock, so two concurrent writes can get the same number.
    """
    return (record["dynamodb"]["SequenceNumber"], record["eventID"])


def event_time_text(record: dict[str, Any]) -> str:
    """The CDC row's event_time for a stream record: its creation time, UTC, milliseconds."""
    moment = record["dynamodb"]["ApproximateCreationDateTime"].astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def timestamp_text(iso: str) -> str:
    """An item's ISO-8601 UTC timestamp as the CDC row writes it."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def missing_records(truth: list[dict[str, Any]], lake: Lake, prefix: str) -> list[tuple[str, str]]:
    """(sequence number, eventID) of stream records that are not (yet) in the lake."""
    present = lake.rows_by_event(prefix)
    return [record_key(r) for r in truth if record_key(r) not in present]


@pytest.fixture
def lake(aws: Clients, provisioned: Settings) -> Iterator[Lake]:
    yield Lake(aws.s3, provisioned.bucket)
