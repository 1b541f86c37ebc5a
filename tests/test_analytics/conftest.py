"""Fixtures of the sensor tests: one provisioned emulator per module, a clean queue per test.

Provisioning takes seconds, so a module provisions once and each test starts from an empty
ObjectCreated queue, no raw table and its own days (tests never share a day).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.clients import LOCAL_CREDENTIALS
from lambda_transform.schema import PARTITION_KEYS
from local_aws.provision import provision
from local_aws.server import Emulator, reset_emulator
from sales_cdc.resources import build_resources
from sales_cdc.resources.aws import LakeResource
from sales_cdc.settings import Settings, load_settings, outputs_path


def reset_and_provision(endpoint: str) -> Settings:
    """A freshly provisioned local deployment on the session emulator, able to take raw objects."""
    reset_emulator(endpoint)
    provision(endpoint, report=lambda line: None, outputs_path=outputs_path("local"))
    return load_settings("local")


def client(service: str, settings: Settings) -> Any:
    """A boto3 client on the emulator."""
    return boto3.client(service, **settings.boto3_kwargs(), **LOCAL_CREDENTIALS)


@dataclass
class Lake:
    """The provisioned lake of a test module and its clients."""

    settings: Settings
    resources: dict[str, Any]
    s3: Any
    sqs: Any
    glue: Any

    @property
    def lake(self) -> LakeResource:
        return self.resources["lake"]

    @property
    def queue_url(self) -> str:
        return self.lake.object_created_queue_url

    def put_raw(self, day: str, hour: str, name: str, body: bytes | None = None) -> str:
        """Write one raw object (gzip NDJSON) like Firehose does; returns its key."""
        key = f"{self.lake.raw_prefix}dt={day}/hour={hour}/{name}"
        payload = body if body is not None else gzip.compress(json.dumps({"event_id": name}).encode() + b"\n")
        self.s3.put_object(Bucket=self.lake.bucket, Key=key, Body=payload)
        return key

    def create_raw_table(self) -> None:
        """The raw CDC table, as the crawl would create it (enough for the sensor and the repair)."""
        self.glue.create_table(
            DatabaseName=self.lake.glue_database,
            TableInput={
                "Name": self.lake.raw_table,
                "TableType": "EXTERNAL_TABLE",
                "StorageDescriptor": {
                    "Columns": [{"Name": "event_id", "Type": "string"}],
                    "Location": self.lake.raw_location,
                },
                "PartitionKeys": [{"Name": key, "Type": glue_type} for key, glue_type in PARTITION_KEYS],
            },
        )

    def drop_raw_table(self) -> None:
        try:
            self.glue.delete_table(DatabaseName=self.lake.glue_database, Name=self.lake.raw_table)
        except ClientError:
            pass

    def drain_queue(self) -> None:
        """Delete every visible message (PurgeQueue is limited to one call a minute)."""
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    def queue_depth(self) -> int:
        """Messages in the queue, visible or not (received and not deleted)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture(scope="module")
def module_lake(emulator: Emulator) -> Lake:
    settings = reset_and_provision(emulator.endpoint)
    return Lake(
        settings=settings,
        resources=build_resources("local"),
        s3=client("s3", settings),
        sqs=client("sqs", settings),
        glue=client("glue", settings),
    )


@pytest.fixture
def lake(module_lake: Lake) -> Iterator[Lake]:
    """The module's lake with no visible message (the bucket's test event included) and no raw table."""
    module_lake.drain_queue()
    module_lake.drop_raw_table()
    yield module_lake
