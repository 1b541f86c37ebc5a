"""Benchmark: freshness through Dagster — from a DynamoDB write to ``orders_current`` showing it.

Measures, at a steady ``--rate`` (default 50) changes/s, how long a write to the ``orders`` table
takes to be visible in ``orders_current`` when refresh runs go back to back, in two phases on the
same lake: today's full rebuild (run config ``full: true``) as the baseline, then the incremental
merge (the default config).

Set-up: its own emulator (not recorded, ``SALES_CDC_HOME`` in a temporary directory), provisioned
with the local parameters (the template's short local buffers); ``--history-days`` days of raw CDC
history (``--history-orders`` orders a day, rows made by the real Lambda transform) written straight
to S3 and crawled, so a rebuild has a lake to read; the local data plane (Pipe and Firehose
stand-ins) running; an ephemeral Dagster instance and the product's resources
(``build_resources("local")``); one warm-up run that creates the table.

Each phase runs two loops:

- a writer process puts ``--rate`` changes/s into DynamoDB for ``--seconds``: half new orders, half
  the next status step (PLACED → PAID → SHIPPED → DELIVERED) of an order it wrote earlier. Each write
  is recorded with the wall time its request was sent and the ``updatedAt`` it wrote (unique per order);
- the refresh loop does what the raw objects sensor's run does: it takes the new objects' S3
  notifications from the queue the sensor reads and, as soon as there is one, materializes
  ``[partition_repair, orders_current]`` with the sensor's partition repair config (the hours and
  keys of the new objects). After each run it reads ``orders_current`` and counts a write as visible
  when its order shows that ``updatedAt`` or a later one; latency = the run's end − the write's send
  time. After the writer stops, runs go on until every write is visible (or ``--drain`` s pass).

The baseline runs first and the incremental phase waits until the history is older than
``orders_current``'s listing margin (``LISTING_MARGIN``, 5 min, counted from the history's writing):
an incremental refresh reads again the partitions of objects modified within the margin before its
watermark, so a history written seconds ago would be read in full, as no lake's history is. A short
lead-in (a few writes, one refresh) then moves the watermark past it; it is not counted. With the
defaults the whole run takes about 7 minutes, most of it that wait.

Prints per phase: writes, visible, p50 / p99 / max latency, runs (count, mean and max duration, the
mode and raw partitions orders_current reported), and the incremental/full ratio of p50 and p99. The
issue sets no target: PASS when the incremental p99 ≤ the full rebuild's p99.

    .venv/bin/python bench/bench_freshness_dagster.py [--rate 50] [--seconds 60] [--history-days 3]
        [--history-orders 1000] [--drain 60]
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
import dagster as dg  # noqa: E402
from bench_refresh_one_day import PRODUCTS, raw_objects  # noqa: E402

from infra.clients import LOCAL_CREDENTIALS  # noqa: E402
from local_aws.dataplane import DataPlane, format_health  # noqa: E402
from local_aws.glue import LocalCrawler  # noqa: E402
from local_aws.provision import REGION, provision  # noqa: E402
from local_aws.server import Emulator  # noqa: E402
from sales_cdc.analytics.object_created_queue import (  # noqa: E402
    RawObject,
    delete_messages,
    parse_message,
    receive_messages,
)
from sales_cdc.analytics.orders_current import LISTING_MARGIN, orders_current  # noqa: E402
from sales_cdc.catalog.partition_repair import partition_repair  # noqa: E402
from sales_cdc.generator import iso_utc, to_attribute_values  # noqa: E402
from sales_cdc.resources import build_resources  # noqa: E402
from sales_cdc.settings import Settings, load_settings, outputs_path  # noqa: E402

NEXT_STATUS = {"PLACED": "PAID", "PAID": "SHIPPED", "SHIPPED": "DELIVERED"}
# Dagster's console logger at WARNING: a run's INFO lines would bury the figures.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
POLL_S = 0.2  # pause of the refresh loop when no new object has arrived
MARGIN_SLACK_S = 2.0  # S3's LastModified has whole seconds
WRITER_LATE_LIMIT_S = 1.0  # a write leaving later than this after its slot: the rate was not held
# The local engine's Iceberg merge warns once per statement about an Arrow copy: noise between the figures.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")


@dataclass
class Write:
    """One change put into DynamoDB: which order, the ``updatedAt`` it wrote, when it was sent."""

    order_id: str
    updated_ms: int
    sent_at: float
    visible_at: float | None = None


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    writes: list[Write] = field(default_factory=list)
    run_seconds: list[float] = field(default_factory=list)
    modes: dict[str, int] = field(default_factory=dict)
    writer_late_s: float = 0.0  # the latest any write left after its slot
    partitions_read: list[int] = field(default_factory=list)  # raw partitions per orders_current run

    @property
    def latencies(self) -> list[float]:
        return sorted(w.visible_at - w.sent_at for w in self.writes if w.visible_at is not None)


class OrderChanges:
    """The writer's changes: new orders and the next status step of orders it wrote earlier."""

    def __init__(self, prefix: str, seed: int) -> None:
        self.prefix = prefix
        self.rng = random.Random(seed)
        self.count = 0
        self.open: dict[str, dict[str, Any]] = {}  # orders with a status step left
        self.last_ms: dict[str, int] = {}

    def next_item(self, now_ms: int) -> dict[str, Any]:
        """A new order, or (half the time, when there is one) the next status step of an open order."""
        if self.open and self.rng.random() < 0.5:
            order_id = self.rng.choice(list(self.open))
            item = {**self.open[order_id], "status": NEXT_STATUS[self.open[order_id]["status"]]}
        else:
            product_id, name, category, price = self.rng.choice(PRODUCTS)
            order_id = f"{self.prefix}-{self.count:06d}"
            item = {
                "orderId": order_id,
                "customerId": f"c-{self.rng.randrange(500):04d}",
                "customerName": "Bench Customer",
                "productId": product_id,
                "productName": name,
                "category": category,
                "quantity": self.rng.randint(1, 3),
                "unitPrice": price,
                "status": "PLACED",
                "createdAt": iso_utc(now_ms),
            }
        self.count += 1
        # updatedAt identifies the write: strictly increasing per order, so "this value or a later
        # one" in orders_current means the write is visible.
        updated = max(now_ms, self.last_ms.get(order_id, 0) + 1)
        self.last_ms[order_id] = updated
        item["updatedAt"] = iso_utc(updated)
        if item["status"] in NEXT_STATUS:
            self.open[order_id] = item
        else:
            self.open.pop(order_id, None)
        return item


def write_steadily(endpoint: str, table: str, prefix: str, rate: float, seconds: float, seed: int) -> None:
    """The writer process: ``rate`` changes a second for ``seconds``; one line per write on stdout.

    Lines: ``write <order id> <updatedAt ms> <send time>`` and, last, ``done <latest write's delay>``.
    It runs in its own process because a refresh run holds the bench process's interpreter for
    seconds at a time: a writer thread there fell to about 34 writes/s.
    """
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, **LOCAL_CREDENTIALS)
    changes = OrderChanges(prefix, seed)
    late = 0.0
    started = time.monotonic()
    for number in range(int(rate * seconds)):
        # A steady rate: each write at its slot, however long the previous request took.
        slot = started + number / rate
        time.sleep(max(0.0, slot - time.monotonic()))
        late = max(late, time.monotonic() - slot)
        sent_at = time.time()
        item = changes.next_item(int(sent_at * 1000))
        dynamodb.put_item(TableName=table, Item=to_attribute_values(item))
        print(f"write {item['orderId']} {changes.last_ms[item['orderId']]} {sent_at:.6f}", flush=True)
    print(f"done {late:.6f}", flush=True)


class Writer(threading.Thread):
    """Runs the writer process of a phase and collects its writes as they are reported."""

    def __init__(
        self, endpoint: str, table: str, prefix: str, rate: float, seconds: float, seed: int
    ) -> None:
        super().__init__(name=f"writer-{prefix}", daemon=True)
        self.prefix = prefix
        self.command = [
            sys.executable,
            __file__,
            "--writer",
            *(endpoint, table, prefix, str(rate), str(seconds), str(seed)),
        ]
        self.writes: list[Write] = []
        self.error: str | None = None
        self.max_late = 0.0

    def run(self) -> None:
        with subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None and child.stderr is not None
            for line in child.stdout:
                kind, *values = line.split()
                if kind == "write":
                    self.writes.append(Write(values[0], int(values[1]), float(values[2])))
                elif kind == "done":
                    self.max_late = float(values[0])
            errors = child.stderr.read()
        if child.returncode:
            self.error = f"exit status {child.returncode}: {errors.strip()[-2000:]}"


class Refresher:
    """Back-to-back refresh runs through Dagster, fed by the queue of new raw objects the sensor reads."""

    def __init__(self, resources: dict[str, Any], instance: dg.DagsterInstance) -> None:
        self.resources, self.instance = resources, instance
        self.lake = resources["lake"]
        self.sqs = resources["sqs"].get_client()
        self.engine = resources["query_engine"]

    def new_objects(self, wait_seconds: int = 0) -> tuple[list[RawObject], list[str]]:
        """New raw objects announced on the queue, and the receipt handles of the messages read."""
        messages = receive_messages(self.sqs, self.lake.object_created_queue_url, wait_seconds=wait_seconds)
        objects = [
            obj
            for message in messages
            for obj in parse_message(
                message.get("Body", ""), bucket=self.lake.bucket, raw_prefix=self.lake.raw_prefix
            ).objects
        ]
        return objects, [message["ReceiptHandle"] for message in messages]

    def drain(self) -> int:
        """Delete every message waiting (the history's notifications); returns how many."""
        count = 0
        while True:
            _, handles = self.new_objects()
            if not handles:
                return count
            delete_messages(self.sqs, self.lake.object_created_queue_url, handles)
            count += len(handles)

    def run(self, objects: list[RawObject], *, full: bool) -> tuple[float, float, str, int]:
        """One run of partition repair + orders_current.

        Returns its end time, its seconds, and the mode and raw partitions read orders_current reported.
        """
        repair = {
            "hours": sorted({o.hour_target for o in objects}),
            "objects": sorted({o.key for o in objects}),
        }
        ops: dict[str, Any] = {"partition_repair": {"config": repair}}
        if full:
            ops["orders_current"] = {"config": {"full": True}}
        started = time.perf_counter()
        result = dg.materialize(
            [partition_repair, orders_current],
            resources=self.resources,
            instance=self.instance,
            run_config={"ops": ops, **QUIET},
            raise_on_error=True,
        )
        ended = time.time()
        facts: dict[str, Any] = {}
        for event in result.get_asset_materialization_events():
            materialization = event.event_specific_data.materialization
            if materialization.asset_key == orders_current.key:
                facts = {
                    key: getattr(value, "value", value) for key, value in materialization.metadata.items()
                }
        return (
            ended,
            time.perf_counter() - started,
            str(facts.get("mode", "?")),
            int(facts.get("raw_partitions_read", 0)),
        )

    def shown(self, prefix: str) -> dict[str, int]:
        """``updatedAt`` (epoch ms) per order of a phase, as ``orders_current`` shows it now."""
        result = self.engine.execute(
            f"SELECT order_id, updated_at FROM orders_current WHERE order_id LIKE '{prefix}-%'",
            self.lake.glue_database,
        )
        return {str(order_id): epoch_ms(updated) for order_id, updated in result.rows}


def epoch_ms(value: Any) -> int:
    """A timestamp as the engine returns it (datetime, naive = UTC, or ISO text) in epoch milliseconds."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace(" ", "T"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def run_phase(name: str, refresher: Refresher, writer: Writer, *, full: bool, drain_s: float) -> Phase:
    """Write at the steady rate while refreshing back to back; then refresh until every write shows."""
    phase = Phase(name)
    writer.start()
    deadline: float | None = None
    while True:
        pending = [w for w in writer.writes if w.visible_at is None]
        if not writer.is_alive():
            if writer.error is not None:
                raise SystemExit(f"the writer of phase {name} failed ({writer.error})")
            deadline = deadline or time.monotonic() + drain_s
            if not pending or time.monotonic() > deadline:
                break
        objects, handles = refresher.new_objects()
        if not objects:
            # The sensor starts no run without new objects (its messages are deleted all the same).
            delete_messages(refresher.sqs, refresher.lake.object_created_queue_url, handles)
            time.sleep(POLL_S)
            continue
        ended, seconds, mode, partitions_read = refresher.run(objects, full=full)
        # As the sensor: the messages go once the run they started is done.
        delete_messages(refresher.sqs, refresher.lake.object_created_queue_url, handles)
        phase.run_seconds.append(seconds)
        phase.modes[mode] = phase.modes.get(mode, 0) + 1
        phase.partitions_read.append(partitions_read)
        shown = refresher.shown(writer.prefix)
        # Every write not seen yet, including those sent while the run went on (it may have read them).
        for write in [w for w in writer.writes if w.visible_at is None]:
            if shown.get(write.order_id, -1) >= write.updated_ms:
                write.visible_at = ended
    phase.writes = list(writer.writes)
    phase.writer_late_s = writer.max_late
    return phase


def write_history(settings: Settings, days: int, orders_per_day: int) -> int:
    """Raw CDC history for the ``days`` days before today (one object per hour), crawled; returns events."""
    today = datetime.now(UTC).date()
    partitions = raw_objects([today - timedelta(days=n) for n in range(days, 0, -1)], orders_per_day, seed=11)
    s3 = boto3.client("s3", **settings.boto3_kwargs(), **LOCAL_CREDENTIALS)

    def put(partition: tuple[str, str]) -> None:
        dt, hour = partition
        key = f"{settings.raw_cdc_prefix}dt={dt}/hour={hour}/sales-cdc-delivery-1-{dt}-{hour}-history.gz"
        body = gzip.compress("".join(partitions[partition]).encode())
        s3.put_object(Bucket=settings.bucket, Key=key, Body=body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, sorted(partitions)))
    LocalCrawler.connect(settings.endpoint_url, settings.region).crawl(settings.output("CrawlerName"))
    return sum(len(lines) for lines in partitions.values())


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (inclusive method; one value is its own percentile)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(phase: Phase, rate: float) -> tuple[float, float]:
    """Print a phase's figures; returns its (p50, p99)."""
    latencies = phase.latencies
    runs = phase.run_seconds
    modes = ", ".join(f"{mode} {count}" for mode, count in sorted(phase.modes.items()))
    writes = phase.writes
    span = writes[-1].sent_at - writes[0].sent_at if len(writes) > 1 else 0.0
    achieved = (len(writes) - 1) / span if span > 0 else 0.0
    print(
        f"{phase.name:>11}: {len(writes):,} writes at {achieved:.1f}/s (target {rate:g}/s, latest write "
        f"{phase.writer_late_s:.2f} s after its slot), {len(latencies):,} visible in orders_current"
    )
    print(
        f"{'':>11}  {len(runs)} refresh runs ({modes}): mean {statistics.fmean(runs) if runs else 0:.2f} s, "
        f"max {max(runs, default=0):.2f} s; raw partitions read per run: mean "
        f"{statistics.fmean(phase.partitions_read) if runs else 0:.1f}"
    )
    if not latencies:
        return float("inf"), float("inf")
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(
        f"{'':>11}  write → orders_current: p50 {p50:.2f} s, p99 {p99:.2f} s, "
        f"max {latencies[-1]:.2f} s, min {latencies[0]:.2f} s"
    )
    return p50, p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="changes per second into DynamoDB")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of writing per phase")
    parser.add_argument("--history-days", type=int, default=3, help="days of raw history before today")
    parser.add_argument("--history-orders", type=int, default=1000, help="orders a day in the history")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for the last writes")
    parser.add_argument("--writer", nargs=6, help=argparse.SUPPRESS)  # the writer process (internal)
    args = parser.parse_args()
    if args.writer:
        endpoint, table, prefix, rate, seconds, seed = args.writer
        write_steadily(endpoint, table, prefix, float(rate), float(seconds), int(seed))
        return 0
    if args.rate <= 0 or args.seconds <= 0:
        parser.error(f"--rate ({args.rate:g}) and --seconds ({args.seconds:g}) must be positive")
    if args.history_days < 1 or args.history_orders < 1:
        parser.error(
            f"--history-days ({args.history_days}) and --history-orders ({args.history_orders}) must be at "
            "least 1: the crawl needs raw objects to create the raw table the refresh reads"
        )

    # Never a developer's local stack: the settings and the resources read this at call time.
    home = tempfile.mkdtemp(prefix="bench-freshness-dagster-")
    os.environ["SALES_CDC_HOME"] = home
    emulator = Emulator(port=0, record=False).start()
    try:
        provision(emulator.endpoint, report=lambda line: None, outputs_path=outputs_path("local"))
        os.environ["SALES_CDC_ENDPOINT_URL"] = emulator.endpoint  # what build_resources connects to
        settings = load_settings("local")
        started = time.perf_counter()
        events = write_history(settings, args.history_days, args.history_orders)
        history_written = time.monotonic()  # the objects' LastModified is before this (and the crawl)
        resources = build_resources("local")
        refresher = Refresher(resources, dg.DagsterInstance.ephemeral())
        refresher.drain()  # the history is registered by the crawl: the runs are for what follows
        refresher.run([], full=True)  # creates orders_current (no watermark yet: a rebuild)
        print(
            f"history: {events:,} raw events over {args.history_days} day(s), crawled and rebuilt into "
            f"orders_current in {time.perf_counter() - started:.1f} s"
        )
        with tempfile.TemporaryDirectory() as checkpoints:
            plane = DataPlane.from_outputs(
                settings.endpoint_url,
                settings.region,
                settings.outputs,
                checkpoint_dir=Path(checkpoints),
                status_file=None,
            )
            plane.start()
            try:
                while not (
                    plane.health()["pipe"]["state"] == "RUNNING"
                    and plane.health()["firehose"]["state"] == "ACTIVE"
                ):
                    time.sleep(0.05)

                def phase(name: str, rate: float, seconds: float, full: bool) -> Phase:
                    writer = Writer(
                        emulator.endpoint, settings.orders_table, name, rate, seconds, seed=len(name)
                    )
                    return run_phase(name, refresher, writer, full=full, drain_s=args.drain)

                # The baseline first: a rebuild reads everything whatever the objects' age, and it
                # fills the time the history needs to age (below).
                rebuilds = phase("full", args.rate, args.seconds, True)
                # An incremental refresh reads again the partitions of objects modified within
                # LISTING_MARGIN before its watermark. The history was written seconds ago, unlike
                # a lake's history, so until it is that old every refresh would read it all.
                wait = LISTING_MARGIN.total_seconds() + MARGIN_SLACK_S - (time.monotonic() - history_written)
                if wait > 0:
                    print(
                        f"waiting {wait:.0f} s until the history is older than orders_current's listing "
                        f"margin ({LISTING_MARGIN.total_seconds():g} s), as on a lake in steady state"
                    )
                    time.sleep(wait)
                # One small incremental refresh moves the watermark past the history (it reads it
                # once more); its figures are not reported.
                lead_in = phase("lead-in", 5.0, 2.0, False)
                merges = phase("incremental", args.rate, args.seconds, False)
                health = plane.health()
            finally:
                plane.stop()
    finally:
        emulator.stop()
        shutil.rmtree(home, ignore_errors=True)

    print(
        f"steady {args.rate:g} changes/s for {args.seconds:g} s per phase, half new orders, half status "
        f"steps; runs of [partition_repair, orders_current] back to back; {format_health(health)}"
    )
    (inc_p50, inc_p99), (full_p50, full_p99) = report(merges, args.rate), report(rebuilds, args.rate)
    print(
        f"{'lead-in':>11}: {len(lead_in.writes)} writes after the wait, merged by {len(lead_in.run_seconds)} "
        f"run(s) ({', '.join(lead_in.modes)}), reading {max(lead_in.partitions_read, default=0)} raw "
        "partitions at most (not counted above)"
    )
    missing = sum(len(phase.writes) - len(phase.latencies) for phase in (merges, rebuilds))
    behind = [phase.name for phase in (merges, rebuilds) if phase.writer_late_s > WRITER_LATE_LIMIT_S]
    if behind:
        print(
            f"note: the writer of {' and '.join(behind)} fell more than {WRITER_LATE_LIMIT_S:g} s behind its "
            "slots (a busy machine): the rate was not steady there; rerun when `uptime` shows a load < 2"
        )
    print(
        f"incremental / full rebuild: p50 {inc_p50 / full_p50:.2f}, p99 {inc_p99 / full_p99:.2f} "
        "(below 1: the incremental merge shows a write sooner)"
    )
    if missing:
        print(f"FAIL: {missing} write(s) never showed in orders_current within --drain {args.drain:g} s")
        return 1
    verdict = "PASS" if inc_p99 <= full_p99 else "FAIL"
    print(
        f"{verdict}: incremental p99 {inc_p99:.2f} s {'≤' if verdict == 'PASS' else '>'} full rebuild p99 "
        f"{full_p99:.2f} s (the issue sets no target; the bar is today's rebuild in the same run)"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
