"""Athena's OPTIMIZE, VACUUM, $snapshots and $history on Iceberg tables in the emulator's Glue catalog.

Tables are built with pyiceberg directly (the engine's SQL is wired to these functions elsewhere):
identity-partitioned by ``order_date``, written by several appends so that partitions hold many files.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import boto3
import pyarrow as pa
import pytest
from pyiceberg.catalog.glue import GlueCatalog
from pyiceberg.expressions import EqualTo
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import DecimalType, LongType, NestedField, StringType

from infra.clients import LOCAL_CREDENTIALS
from local_aws.athena.iceberg_maintenance import (
    IcebergMaintenanceError,
    history_table,
    optimize,
    snapshots_table,
    vacuum,
)
from local_aws.server import Emulator

REGION = "us-east-1"
BUCKET = "iceberg-lake"
DATABASE = "iceberg_db"
SCHEMA = Schema(
    NestedField(1, "order_id", StringType(), required=False),
    NestedField(2, "order_date", StringType(), required=False),
    NestedField(3, "quantity", LongType(), required=False),
    NestedField(4, "unit_price", DecimalType(12, 2), required=False),
)
SPEC = PartitionSpec(
    PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="order_date")
)
DAY_1, DAY_2 = "2026-11-20", "2026-11-21"
FAR_FUTURE_MS = 4_102_444_800_000  # 2100-01-01: every snapshot and file is older than the maximum age


def catalog(endpoint: str) -> GlueCatalog:
    """A pyiceberg Glue catalog on the emulator."""
    credentials = {
        f"{service}.{key}": value
        for service in ("glue", "s3")
        for key, value in {
            "endpoint": endpoint,
            "region": REGION,
            "access-key-id": LOCAL_CREDENTIALS["aws_access_key_id"],
            "secret-access-key": LOCAL_CREDENTIALS["aws_secret_access_key"],
        }.items()
    }
    return GlueCatalog(f"maintenance-{uuid.uuid4().hex[:6]}", **credentials)


@pytest.fixture
def orders(clean_emulator: Emulator) -> Table:
    """An empty Iceberg table ``iceberg_db.orders`` (format v2, partitioned by order_date)."""
    endpoint = clean_emulator.endpoint
    boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **LOCAL_CREDENTIALS).create_bucket(
        Bucket=BUCKET
    )
    glue = boto3.client("glue", endpoint_url=endpoint, region_name=REGION, **LOCAL_CREDENTIALS)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    return catalog(endpoint).create_table(
        f"{DATABASE}.orders",
        SCHEMA,
        location=f"s3://{BUCKET}/orders",
        partition_spec=SPEC,
        properties={"format-version": "2"},
    )


def batch(start: int, count: int, day: str) -> pa.Table:
    """``count`` orders of ``day`` numbered from ``start``."""
    numbers = range(start, start + count)
    return pa.table(
        {
            "order_id": pa.array([f"o{n:04d}" for n in numbers], pa.string()),
            "order_date": pa.array([day] * count, pa.string()),
            "quantity": pa.array([n % 7 + 1 for n in numbers], pa.int64()),
            "unit_price": pa.array([Decimal(f"{n}.{n % 100:02d}") for n in numbers], pa.decimal128(12, 2)),
        }
    )


def fill(table: Table) -> None:
    """Five appends: day 1 gets five files, day 2 three."""
    for i in range(5):
        rows = [batch(i * 100, 10, DAY_1)]
        if i % 2 == 0:
            rows.append(batch(i * 100 + 50, 10, DAY_2))
        table.append(pa.concat_tables(rows))


def rows_of(table: Table, **scan: Any) -> list[tuple]:
    """Every row of the table (at the current or the given snapshot), sorted."""
    data = table.scan(**scan).to_arrow()
    return sorted(zip(*(data.column(name).to_pylist() for name in SCHEMA.column_names), strict=True))


def files_per_day(table: Table) -> dict[str, int]:
    """The number of live data files per order_date."""
    counts: dict[str, int] = {}
    for task in table.scan().plan_files():
        day = task.file.partition[0]
        counts[day] = counts.get(day, 0) + 1
    return counts


def reloaded(table: Table, endpoint: str) -> Table:
    """The table as another process sees it (loaded afresh from Glue's metadata_location)."""
    return catalog(endpoint).load_table(f"{DATABASE}.orders")


def test_optimize_packs_every_partition_in_one_commit_with_the_same_rows(
    orders: Table, clean_emulator: Emulator
) -> None:
    fill(orders)
    before_rows = rows_of(orders)
    before_snapshots = len(orders.snapshots())
    assert files_per_day(orders) == {DAY_1: 5, DAY_2: 3}

    result = optimize(orders)

    assert result["partitions_rewritten"] == 2
    assert (result["files_before"], result["files_after"]) == (8, 2)
    table = reloaded(orders, clean_emulator.endpoint)
    assert result["snapshot_id"] == table.current_snapshot().snapshot_id
    assert len(table.snapshots()) == before_snapshots + 1
    assert table.current_snapshot().summary.operation.value == "overwrite"
    assert files_per_day(table) == {DAY_1: 1, DAY_2: 1}
    assert rows_of(table) == before_rows
    assert len(before_rows) == 80


def test_optimize_with_nothing_to_do_commits_nothing(orders: Table) -> None:
    fill(orders)
    optimize(orders)
    snapshot_id = orders.current_snapshot().snapshot_id

    again = optimize(orders)

    assert again == {
        "partitions_rewritten": 0,
        "files_before": 2,
        "files_after": 2,
        "snapshot_id": snapshot_id,
    }
    assert orders.current_snapshot().snapshot_id == snapshot_id


def test_files_already_at_the_target_size_are_left_alone(orders: Table) -> None:
    fill(orders)
    snapshot_id = orders.current_snapshot().snapshot_id

    result = optimize(orders, target_file_bytes=1)  # every file is at least one byte: none is small

    assert result["partitions_rewritten"] == 0 and result["snapshot_id"] == snapshot_id
    assert files_per_day(orders) == {DAY_1: 5, DAY_2: 3}


def test_optimize_where_rewrites_only_the_matching_partition(orders: Table, clean_emulator: Emulator) -> None:
    fill(orders)
    before_rows = rows_of(orders)

    result = optimize(orders, EqualTo("order_date", DAY_1))

    assert result["partitions_rewritten"] == 1
    assert (result["files_before"], result["files_after"]) == (5, 1)
    table = reloaded(orders, clean_emulator.endpoint)
    assert files_per_day(table) == {DAY_1: 1, DAY_2: 3}
    assert rows_of(table) == before_rows


def test_optimize_where_on_a_data_column_is_refused_by_name(orders: Table) -> None:
    fill(orders)
    with pytest.raises(IcebergMaintenanceError, match=r"partition columns \['order_date'\].*\['quantity'\]"):
        optimize(orders, EqualTo("quantity", 3))
    with pytest.raises(IcebergMaintenanceError, match="positive number of bytes, got 0"):
        optimize(orders, target_file_bytes=0)


def s3_keys(endpoint: str) -> set[str]:
    """Every object key of the lake bucket."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **LOCAL_CREDENTIALS)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def test_vacuum_expires_old_snapshots_deletes_their_files_and_keeps_the_table(
    orders: Table, clean_emulator: Emulator
) -> None:
    endpoint = clean_emulator.endpoint
    fill(orders)
    optimize(orders)
    first_snapshot = orders.snapshots()[0].snapshot_id
    before_rows = rows_of(orders)
    keys_before = s3_keys(endpoint)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **LOCAL_CREDENTIALS)
    s3.put_object(
        Bucket=BUCKET, Key="orders/data/order_date=2026-11-20/orphan.parquet", Body=b"left by a killed run"
    )
    s3.put_object(Bucket=BUCKET, Key="elsewhere/keep.parquet", Body=b"not under the table")

    result = vacuum(orders, now_ms=FAR_FUTURE_MS)

    assert result["snapshots_expired"] == 5  # the five appends; the optimize snapshot is current
    table = reloaded(orders, endpoint)
    assert [s.snapshot_id for s in table.snapshots()] == [table.current_snapshot().snapshot_id]
    assert rows_of(table) == before_rows
    keys_after = s3_keys(endpoint)
    deleted = (keys_before | {"orders/data/order_date=2026-11-20/orphan.parquet"}) - keys_after
    assert result["files_deleted"] == len(deleted)
    assert "orders/data/order_date=2026-11-20/orphan.parquet" in deleted
    assert "elsewhere/keep.parquet" in keys_after
    # The 8 appended data files and the appends' manifest lists are gone; the packed files stay.
    assert sum(key.endswith(".parquet") and key.startswith("orders/data/") for key in deleted) == 9
    # pyarrow leaves an empty "directory" marker where it deleted a partition's last file.
    assert sum(key.startswith("orders/data/") and not key.endswith("/") for key in keys_after) == 2
    assert result["bytes_deleted"] > len(b"left by a killed run")
    with pytest.raises(ValueError, match=str(first_snapshot)):
        rows_of(table, snapshot_id=first_snapshot)  # time travel to an expired snapshot is gone


def test_vacuum_keeps_young_snapshots_and_young_files(orders: Table, clean_emulator: Emulator) -> None:
    endpoint = clean_emulator.endpoint
    fill(orders)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **LOCAL_CREDENTIALS)
    s3.put_object(Bucket=BUCKET, Key="orders/data/in-flight.parquet", Body=b"a commit in progress")
    keys_before = s3_keys(endpoint)

    result = vacuum(orders)  # now: everything is younger than 5 days

    assert result == {"snapshots_expired": 0, "files_deleted": 0, "bytes_deleted": 0}
    assert s3_keys(endpoint) == keys_before
    assert len(reloaded(orders, endpoint).snapshots()) == 5


def test_vacuum_honours_the_table_s_age_and_refuses_a_bad_one(orders: Table) -> None:
    fill(orders)
    newest_ms = orders.current_snapshot().timestamp_ms
    with orders.transaction() as transaction:
        transaction.set_properties(
            {"vacuum_max_snapshot_age_seconds": "60", "vacuum_min_snapshots_to_keep": "2"}
        )
    assert vacuum(orders, now_ms=newest_ms + 30_000)["snapshots_expired"] == 0  # all younger than 60 s
    assert vacuum(orders, now_ms=newest_ms + 61_000)["snapshots_expired"] == 3  # two newest kept
    assert len(orders.snapshots()) == 2

    with orders.transaction() as transaction:
        transaction.set_properties({"vacuum_max_snapshot_age_seconds": "five days"})
    with pytest.raises(IcebergMaintenanceError, match="vacuum_max_snapshot_age_seconds='five days'"):
        vacuum(orders)


def test_snapshots_and_history_tables(orders: Table) -> None:
    fill(orders)
    optimize(orders)

    snapshots = snapshots_table(orders)
    assert snapshots.schema.names == [
        "committed_at",
        "snapshot_id",
        "parent_id",
        "operation",
        "manifest_list",
        "summary",
    ]
    assert snapshots.schema.field("committed_at").type == pa.timestamp("ms")
    assert snapshots.schema.field("summary").type == pa.string()
    assert snapshots.column("operation").to_pylist() == ["append"] * 5 + ["overwrite"]
    first, last = (json.loads(s) for s in snapshots.column("summary").to_pylist()[:: len(snapshots) - 1])
    assert first["added-records"] == "20" and last["total-records"] == "80"
    assert snapshots.column("parent_id").to_pylist()[0] is None
    ids = snapshots.column("snapshot_id").to_pylist()
    assert snapshots.column("parent_id").to_pylist()[1:] == ids[:-1]

    history = history_table(orders)
    assert history.schema.names == ["made_current_at", "snapshot_id", "parent_id", "is_current_ancestor"]
    assert history.column("snapshot_id").to_pylist() == ids
    assert all(history.column("is_current_ancestor").to_pylist())
