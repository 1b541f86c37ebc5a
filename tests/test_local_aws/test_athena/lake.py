"""Test helpers: a small data lake in the emulator and raw CDC rows written the way Firehose writes them.

The raw CDC table is declared from ``lambda_transform.schema`` (the same columns and types the
crawler expects), partitioned by dt/hour, JSON (OpenX SerDe); objects are gzip newline-delimited
JSON named like Firehose objects. Used by the local Athena, local Glue and resource tests.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import boto3

from infra.clients import LOCAL_CREDENTIALS
from infra.lake import INPUT_FORMAT_TEXT, OUTPUT_FORMAT_TEXT, SERDE_OPENX_JSON
from lambda_transform.schema import CDC_COLUMNS, PARTITION_KEYS

REGION = "us-east-1"
BUCKET = "lake"
DATABASE = "lake_db"
RAW_TABLE = "orders_cdc"
RAW_PREFIX = "raw/orders_cdc/"


def cdc_row(
    order_id: str,
    sequence_number: int | str,
    event_name: str = "INSERT",
    *,
    event_time: str = "2026-11-20 10:00:00.000",
    arrival_time: str | None = None,
    status: str = "PLACED",
    quantity: int = 1,
    unit_price: str = "19.99",
    product_id: str = "p1",
    product_name: str | None = None,
    category: str = "books",
    created_at: str | None = None,
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One CDC row as the Lambda writes it (``unit_price`` keeps its exact decimal text)."""
    row = {
        "event_id": event_id or f"{order_id}-{sequence_number}",
        "event_name": event_name,
        "sequence_number": str(sequence_number),
        "event_time": event_time,
        "arrival_time": arrival_time or event_time,
        "is_deleted": event_name == "REMOVE",
        "order_id": order_id,
        "customer_id": f"c-{order_id}",
        "customer_name": f"Customer {order_id}",
        "product_id": product_id,
        "product_name": product_name or f"Product {product_id}",
        "category": category,
        "quantity": quantity,
        "unit_price": Decimal(unit_price),
        "status": status,
        "created_at": created_at or event_time,
        "updated_at": event_time,
        "extra_attributes": None,
    }
    row.update(extra)
    return row


def redelivery(row: Mapping[str, Any], arrival_time: str) -> dict[str, Any]:
    """The same change delivered again (same ``event_id``), arriving at ``arrival_time``."""
    return {**row, "arrival_time": arrival_time}


def json_line(row: Mapping[str, Any]) -> str:
    """A JSON line with Decimal values written as JSON numbers of their exact text."""
    numbers = {key: value for key, value in row.items() if isinstance(value, Decimal)}
    text = json.dumps({key: value for key, value in row.items() if key not in numbers})
    for key, value in numbers.items():
        text = text[:-1] + (", " if text != "{}" else "") + f"{json.dumps(key)}: {value}}}"
    return text


def firehose_key(dt: str, hour: str, gzip_compressed: bool = True, prefix: str = RAW_PREFIX) -> str:
    """A key like Firehose's: ``raw/orders_cdc/dt=.../hour=../sales-cdc-cdc-to-s3-1-<time>-<uuid>[.gz]``."""
    name = f"sales-cdc-cdc-to-s3-1-{dt}-{hour}-00-00-{uuid.uuid4()}" + (".gz" if gzip_compressed else "")
    return f"{prefix}dt={dt}/hour={hour}/{name}"


class Lake:
    """Boto3 access to the emulator's bucket and Glue database used by a test."""

    def __init__(self, endpoint: str, database: str = DATABASE, bucket: str = BUCKET) -> None:
        self.endpoint = endpoint
        self.database = database
        self.bucket = bucket
        kwargs = {"endpoint_url": endpoint, "region_name": REGION, **LOCAL_CREDENTIALS}
        self.glue = boto3.client("glue", **kwargs)
        self.s3 = boto3.client("s3", **kwargs)
        self.athena = boto3.client("athena", **kwargs)

    def create(self) -> Lake:
        """Create the bucket and the Glue database."""
        self.s3.create_bucket(Bucket=self.bucket)
        self.glue.create_database(DatabaseInput={"Name": self.database})
        return self

    @property
    def raw_location(self) -> str:
        return f"s3://{self.bucket}/{RAW_PREFIX}"

    def create_raw_table(self, name: str = RAW_TABLE, location: str | None = None) -> None:
        """The raw CDC table as the crawler defines it: declared columns, JSON SerDe, dt/hour."""
        self.glue.create_table(
            DatabaseName=self.database,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"classification": "json"},
                "StorageDescriptor": {
                    "Columns": [{"Name": column, "Type": glue_type} for column, glue_type, _ in CDC_COLUMNS],
                    "Location": location or self.raw_location,
                    "InputFormat": INPUT_FORMAT_TEXT,
                    "OutputFormat": OUTPUT_FORMAT_TEXT,
                    "SerdeInfo": {"SerializationLibrary": SERDE_OPENX_JSON},
                },
                "PartitionKeys": [{"Name": key, "Type": glue_type} for key, glue_type in PARTITION_KEYS],
            },
        )

    def put_rows(
        self,
        rows: Iterable[Mapping[str, Any]],
        dt: str,
        hour: str,
        *,
        gzip_compressed: bool = True,
        key: str | None = None,
    ) -> str:
        """Write rows as one raw object of partition dt/hour; returns its key."""
        body = ("\n".join(json_line(row) for row in rows) + "\n").encode()
        if gzip_compressed:
            body = gzip.compress(body)
        key = key or firehose_key(dt, hour, gzip_compressed)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return key

    def register(self, dt: str, hour: str, table: str = RAW_TABLE) -> None:
        """Register partition dt/hour of a table in Glue (what partition repair does)."""
        self.register_many([(dt, hour)], table)

    def register_many(self, partitions: Iterable[tuple[str, str]], table: str = RAW_TABLE) -> None:
        """Register several dt/hour partitions in one call."""
        definition = self.glue.get_table(DatabaseName=self.database, Name=table)["Table"]
        inputs = []
        for dt, hour in partitions:
            sd = dict(definition["StorageDescriptor"])
            sd["Location"] = f"{sd['Location']}dt={dt}/hour={hour}/"
            inputs.append({"Values": [dt, hour], "StorageDescriptor": sd})
        self.glue.batch_create_partition(
            DatabaseName=self.database, TableName=table, PartitionInputList=inputs
        )

    def partitions(self, table: str) -> list[tuple[str, ...]]:
        """Values of every registered partition of a table, sorted."""
        pages = self.glue.get_paginator("get_partitions").paginate(
            DatabaseName=self.database, TableName=table
        )
        return sorted(tuple(p["Values"]) for page in pages for p in page["Partitions"])

    def keys(self, prefix: str) -> list[str]:
        """Every object key under a prefix."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))
