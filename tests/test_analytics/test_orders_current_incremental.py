"""``orders_current`` as an Iceberg table merged from the new changes: incremental = full, exactly once.

The history is delivered in several waves, each followed by an incremental refresh: duplicate and
out-of-order deliveries, a delete, a re-insert of the deleted id, an order whose creation time (and so
its order date) changes, a backlog landing in an old event-time partition, and a redelivered old
change of a deleted order. After every wave the table must equal the truth (the DynamoDB items), and
at the end a full rebuild must give the very same table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from local_aws.provision import provision
from local_aws.server import reset_emulator
from sales_cdc.analytics.derived_tables import Statements
from sales_cdc.analytics.maintenance import lake_maintenance_job
from sales_cdc.analytics.orders_current import refresh_orders_current
from sales_cdc.analytics.sales import refresh_order_dates
from sales_cdc.settings import Settings
from test_analytics.analytics_support import (
    History,
    RawObject,
    at,
    boto3_kwargs,
    cdc_row,
    crawl,
    resources,
    table_rows,
    write_raw,
)

TODAY = datetime.now(UTC).date()
D1, D2, D3 = (TODAY - timedelta(days=n) for n in (4, 3, 2))
ORDERS_SQL = (
    "SELECT order_id, customer_name, quantity, unit_price, status, created_at, last_sequence_number, "
    "order_date FROM orders_current"
)


@dataclass
class Lake:
    settings: Settings
    s3: Any
    resources: dict[str, Any]
    waves: int = 0

    def statements(self) -> Statements:
        return Statements(self.resources["query_engine"], self.settings.glue_database)

    def deliver(self, changes: list[Any], name: str) -> None:
        """One object per partition of ``changes`` (named per wave), then the crawl registers them."""
        by_partition: dict[tuple[str, str], list[str]] = {}
        for change in changes:
            line, partition = cdc_row(change)
            by_partition.setdefault(partition, []).append(line)
        self.waves += 1
        write_raw(
            self.s3,
            self.settings,
            [
                RawObject(dt, hour, f"{name}{self.waves}", tuple(lines))
                for (dt, hour), lines in by_partition.items()
            ],
        )
        crawl(self.settings)

    def refresh(self, watermark: datetime | None, **options: Any) -> dict[str, Any]:
        return refresh_orders_current(
            self.statements(),
            self.resources["lake"],
            self.s3,
            boto3.client("glue", **boto3_kwargs(self.settings)),
            run_token=f"wave{self.waves}",
            watermark=watermark,
            listing_margin=timedelta(0),
            **options,
        )

    def orders(self) -> list[tuple]:
        return table_rows(self.resources["query_engine"], self.settings, ORDERS_SQL)

    def iceberg_data_files(self, table: str) -> list[str]:
        """The data files of the table's current snapshot (its ``$files`` as pyiceberg plans them)."""
        engine = self.resources["query_engine"]
        loaded = engine.engine().iceberg.catalog.load_table((self.settings.glue_database, table))
        return [task.file.file_path for task in loaded.scan().plan_files()]


@pytest.fixture(scope="module")
def lake(emulator: Any) -> Iterator[Lake]:
    reset_emulator(emulator.endpoint)
    outputs = provision(emulator.endpoint, report=lambda line: None).outputs
    settings = Settings("local", outputs.get("Region", "us-east-1"), emulator.endpoint, None, outputs)
    yield Lake(settings, boto3.client("s3", **boto3_kwargs(settings)), resources(settings))
    reset_emulator(emulator.endpoint)


def truth(history: History) -> list[tuple]:
    """What orders_current must hold: one row per live order, as its latest change left it."""
    latest: dict[str, Any] = {}
    for change in history.changes:
        latest[change.item["orderId"]] = change
    rows = []
    for order_id, change in latest.items():
        if change.event_name == "REMOVE":
            continue
        item = change.item
        rows.append(
            (order_id, item["customerName"], int(item["quantity"]), str(item["unitPrice"]), item["status"])
        )
    return sorted(rows)


def business(rows: list[tuple]) -> list[tuple]:
    return sorted(row[:5] for row in rows)


def test_incremental_refreshes_equal_the_truth_and_a_full_rebuild(lake: Lake) -> None:
    h = History(seed=31)
    # Wave 1: three orders, one change delivered twice (a duplicate in another object).
    h.insert("a1", at(D1, 9), quantity=2, unit_price="10.00")
    h.insert("a2", at(D1, 10), unit_price="20.00")
    h.insert("a3", at(D2, 11), unit_price="30.00")
    lake.deliver(h.changes, "w")
    lake.deliver(h.changes[1:2], "dup")
    first = lake.refresh(watermark=None)
    assert first["mode"] == "full" and first["inserted"] == 3
    assert business(lake.orders()) == truth(h)

    # Wave 2: updates arriving out of order (the newer one first), a delete, an order date move.
    start = len(h.changes)
    h.modify("a1", at(D2, 8), status="PAID")
    h.modify("a1", at(D2, 9), status="SHIPPED")
    h.remove("a2", at(D2, 10))
    h.modify("a3", at(D2, 12), createdAt=at(D3, 1).isoformat().replace("+00:00", ".000Z"))
    wave2 = h.changes[start:]
    lake.deliver([wave2[1], wave2[3]], "w")
    lake.deliver([wave2[0], wave2[2]], "late")
    second = lake.refresh(watermark=datetime.fromisoformat(first["raw_watermark"]))
    assert second["mode"] == "incremental"
    assert business(lake.orders()) == truth(h)
    assert second["deleted"] == 2 and second["updated"] == 1 and second["inserted"] == 1  # a2 gone, a3 moved
    assert second["changed_order_dates"] == sorted({D1.isoformat(), D2.isoformat(), D3.isoformat()})
    dates = {row[0]: row[-1] for row in lake.orders()}
    assert dates["a3"] == D3.isoformat()

    # Wave 3: a redelivered old change of the deleted order (must not bring it back), a re-insert of
    # another deleted id, and a backlog change in an old event-time partition.
    start = len(h.changes)
    h.insert("a4", at(D1, 7), unit_price="40.00")
    h.remove("a4", at(D1, 7, 30))
    h.insert("a4", at(D3, 5), unit_price="41.00")  # re-insert of the deleted id
    h.modify("a1", at(D1, 23), status="DELIVERED")  # a backlog: event time in an old partition
    old_a2 = next(c for c in h.changes if c.item["orderId"] == "a2" and c.event_name == "INSERT")
    lake.deliver(h.changes[start:] + [replace(old_a2, arrival_ms=old_a2.arrival_ms + 3_600_000)], "w")
    third = lake.refresh(watermark=datetime.fromisoformat(second["raw_watermark"]))
    assert business(lake.orders()) == truth(h)
    assert "a2" not in {row[0] for row in lake.orders()}

    # Read again (S3 times have whole seconds: objects of the watermark's second are read again):
    # nothing changes, nothing is committed.
    again = lake.refresh(watermark=datetime.fromisoformat(third["raw_watermark"]))
    assert again["changed_order_dates"] == [] and again["snapshot_id"] == third["snapshot_id"]
    # Nothing new since then: nothing is even read.
    later = datetime.fromisoformat(third["raw_watermark"]) + timedelta(seconds=1)
    fourth = lake.refresh(watermark=later)
    assert fourth["raw_partitions_read"] == 0 and fourth["staged_rows"] == 0

    incremental = lake.orders()
    rebuilt = lake.refresh(watermark=None, full=True)
    assert rebuilt["mode"] == "full"
    assert lake.orders() == incremental, "a full rebuild must give the table the merges built"


def test_a_partition_not_yet_registered_is_read_by_a_later_refresh(lake: Lake) -> None:
    h = History(seed=32, first_sequence=10**25)
    h.insert("b1", at(D1, 3), unit_price="5.00")
    lake.deliver(h.changes, "w")
    done = lake.refresh(watermark=None)
    start = len(h.changes)
    h.insert("b2", at(D2, 4), unit_price="6.00")  # an hour nobody has registered yet
    change = h.changes[start]
    line, (dt, hour) = cdc_row(change)
    write_raw(lake.s3, lake.settings, [RawObject(dt, hour, "unregistered", (line,))])
    held = lake.refresh(watermark=datetime.fromisoformat(done["raw_watermark"]))
    assert "b2" not in {row[0] for row in lake.orders()}
    assert held["raw_watermark"] <= done["raw_watermark"] or held["inserted"] == 0
    crawl(lake.settings)  # partition repair registers it
    later = lake.refresh(watermark=datetime.fromisoformat(held["raw_watermark"]))
    assert later["inserted"] == 1 and "b2" in {row[0] for row in lake.orders()}


def test_summaries_replace_their_days_in_one_commit_each(lake: Lake) -> None:
    statements = lake.statements()
    days = [D1.isoformat(), D2.isoformat()]
    first = refresh_order_dates("sales_daily", days, statements, lake.resources["lake"], lake.s3)[1]
    again = refresh_order_dates("sales_daily", days, statements, lake.resources["lake"], lake.s3)[1]
    assert first == again and sum(first.values()) > 0, "a repeated refresh leaves one copy"
    rows = table_rows(
        lake.resources["query_engine"],
        lake.settings,
        "SELECT order_date, count(*) FROM sales_daily GROUP BY order_date",
    )
    assert {day: count for day, count in rows if day in days} == first


def test_the_maintenance_job_compacts_expires_and_keeps_every_row(lake: Lake) -> None:
    h = History(seed=33, first_sequence=10**27)
    h.insert("m1", at(D1, 2), unit_price="1.00")
    lake.deliver(h.changes, "m")
    lake.refresh(watermark=None)
    engine = lake.resources["query_engine"]
    # An append adds a second, small file to the partition (a merge rewrites the partition's file).
    engine.execute(
        "INSERT INTO orders_current SELECT order_id || '-copy', customer_id, customer_name, product_id, "
        "product_name, category, quantity, unit_price, status, created_at, updated_at, last_event_id, "
        "last_event_name, last_sequence_number, last_event_time, order_date FROM orders_current "
        "WHERE order_id = 'm1'",
        lake.settings.glue_database,
    )
    table = engine.engine().iceberg.catalog.load_table((lake.settings.glue_database, "orders_current"))
    table.transaction().set_properties(vacuum_max_snapshot_age_seconds="1").commit_transaction()
    time.sleep(1.1)  # every snapshot so far is now older than the table's 1-second age
    before, files_before = lake.orders(), lake.iceberg_data_files("orders_current")
    result = lake_maintenance_job.execute_in_process(
        resources={key: lake.resources[key] for key in ("query_engine", "lake")}
    )
    assert result.success
    assert lake.orders() == before
    assert len(lake.iceberg_data_files("orders_current")) < len(files_before)
    table = engine.engine().iceberg.catalog.load_table((lake.settings.glue_database, "orders_current"))
    assert len(list(table.snapshots())) == 1, "VACUUM expires the snapshots older than the table's age"
