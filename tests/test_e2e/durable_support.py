"""Helpers of the durable-stack end-to-end tests (no tests here): the stacks of one state directory,
what the embedded AWS holds, draining the data plane, the Dagster refreshes and a steady writer.

Everything runs the product's own code against a durable emulator started for the test: the local
stack (:class:`local_aws.stack.LocalStack`), the settings and resources read from the provisioning
outputs, the generator, the data plane and the Dagster assets.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
from botocore.config import Config
from test_local_aws.dataplane_helpers import read_stream, record_key, wait_for

from infra.clients import LOCAL_CREDENTIALS
from local_aws.dataplane import running_status, status_path
from local_aws.stack import LocalStack
from sales_cdc.analytics.orders_current import orders_current
from sales_cdc.analytics.sales import sales_daily
from sales_cdc.catalog import partition_repair, raw_orders_cdc
from sales_cdc.generator import GeneratorConfig, client_config, generate_orders, iso_utc
from sales_cdc.settings import Settings, load_settings, outputs_path, state_dir

ROOT = Path(__file__).resolve().parents[2]
DRAIN_TIMEOUT_S = 60.0


def client(settings: Settings, service: str, **config: Any) -> Any:
    """A boto3 client of the deployment the settings describe (the emulator they found)."""
    options = {"config": Config(**config)} if config else {}
    return boto3.client(service, **settings.boto3_kwargs(), **LOCAL_CREDENTIALS, **options)


@dataclass
class DurableHome:
    """The local deployment of one ``SALES_CDC_HOME``, its embedded AWS durable in ``aws-state``.

    Each :meth:`start` is a new :class:`LocalStack` on a new port, as ``sales-cdc up`` after a stop;
    the lines it reported are kept. :meth:`close` stops what is still running.
    """

    home: Path
    stacks: list[LocalStack] = field(default_factory=list)
    reports: list[list[str]] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def local(self) -> Path:
        return state_dir("local")

    @property
    def aws_state(self) -> Path:
        return self.local / "aws-state"

    def start(self) -> LocalStack:
        """A new local stack: its emulator started on the state directory (restoring it), not provisioned."""
        stack = LocalStack(
            self.local, port=0, aws_state=self.aws_state, emulator_log=self.home / "emulator.log"
        )
        self.stacks.append(stack)
        lines: list[str] = []
        self.reports.append(lines)
        stack.start_or_reuse_emulator(report=lines.append)
        return stack

    def provision(self, stack: LocalStack) -> Settings:
        """Provision ``stack`` (outputs written where the application reads them); its settings, re-read."""
        stack.provision(outputs_path=outputs_path("local"))
        settings = load_settings("local")
        assert settings.endpoint_url == stack.endpoint, "the settings must find the running emulator"
        return settings

    def start_data_plane_process(self, settings: Settings) -> subprocess.Popen:
        """The data plane in its own process (``python -m local_aws.dataplane``), running when returned."""
        log = open(self.home / "dataplane-process.log", "ab")  # noqa: SIM115 - the child holds it
        process = subprocess.Popen(
            [sys.executable, "-m", "local_aws.dataplane", "--state-dir", str(self.local)]
            + ["--endpoint-url", str(settings.endpoint_url), "--region", settings.region]
            + ["--outputs", str(outputs_path("local")), "--status-every", "0"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.processes.append(process)

        def running() -> bool:
            assert process.poll() is None, (self.home / "dataplane-process.log").read_text()[-3000:]
            status = running_status(status_path(self.local))
            return bool(status) and int(status["pid"]) == process.pid

        wait_for(running, 30, "the data plane process to run")
        return process

    def close(self) -> None:
        """Stop every process and stack started here (a killed one is only reaped)."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        for stack in reversed(self.stacks):
            stack.stop()


# ------------------------------------------------------------------------------ what AWS holds


def dynamodb_items(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every item of every DynamoDB table (the orders and the pumps' checkpoints), sorted."""
    dynamodb = client(settings, "dynamodb")
    tables = {}
    for name in dynamodb.list_tables()["TableNames"]:
        pages = dynamodb.get_paginator("scan").paginate(TableName=name, ConsistentRead=True)
        items = [item for page in pages for item in page["Items"]]
        tables[name] = sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return tables


def s3_objects(settings: Settings) -> dict[str, dict[str, str]]:
    """Per bucket, every object key and its ETag."""
    s3 = client(settings, "s3")
    found = {}
    for bucket in s3.list_buckets()["Buckets"]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"])
        found[bucket["Name"]] = {
            obj["Key"]: obj["ETag"] for page in pages for obj in page.get("Contents", [])
        }
    return found


def glue_catalog(settings: Settings) -> dict[str, Any]:
    """Every Glue database's tables (the whole definition, Iceberg metadata location included) and
    their partitions' values and locations."""
    glue = client(settings, "glue")
    catalog: dict[str, Any] = {}
    for database in glue.get_databases()["DatabaseList"]:
        name = database["Name"]
        for table in glue.get_tables(DatabaseName=name)["TableList"]:
            pages = glue.get_paginator("get_partitions").paginate(DatabaseName=name, TableName=table["Name"])
            partitions = sorted(
                (tuple(p["Values"]), p["StorageDescriptor"].get("Location", ""))
                for page in pages
                for p in page["Partitions"]
            )
            catalog[f"{name}.{table['Name']}"] = {"table": table, "partitions": partitions}
    return catalog


# ------------------------------------------------------------------------------ the raw lake


def raw_rows(settings: Settings) -> list[dict[str, Any]]:
    """Every CDC row under the raw prefix (gzip NDJSON objects), each with the key of its object."""
    s3 = client(settings, "s3")
    rows = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.bucket, Prefix=settings.raw_cdc_prefix
    )
    for page in pages:
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=settings.bucket, Key=obj["Key"])["Body"].read()
            text = gzip.decompress(body) if obj["Key"].endswith(".gz") else body
            rows += [{**json.loads(line), "_key": obj["Key"]} for line in text.splitlines() if line.strip()]
    return rows


def stream_records(settings: Settings) -> list[dict[str, Any]]:
    """Every record of the orders table's DynamoDB stream, from its start."""
    return read_stream(client(settings, "dynamodbstreams"), settings.output("OrdersStreamArn"))


def drain(settings: Settings) -> list[dict[str, Any]]:
    """Wait until every change in the orders stream is in the raw lake; returns the stream's records."""
    state: dict[str, Any] = {}

    def delivered() -> bool:
        records = stream_records(settings)
        present = {(row["sequence_number"], row["event_id"]) for row in raw_rows(settings)}
        state["missing"] = [record_key(r) for r in records if record_key(r) not in present]
        state["records"] = records
        return bool(records) and not state["missing"]

    wait_for(delivered, DRAIN_TIMEOUT_S, "every stream record in the raw lake", every=1.0)
    return state["records"]


# ------------------------------------------------------------------------------ the product's runs


def generate(settings: Settings, orders: int, seed: int) -> int:
    """One run of the product's generator into the orders table; returns the writes it made."""
    dynamodb = boto3.client(
        "dynamodb", **settings.boto3_kwargs(), **LOCAL_CREDENTIALS, config=client_config(2)
    )
    config = GeneratorConfig(orders=orders, seed=seed, days=2, table=settings.orders_table)
    return generate_orders(dynamodb, config).items_written


def day_range(days: list[str]) -> list[str]:
    """Every day from the first to the last of ``days`` (a partition range is contiguous)."""
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def refresh(instance: dg.DagsterInstance, resources: dict[str, Any]) -> dict[str, Any]:
    """Crawl, repair partitions and refresh ``orders_current`` in one run, then ``sales_daily`` for the
    order dates it changed (one range run); returns the orders_current materialization's metadata."""
    result = dg.materialize(
        [raw_orders_cdc, partition_repair, orders_current],
        resources=resources,
        instance=instance,
        raise_on_error=True,
    )
    events = [
        event.event_specific_data.materialization
        for event in result.get_asset_materialization_events()
        if event.event_specific_data.materialization.asset_key.to_user_string() == "orders_current"
    ]
    metadata = {key: getattr(value, "value", value) for key, value in events[0].metadata.items()}
    days = day_range(list(metadata["changed_order_dates"]))
    daily = dg.materialize(
        [sales_daily],
        resources=resources,
        instance=instance,
        tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
        raise_on_error=True,
    )
    assert daily.success
    return metadata


# ------------------------------------------------------------------------------ a steady writer


@dataclass(frozen=True)
class Write:
    """One write of the steady writer: a new order (INSERT) or a status change (MODIFY)."""

    order_id: str
    kind: str  # INSERT | MODIFY
    updated_at: str  # the item's updatedAt after the write (ISO-8601 UTC, unique per write)
    acknowledged_at: float = 0.0  # time.monotonic() when the table answered


class SteadyWriter(threading.Thread):
    """Writes orders one at a time at a modest rate until stopped or a write fails (the emulator died).

    Every third write changes the status of an earlier order; the others put new ones. ``attempted``
    holds every write sent, ``acknowledged`` those the table answered, in order.
    """

    def __init__(self, settings: Settings, pause_s: float = 0.01) -> None:
        super().__init__(name="steady-writer", daemon=True)
        # One attempt and short timeouts: a write to a killed emulator fails at once and ends the stream.
        self.dynamodb = client(
            settings, "dynamodb", retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10
        )
        self.table = settings.orders_table
        self.pause_s = pause_s
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.attempted: list[Write] = []
        self.acknowledged: list[Write] = []
        self.failure: BaseException | None = None
        self._clock_ms = int(time.time() * 1000)

    def acknowledged_so_far(self) -> list[Write]:
        """A copy of the writes acknowledged until now."""
        with self.lock:
            return list(self.acknowledged)

    def _writes(self) -> Iterator[tuple[Write, dict[str, Any]]]:
        number, inserted = 0, []
        while True:
            self._clock_ms += 1  # a distinct updatedAt per write identifies its change in the stream
            stamp = iso_utc(self._clock_ms)
            if number % 3 == 2:
                order_id = inserted[number // 3]  # each inserted order is changed at most once
                yield (
                    Write(order_id, "MODIFY", stamp),
                    {
                        "TableName": self.table,
                        "Key": {"orderId": {"S": order_id}},
                        "UpdateExpression": "SET #s = :s, updatedAt = :u",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":s": {"S": "PAID"}, ":u": {"S": stamp}},
                    },
                )
            else:
                order_id = f"steady-{number:05d}"
                inserted.append(order_id)
                item = {
                    "orderId": {"S": order_id},
                    "customerId": {"S": f"c-{number % 11}"},
                    "customerName": {"S": f"Customer {number % 11}"},
                    "productId": {"S": "p-phone"},
                    "productName": {"S": "Phone X"},
                    "category": {"S": "Phones"},
                    "quantity": {"N": str(1 + number % 3)},
                    "unitPrice": {"N": "699.00"},
                    "status": {"S": "PLACED"},
                    "createdAt": {"S": stamp},
                    "updatedAt": {"S": stamp},
                }
                yield Write(order_id, "INSERT", stamp), {"TableName": self.table, "Item": item}
            number += 1

    def run(self) -> None:
        for write, request in self._writes():
            if self.stopping.is_set():
                return
            with self.lock:
                self.attempted.append(write)
            try:
                if write.kind == "INSERT":
                    self.dynamodb.put_item(**request)
                else:
                    self.dynamodb.update_item(**request)
            except Exception as exc:  # noqa: BLE001 - the end of the stream (the emulator was killed)
                self.failure = exc
                return
            with self.lock:
                self.acknowledged.append(
                    Write(write.order_id, write.kind, write.updated_at, time.monotonic())
                )
            time.sleep(self.pause_s)
