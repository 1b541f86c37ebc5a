"""The durable local stack end to end (issue 14): the lake survives a graceful stop and a kill -9.

Graceful: orders written by the generator reach ``orders_current`` through the data plane and Dagster;
the stack stops; a new stack on the same state directory (new port, settings re-read from its
provisioning) holds the same DynamoDB items, S3 objects (keys and ETags), Glue tables and
``orders_current`` rows, and a second generator run flows through incrementally and reconciles on
every column.

kill -9: a thread writes orders steadily while the data plane (its own process) carries them to S3;
after a snapshot holding every write answered so far, the emulator's process group and the data plane
are killed mid-stream. After a restart every write acknowledged before that snapshot is in DynamoDB
and, once the data plane drained, its change is in the raw lake; every raw row belongs to the stream
history, and the stream history to writes this test made.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from test_analytics.analytics_support import table_rows
from test_local_aws.dataplane_helpers import record_key, timestamp_text, wait_for

from sales_cdc.analytics.reconciliation import assert_pipeline_reconciled, scan_orders
from sales_cdc.resources import build_resources
from sales_cdc.settings import Settings
from test_e2e.durable_support import (
    DurableHome,
    SteadyWriter,
    client,
    drain,
    dynamodb_items,
    generate,
    glue_catalog,
    raw_rows,
    refresh,
    s3_objects,
    stream_records,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def durable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DurableHome]:
    """A SALES_CDC_HOME of its own whose settings find only the emulators this test starts."""
    home = tmp_path / "home"
    monkeypatch.setenv("SALES_CDC_HOME", str(home))
    for name in list(os.environ):
        # The session's emulator (SALES_CDC_ENDPOINT_URL) or output overrides must not be found.
        if name.startswith("SALES_CDC_") and name not in ("SALES_CDC_HOME", "SALES_CDC_PARTITIONS_START"):
            monkeypatch.delenv(name)
    owner = DurableHome(home)
    try:
        yield owner
    finally:
        owner.close()


def orders_current_rows(resources: dict[str, Any], settings: Settings) -> list[tuple]:
    """Every row of ``orders_current`` through the product's query engine, sorted, values as text."""
    return table_rows(resources["query_engine"], settings, "SELECT * FROM orders_current")


def reconcile(resources: dict[str, Any], settings: Settings) -> None:
    """The product's end-to-end reconciliation: orders_current and sales_daily against DynamoDB."""
    report = assert_pipeline_reconciled(
        resources["query_engine"],
        resources["lake"],
        client(settings, "dynamodb"),
        client(settings, "s3"),
    )
    assert report.ok


def test_a_graceful_restart_keeps_the_lake_and_the_pipeline_goes_on(
    durable: DurableHome, tmp_path: Path
) -> None:
    first = durable.start()
    settings = durable.provision(first)
    first.start_data_plane(settings.outputs)
    written = generate(settings, orders=300, seed=20261203)
    assert written >= 300
    drain(settings)
    dagster_home = tmp_path / "dagster"  # on disk: orders_current's watermark lives in its event log
    dagster_home.mkdir()
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        resources = build_resources("local")
        metadata = refresh(instance, resources)
        assert metadata["mode"] == "full"  # the first refresh: no watermark yet
        reconcile(resources, settings)
        rows = orders_current_rows(resources, settings)
        assert len(rows) == len(scan_orders(client(settings, "dynamodb"), settings.orders_table))
        before = {
            "dynamodb": dynamodb_items(settings),
            "glue": glue_catalog(settings),
            "s3": s3_objects(settings),  # last: reading the tables above may write query results
        }
        assert before["dynamodb"][settings.orders_table] and before["s3"][settings.bucket]
        assert f"{settings.glue_database}.orders_current" in before["glue"]

        first.stop()
        again = durable.start()
        assert again.endpoint != first.endpoint
        assert any(line.startswith("Embedded AWS: restored ") for line in durable.reports[-1]), (
            durable.reports
        )
        # What the restarted emulator holds, read before anything (provisioning included) touches it.
        outputs = dict(settings.outputs)
        settings_restarted = Settings("local", settings.region, again.endpoint, None, outputs)
        assert dynamodb_items(settings_restarted) == before["dynamodb"]
        assert s3_objects(settings_restarted) == before["s3"]
        assert glue_catalog(settings_restarted) == before["glue"]

        # As `sales-cdc up` does: provision (finds everything in place), re-read the settings.
        settings = durable.provision(again)
        assert settings.endpoint_url == again.endpoint
        # The same resources; only what embeds the endpoint (SQS queue URLs) names the new port.
        assert settings.outputs == {
            name: value.replace(str(first.endpoint), str(again.endpoint)) for name, value in outputs.items()
        }
        assert settings.output("ObjectCreatedQueueUrl").startswith(str(again.endpoint))
        resources = build_resources("local")
        assert orders_current_rows(resources, settings) == rows
        assert dynamodb_items(settings) == before["dynamodb"]
        assert glue_catalog(settings) == before["glue"]

        # The pipeline goes on: a new run flows through, merged incrementally after the restart.
        again.start_data_plane(settings.outputs)
        generate(settings, orders=120, seed=20261204)
        drain(settings)
        metadata = refresh(instance, resources)
        assert metadata["mode"] == "incremental", metadata
        assert metadata["rows_inserted"] > 0
        reconcile(resources, settings)


def test_a_kill_9_mid_stream_keeps_every_write_acknowledged_before_the_snapshot(durable: DurableHome) -> None:
    first = durable.start()
    settings = durable.provision(first)
    plane = durable.start_data_plane_process(settings)
    writer = SteadyWriter(settings)
    writer.start()

    # Mid-stream: writes going on, and the data plane has already delivered some of them to S3.
    wait_for(
        lambda: len(writer.acknowledged_so_far()) >= 60 and raw_rows(settings),
        45,
        "steady writes and their first raw objects",
    )
    before_snapshot = writer.acknowledged_so_far()
    assert first.emulator is not None
    first.emulator.wait_for_snapshot()  # holds every write answered before this call
    wait_for(
        lambda: len(writer.acknowledged_so_far()) >= len(before_snapshot) + 30,
        30,
        "writes after the snapshot",
        every=0.05,
    )
    os.killpg(first.emulator.process.pid, signal.SIGKILL)
    os.killpg(plane.pid, signal.SIGKILL)
    first.emulator.process.wait(timeout=30)
    plane.wait(timeout=30)
    writer.join(timeout=30)
    assert not writer.is_alive() and writer.failure is not None  # the stream ended with the kill
    attempted = {(w.order_id, w.updated_at): w for w in writer.attempted}

    again = durable.start()
    assert any("stale" in line for line in durable.reports[-1]), durable.reports[-1]
    settings = durable.provision(again)

    # Every write acknowledged before the snapshot is in DynamoDB (an item at least as new).
    items = scan_orders(client(settings, "dynamodb"), settings.orders_table)
    lost = [
        w for w in before_snapshot if w.order_id not in items or items[w.order_id]["updatedAt"] < w.updated_at
    ]
    assert not lost, f"{len(lost)} acknowledged write(s) lost, e.g. {lost[:3]}"
    after_snapshot = writer.acknowledged[len(before_snapshot) :]
    kept = sum(1 for w in after_snapshot if items.get(w.order_id, {}).get("updatedAt", "") >= w.updated_at)
    print(
        f"\nkill -9: {len(before_snapshot)} writes acknowledged before the snapshot (all kept), "
        f"{len(after_snapshot)} after it ({kept} kept by a later snapshot)"
    )

    # The table and its stream describe one moment: each item is its key's newest change.
    records = stream_records(settings)
    newest: dict[str, dict[str, Any]] = {}
    for record in records:
        newest[record["dynamodb"]["Keys"]["orderId"]["S"]] = record
    assert set(newest) == set(items)
    for order_id, record in newest.items():
        assert record["dynamodb"]["NewImage"]["updatedAt"]["S"] == items[order_id]["updatedAt"], order_id
    # ... and the stream history holds only writes this test made.
    strangers = [
        r
        for r in records
        if (r["dynamodb"]["Keys"]["orderId"]["S"], r["dynamodb"]["NewImage"]["updatedAt"]["S"])
        not in attempted
    ]
    assert not strangers, strangers[:3]

    # The restarted data plane resumes from the restored checkpoints and delivers the rest.
    again.start_data_plane(settings.outputs)
    records = drain(settings)
    rows = raw_rows(settings)
    history = {record_key(r): r for r in records}
    outsiders = [row for row in rows if (row["sequence_number"], row["event_id"]) not in history]
    assert not outsiders, f"{len(outsiders)} raw row(s) not in the stream history, e.g. {outsiders[:2]}"
    changes = {(row["order_id"], row["updated_at"], row["event_name"]) for row in rows}
    undelivered = [
        w for w in before_snapshot if (w.order_id, timestamp_text(w.updated_at), w.kind) not in changes
    ]
    assert not undelivered, f"{len(undelivered)} acknowledged change(s) not in S3, e.g. {undelivered[:3]}"
    errors = client(settings, "s3").list_objects_v2(Bucket=settings.bucket, Prefix=settings.error_prefix)
    assert errors.get("KeyCount", 0) == 0, "no change of this test is invalid"
