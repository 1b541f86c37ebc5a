"""Benchmark: what durable local state costs — restart time with a full lake, and write throughput.

(a) Restart: a durable emulator (``Emulator(state_dir=...)``) is filled with ``--items`` DynamoDB items
    (BatchWriteItem, a few writer threads) and ``--objects`` small S3 objects, a snapshot holding them is
    waited for (its fork pause, duration and size are printed), and it is stopped (final snapshot).
    Then the time until a new durable emulator on that directory answers (restore included) is
    compared with the cold start of an empty, non-durable emulator: both times and the ratio.
(b) Write throughput: ``--writes`` PutItem calls through boto3 against a durable and a non-durable
    emulator, alternating over ``--rounds`` rounds; the medians and their ratio are printed. PASS when the
    durable one is at most ``--max-cost`` (default 10 %) slower, else FAIL and exit code 1.

Every emulator here is its own process on a free port, not recorded: a running local stack is untouched.

    .venv/bin/python bench/bench_restart.py [--items 100000] [--objects 10000] [--writes 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from machine import MachineCpu  # noqa: E402

from infra.clients import LOCAL_CREDENTIALS  # noqa: E402
from local_aws.server import Emulator  # noqa: E402

TABLE = "orders"
BUCKET = "bench-restart-lake"
WRITERS = 4


def client(emulator: Emulator, service: str) -> Any:
    """A boto3 client of the emulator (enough connections for the writer threads)."""
    config = Config(max_pool_connections=WRITERS * 2, retries={"max_attempts": 5, "mode": "standard"})
    return boto3.client(
        service, endpoint_url=emulator.endpoint, region_name="us-east-1", config=config, **LOCAL_CREDENTIALS
    )


def create_table(emulator: Emulator) -> Any:
    dynamodb = client(emulator, "dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return dynamodb


def order(number: int) -> dict[str, Any]:
    """An order-sized item (the product's orders have about a dozen attributes)."""
    return {
        "orderId": {"S": f"order-{number:07d}"},
        "customerId": {"S": f"customer-{number % 5000:05d}"},
        "product": {"S": "Laptop"},
        "category": {"S": "Electronics"},
        "quantity": {"N": str(1 + number % 5)},
        "unitPrice": {"N": "899.99"},
        "status": {"S": "PLACED"},
        "createdAt": {"S": "2026-01-01T00:00:00Z"},
        "updatedAt": {"S": "2026-01-01T00:00:00Z"},
    }


def fill(emulator: Emulator, items: int, objects: int) -> None:
    """``items`` DynamoDB items (BatchWriteItem of 25, WRITERS threads) and ``objects`` S3 objects."""
    create_table(emulator)
    client(emulator, "s3").create_bucket(Bucket=BUCKET)

    def write_items(worker: int) -> None:
        dynamodb = client(emulator, "dynamodb")
        numbers = range(worker, items, WRITERS)
        batch: list[dict[str, Any]] = []
        for number in numbers:
            batch.append({"PutRequest": {"Item": order(number)}})
            if len(batch) == 25:
                dynamodb.batch_write_item(RequestItems={TABLE: batch})
                batch = []
        if batch:
            dynamodb.batch_write_item(RequestItems={TABLE: batch})

    def write_objects(worker: int) -> None:
        s3 = client(emulator, "s3")
        for number in range(worker, objects, WRITERS):
            s3.put_object(
                Bucket=BUCKET, Key=f"raw/dt=2026-01-01/part-{number:06d}.json", Body=b'{"x": 1}\n' * 20
            )

    threads = [threading.Thread(target=write_items, args=(w,)) for w in range(WRITERS)]
    threads += [threading.Thread(target=write_objects, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def timed_start(emulator: Emulator) -> float:
    began = time.perf_counter()
    emulator.start()
    return time.perf_counter() - began


def restart(args: argparse.Namespace, work: Path) -> None:
    state = work / "aws-state"
    full = Emulator(port=0, record=False, state_dir=state, log_path=work / "full.log").start()
    began = time.perf_counter()
    fill(full, args.items, args.objects)
    print(f"filled {args.items:,} items and {args.objects:,} objects in {time.perf_counter() - began:.1f} s")
    status = full.wait_for_snapshot(timeout=600)
    print(
        f"snapshot: {status['bytes'] / 1e6:.1f} MB in {status['duration_s']:.2f} s (in a forked child); "
        f"requests paused {status['pause_ms']:.1f} ms for the fork"
    )
    began = time.perf_counter()
    full.stop()
    print(f"graceful stop (final snapshot if anything changed): {time.perf_counter() - began:.2f} s")

    restored = Emulator(port=0, record=False, state_dir=state, log_path=work / "restored.log")
    restart_s = timed_start(restored)
    summary = restored.restored() or {}
    restored.stop()
    cold = Emulator(port=0, record=False, log_path=work / "cold.log")
    cold_s = timed_start(cold)
    cold.stop()
    print(f"restored: {summary.get('tables')} , S3 {summary.get('services', {}).get('s3')}")
    print(
        f"restart with {args.items:,} items + {args.objects:,} objects: {restart_s:.2f} s "
        f"(restore {summary.get('seconds', 0):.2f} s); cold start of an empty emulator: {cold_s:.2f} s; "
        f"ratio {restart_s / cold_s:.1f}x"
    )


def put_rate(emulator: Emulator, writes: int) -> float:
    """PutItem calls per second from one boto3 client."""
    dynamodb = create_table(emulator)
    began = time.perf_counter()
    for number in range(writes):
        dynamodb.put_item(TableName=TABLE, Item=order(number))
    return writes / (time.perf_counter() - began)


def throughput(args: argparse.Namespace, work: Path) -> bool:
    rates: dict[str, list[float]] = {"durable": [], "non-durable": []}
    for round_number in range(args.rounds):
        for kind in ("non-durable", "durable") if round_number % 2 == 0 else ("durable", "non-durable"):
            state = work / f"throughput-{round_number}" if kind == "durable" else None
            emulator = Emulator(port=0, record=False, state_dir=state, log_path=work / f"{kind}.log").start()
            cpu = MachineCpu.now()
            began = time.perf_counter()
            try:
                rate = put_rate(emulator, args.writes)
            finally:
                elapsed = time.perf_counter() - began
                snapshot = emulator.snapshot_status()
                emulator.stop()
            rates[kind].append(rate)
            snapshot_cpu = float(snapshot.get("cpu_s_total", 0.0))
            extra = (
                f", {snapshot.get('generation', 0)} snapshots meanwhile using {snapshot_cpu:.2f} CPU s "
                f"= {100 * snapshot_cpu / elapsed:.1f} % of one CPU"
                if state
                else ""
            )
            machine = MachineCpu.now().since(cpu)
            print(f"round {round_number + 1} {kind:<12} {rate:8.0f} puts/s ({machine}{extra})")
    durable, plain = statistics.median(rates["durable"]), statistics.median(rates["non-durable"])
    cost = 1 - durable / plain
    verdict = "PASS" if cost <= args.max_cost else "FAIL"
    print(
        f"write throughput: durable {durable:.0f} puts/s, non-durable {plain:.0f} puts/s; "
        f"durability costs {100 * cost:.1f} % (target ≤ {100 * args.max_cost:.0f} %): {verdict}"
    )
    return verdict == "PASS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-cost", type=float, default=0.10)
    parser.add_argument("--skip-restart", action="store_true", help="only the write-throughput part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-restart-") as directory:
        work = Path(directory)
        if not args.skip_restart:
            restart(args, work)
        passed = throughput(args, work)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
