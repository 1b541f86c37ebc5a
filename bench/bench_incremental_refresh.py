"""Benchmark: a refresh after 1,000 new changes against a full rebuild (bytes, time), and its growth.

Starts its own emulator (not recorded, ``SALES_CDC_HOME`` in a temporary directory), provisions it
and writes ``--days`` days of raw CDC objects (``--orders-per-day`` orders a day, lifecycles spread
over the following days; rows made by the real Lambda transform, as in ``bench_refresh_one_day``).
Then, with the functions the Dagster assets run, on the local query engine:

1. **full refresh** (the baseline): ``orders_current`` rebuilt from every raw partition, then
   ``sales_daily`` and ``sales_hourly`` for every order date;
2. ``--changes`` new changes arrive (new orders today, and payments, shipments, deliveries,
   cancellations and deletions of orders of the last days), as new raw objects;
3. **incremental refresh**: ``orders_current`` merges the partitions that received objects, then the
   summaries refresh exactly the order dates it reports as changed.

Prints bytes scanned (Athena's ``DataScannedInBytes``; locally the bytes of the files read) and wall
time of both, and the ratios: PASS when incremental/full ≤ ``--bytes-target`` (5 %) in bytes and ≤
``--time-target`` (25 %) in time. With ``--growth 10`` it then builds a second lake with 10× the days
and measures the same incremental refresh there: PASS when its time is ≤ ``--growth-target`` (1.5×)
the first one's.

    .venv/bin/python bench/bench_incremental_refresh.py [--days 30] [--orders-per-day 2500]
        [--changes 1000] [--growth 10]
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["SALES_CDC_HOME"] = tempfile.mkdtemp(prefix="bench-incremental-")

import boto3  # noqa: E402
from bench_refresh_one_day import PRODUCTS, raw_objects  # noqa: E402

from infra.clients import LOCAL_CREDENTIALS  # noqa: E402
from lambda_transform.cdc_row import to_cdc_row  # noqa: E402
from local_aws.glue import LocalCrawler  # noqa: E402
from local_aws.provision import provision  # noqa: E402
from local_aws.server import Emulator  # noqa: E402
from sales_cdc.analytics.derived_tables import Statements  # noqa: E402
from sales_cdc.analytics.orders_current import refresh_orders_current  # noqa: E402
from sales_cdc.analytics.sales import refresh_order_dates  # noqa: E402
from sales_cdc.generator import iso_utc, to_attribute_values  # noqa: E402
from sales_cdc.resources.aws import LakeResource  # noqa: E402
from sales_cdc.resources.query_engine import LocalQueryEngine  # noqa: E402
from sales_cdc.settings import Settings  # noqa: E402

SUMMARIES = ("sales_daily", "sales_hourly")


@dataclass
class Refresh:
    """What one refresh (orders_current and the summaries it names) cost."""

    bytes_scanned: int
    seconds: float
    order_dates: int


class BenchLake:
    """A provisioned emulator holding one history of raw objects."""

    def __init__(self, days: list[date], orders_per_day: int, seed: int) -> None:
        self.emulator = Emulator(port=None, record=False)
        self.emulator.start()
        outputs = provision(self.emulator.endpoint, report=lambda line: None).outputs
        self.settings = Settings(
            "local", outputs.get("Region", "us-east-1"), self.emulator.endpoint, None, outputs
        )
        client_args = {"endpoint_url": self.emulator.endpoint, "region_name": self.settings.region}
        self.s3 = boto3.client("s3", **client_args, **LOCAL_CREDENTIALS)
        self.glue = boto3.client("glue", **client_args, **LOCAL_CREDENTIALS)
        self.lake = LakeResource.from_settings(self.settings)
        self.engine = LocalQueryEngine(
            database=self.settings.glue_database, endpoint_url=self.emulator.endpoint
        )
        started = time.perf_counter()
        partitions = raw_objects(days, orders_per_day, seed)
        self.raw_bytes = self.write(partitions, "history")
        self.events = sum(len(lines) for lines in partitions.values())
        self.objects = len(partitions)
        self.setup_seconds = time.perf_counter() - started
        self.watermark: datetime | None = None

    def write(self, partitions: dict[tuple[str, str], list[str]], name: str) -> int:
        """One gzip object per partition, then the crawl registers new partitions; returns bytes."""
        settings = self.settings

        def put(partition: tuple[str, str]) -> int:
            dt, hour = partition
            body = gzip.compress("".join(partitions[partition]).encode())
            key = f"{settings.raw_cdc_prefix}dt={dt}/hour={hour}/sales-cdc-delivery-1-{dt}-{hour}-{name}.gz"
            self.s3.put_object(Bucket=settings.bucket, Key=key, Body=body)
            return len(body)

        with ThreadPoolExecutor(max_workers=8) as pool:
            written = sum(pool.map(put, sorted(partitions)))
        LocalCrawler.connect(self.emulator.endpoint, settings.region).crawl(settings.output("CrawlerName"))
        return written

    def refresh(self, *, full: bool, run_name: str) -> Refresh:
        """orders_current (full or incremental), then the summaries of its changed order dates."""
        statements = Statements(self.engine, self.settings.glue_database)
        started = time.perf_counter()
        facts = refresh_orders_current(
            statements,
            self.lake,
            self.s3,
            self.glue,
            run_token=run_name,
            watermark=None if full else self.watermark,
            full=full,
            # The whole history is written seconds before the first refresh; in a lake it is days old.
            # The margin (objects of the last 5 minutes read again) would read all of it here.
            listing_margin=timedelta(0),
        )
        days = facts["changed_order_dates"]
        for table in SUMMARIES:
            refresh_order_dates(table, days, statements, self.lake, self.s3)
        seconds = time.perf_counter() - started
        # S3 times have whole seconds, so a refresh reads again the objects of its watermark's second. The
        # bench writes its whole history in a burst (hundreds of objects in that second, where a lake has a
        # handful), so the next refresh starts one second later: the new changes come many seconds after.
        self.watermark = datetime.fromisoformat(facts["raw_watermark"]) + timedelta(seconds=1)
        return Refresh(statements.bytes_scanned, seconds, len(days))

    def new_changes(self, count: int, today: date, seed: int) -> int:
        """``count`` new changes in today's partitions: new orders and changes of recent orders."""
        rng = random.Random(seed)
        recent = [
            row[0]
            for row in self.engine.execute(
                "SELECT order_id FROM orders_current WHERE status IN ('PLACED', 'PAID', 'SHIPPED') "
                f"AND order_date >= '{(today - timedelta(days=4)).isoformat()}'",
                self.settings.glue_database,
            ).rows
        ]
        state = {
            row[0]: row
            for row in self.engine.execute(
                "SELECT order_id, customer_id, customer_name, product_id, product_name, category, quantity, "
                f"unit_price, status, created_at FROM orders_current WHERE order_id IN "
                f"({', '.join(repr(order_id) for order_id in rng.sample(recent, min(len(recent), count)))})",
                self.settings.glue_database,
            ).rows
        }
        now = datetime.now(UTC).replace(microsecond=0)
        partitions: dict[tuple[str, str], list[str]] = defaultdict(list)
        for number in range(count):
            moment = now - timedelta(seconds=count - number)
            existing = list(state.values())[number // 2] if number % 2 and number // 2 < len(state) else None
            if existing is None:
                product_id, name, category, price = rng.choice(PRODUCTS)
                item = {
                    "orderId": f"n-{uuid.UUID(int=rng.getrandbits(128))}",
                    "customerId": f"c-{rng.randrange(2000):04d}",
                    "customerName": "New Customer",
                    "productId": product_id,
                    "productName": name,
                    "category": category,
                    "quantity": 1,
                    "unitPrice": price,
                    "status": "PLACED",
                    "createdAt": iso_utc(int(moment.timestamp() * 1000)),
                }
                event = "INSERT"
            else:
                (
                    order_id,
                    customer_id,
                    customer,
                    product_id,
                    name,
                    category,
                    quantity,
                    price,
                    status,
                    created,
                ) = existing
                next_status = {"PLACED": "PAID", "PAID": "SHIPPED", "SHIPPED": "DELIVERED"}[status]
                item = {
                    "orderId": order_id,
                    "customerId": customer_id,
                    "customerName": customer,
                    "productId": product_id,
                    "productName": name,
                    "category": category,
                    "quantity": quantity,
                    "unitPrice": price,
                    "status": "CANCELLED" if rng.random() < 0.1 else next_status,
                    "createdAt": iso_utc(int(created.replace(tzinfo=UTC).timestamp() * 1000)),
                }
                event = "REMOVE" if rng.random() < 0.02 else "MODIFY"
            item["updatedAt"] = iso_utc(int(moment.timestamp() * 1000))
            record = {
                "eventID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "eventName": event,
                "dynamodb": {
                    "ApproximateCreationDateTime": int(moment.timestamp()),
                    "Keys": {"orderId": {"S": item["orderId"]}},
                    ("OldImage" if event == "REMOVE" else "NewImage"): to_attribute_values(item),
                    "SequenceNumber": str(9 * 10**30 + seed * 10**7 + number),
                },
            }
            line, keys = to_cdc_row(record, int(moment.timestamp() * 1000) + 500)
            partitions[(keys["dt"], keys["hour"])].append(line)
        self.write(partitions, f"new{seed}")
        return count

    def stop(self) -> None:
        self.emulator.stop()


def measure_lake(args: argparse.Namespace, days_count: int, label: str) -> tuple[Refresh, Refresh]:
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=days_count - n) for n in range(days_count)]
    lake = BenchLake(days, args.orders_per_day, args.seed)
    try:
        print(
            f"\n[{label}] data: {days_count} days, {days_count * args.orders_per_day:,} orders, "
            f"{lake.events:,} change events in {lake.objects:,} raw objects, {lake.raw_bytes:,} bytes "
            f"(set-up {lake.setup_seconds:.1f} s)"
        )
        full = lake.refresh(full=True, run_name="full")
        print(
            f"[{label}] full refresh:        {full.bytes_scanned:>14,} bytes  {full.seconds:7.2f} s  "
            f"({full.order_dates} order dates)"
        )
        lake.new_changes(args.changes, today, seed=1)
        incremental = lake.refresh(full=False, run_name="incremental")
        print(
            f"[{label}] incremental refresh: {incremental.bytes_scanned:>14,} bytes  "
            f"{incremental.seconds:7.2f} s  ({incremental.order_dates} order dates, {args.changes:,} changes)"
        )
        return full, incremental
    finally:
        lake.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--orders-per-day", type=int, default=2500)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--growth", type=int, default=10, help="history multiple of the growth run (0: skip)")
    parser.add_argument("--bytes-target", type=float, default=0.05)
    parser.add_argument("--time-target", type=float, default=0.25)
    parser.add_argument("--growth-target", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.days < 3 or args.orders_per_day < 1 or args.changes < 1:
        parser.error("--days must be ≥ 3, --orders-per-day and --changes ≥ 1")

    full, incremental = measure_lake(args, args.days, "1x")
    byte_ratio = incremental.bytes_scanned / full.bytes_scanned
    time_ratio = incremental.seconds / full.seconds
    verdicts = [byte_ratio <= args.bytes_target, time_ratio <= args.time_target]
    print(
        f"\nincremental / full: bytes {byte_ratio:.2%} (target ≤ {args.bytes_target:.0%}), "
        f"time {time_ratio:.2%} (target ≤ {args.time_target:.0%})"
    )
    if args.growth:
        _, grown = measure_lake(args, args.days * args.growth, f"{args.growth}x")
        growth = grown.seconds / incremental.seconds
        verdicts.append(growth <= args.growth_target)
        print(
            f"\ngrowth: the same {args.changes:,}-change refresh with {args.growth}x the history took "
            f"{growth:.2f}x the time (target ≤ {args.growth_target}x)"
        )
    verdict = "PASS" if all(verdicts) else "FAIL"
    print(f"incremental refresh: {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
