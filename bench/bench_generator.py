"""Benchmark: the order generator's write rate against the tutorials' one-put_item-per-order loop.

Starts its own emulator for every measurement (not recorded, so a running local stack is untouched),
creates the orders table from the template's definition, and writes the same number of change
events with each contender:

- baseline: the generator of the DynamoDB/Faker tutorials — for each order build an item with
  Faker and call ``boto3.resource("dynamodb").Table(...).put_item``;
- ours: ``generate_orders`` (plan, batch_write_item of 25, sharded writer threads), timed end to
  end including validation and planning; once with the default writers and once with one writer.

Every contender runs on the emulator the product starts (moto with the fix of
``infra/local/moto_server.py``, which makes each written item cheaper for both) and, for
comparison, on moto's server as released (``--no-stock`` skips that). The verdict is taken on
the product's emulator.

The contenders alternate over a few rounds and their medians are compared, because the machine
may be shared. Prints events/s of every measurement, the medians and the ratios; PASS when ours
≥ target × baseline (default 10×), else FAIL and exit code 1.

    .venv/bin/python bench/bench_generator.py [--events 3000] [--baseline-events 1000] [--rounds 3]
        [--target 10] [--writers 2] [--no-stock]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from faker import Faker  # noqa: E402
from machine import MachineCpu, process_cpu_s  # noqa: E402

from infra.cfn import orders_table_definition  # noqa: E402
from infra.clients import LOCAL_CREDENTIALS
from local_aws.server import Emulator, reset_emulator  # noqa: E402
from sales_cdc.generator import CATALOG, GeneratorConfig, client_config, generate_orders  # noqa: E402

TABLE = "orders"


def fresh_table(client: Any, endpoint: str) -> None:
    """Empty the emulator and create the orders table as the template defines it."""
    reset_emulator(endpoint)
    client.create_table(**orders_table_definition(TABLE))


def baseline(endpoint: str, events: int) -> float:
    """The tutorials' generator: a Faker-built item and one ``Table.put_item`` per order. Returns events/s."""
    resource = boto3.resource("dynamodb", endpoint_url=endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS)
    table = resource.Table(TABLE)
    fake = Faker()
    fake.seed_instance(1)
    started = time.perf_counter()
    for _ in range(events):
        product = fake.random_element(CATALOG)
        now = fake.date_time_this_month().strftime("%Y-%m-%dT%H:%M:%S.000Z")
        table.put_item(
            Item={
                "orderId": str(uuid.uuid4()),
                "customerId": f"C-{fake.random_number(digits=8):08d}",
                "customerName": fake.name(),
                "productId": product.product_id,
                "productName": product.name,
                "category": product.category,
                "quantity": fake.random_int(1, 3),
                "unitPrice": product.list_price.quantize(Decimal("0.01")),
                "status": "PLACED",
                "createdAt": now,
                "updatedAt": now,
            }
        )
    return events / (time.perf_counter() - started)


def ours(client: Any, events: int, writers: int) -> tuple[float, dict[str, int], int]:
    """generate_orders end to end. Returns (events/s, writes by kind, requests)."""
    config = GeneratorConfig(events=events, seed=1, table=TABLE, writers=writers)
    started = time.perf_counter()
    summary = generate_orders(client, config)
    elapsed = time.perf_counter() - started
    assert summary.items_written == events, summary
    return events / elapsed, summary.writes_by_kind, summary.requests


def measure(contender: str, events: int, writers: int, fixes: bool) -> tuple[float, float, str]:
    """One measurement on a fresh emulator (so earlier runs' state cannot slow it).

    Returns events/s, CPU milliseconds per event (this process plus the emulator's: unlike the
    rate, it barely depends on what else the machine is doing) and a detail line.
    """
    with Emulator(record=False, fixes=fixes) as emulator:
        assert emulator.process is not None
        # Ours uses the client the CLI uses; the baseline the resource API, as the tutorials do.
        client = boto3.client(
            "dynamodb",
            endpoint_url=emulator.endpoint,
            region_name="us-east-1",
            config=client_config(writers),
            **LOCAL_CREDENTIALS,
        )
        fresh_table(client, emulator.endpoint)
        machine = MachineCpu.now()
        cpu_before = time.process_time() + process_cpu_s(emulator.process.pid)
        if contender == "baseline":
            rate, detail = baseline(emulator.endpoint, events), ""
        else:
            rate, kinds, requests = ours(client, events, writers)
            detail = ", ".join(f"{kind} {count}" for kind, count in kinds.items()) + f"; {requests} requests"
        cpu = time.process_time() + process_cpu_s(emulator.process.pid) - cpu_before
        detail = f"{detail}{'; ' if detail else ''}{MachineCpu.now().since(machine)}"
    return rate, 1000 * cpu / events, detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="change events per measurement of ours")
    parser.add_argument(
        "--baseline-events", type=int, default=1000, help="orders per baseline measurement (~10x slower)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are compared")
    parser.add_argument("--target", type=float, default=10.0, help="required ratio ours / baseline")
    parser.add_argument("--writers", type=int, default=GeneratorConfig.writers, help="writer threads of ours")
    parser.add_argument("--no-stock", action="store_true", help="skip the measurements on moto as released")
    args = parser.parse_args()

    print(
        f"generator benchmark: {args.events} change events per measurement of ours, {args.baseline_events} "
        f"orders per baseline measurement, {args.rounds} rounds, {os.cpu_count()} CPUs, "
        f"emulator started fresh per measurement, load average {os.getloadavg()[0]:.1f}"
    )
    emulators = {"product emulator": True}
    if not args.no_stock:
        emulators["stock moto"] = False
    contenders = {
        "baseline: put_item per order": ("baseline", 1, args.baseline_events),
        "generator, 1 writer": ("ours", 1, args.events),
        f"generator, {args.writers} writers": ("ours", args.writers, args.events),
    }
    baseline_name, ours_name = next(iter(contenders)), f"generator, {args.writers} writers"
    rates: dict[tuple[str, str], list[float]] = {(e, n): [] for e in emulators for n in contenders}
    cpus: dict[tuple[str, str], list[float]] = {(e, n): [] for e in emulators for n in contenders}
    # Rounds alternate the contenders, so that a busy moment on the machine hits them alike.
    for round_number in range(1, args.rounds + 1):
        for emulator_name, fixes in emulators.items():
            for name, (contender, writers, events) in contenders.items():
                rate, cpu_ms, detail = measure(contender, events, writers, fixes)
                rates[emulator_name, name].append(rate)
                cpus[emulator_name, name].append(cpu_ms)
                figures = f"{rate:8,.0f} events/s  {cpu_ms:6.2f} CPU ms/event  {detail}"
                print(f"  round {round_number}  {emulator_name:<16} {name:<28} {figures}", flush=True)

    ratios: dict[str, float] = {}
    print("medians:")
    for emulator_name in emulators:
        rate_of = {name: statistics.median(rates[emulator_name, name]) for name in contenders}
        cpu_of = {name: statistics.median(cpus[emulator_name, name]) for name in contenders}
        for name in contenders:
            print(
                f"  {emulator_name:<16} {name:<28} {rate_of[name]:8,.0f} events/s  "
                f"({rate_of[name] / rate_of[baseline_name]:4.1f}x)  {cpu_of[name]:6.2f} CPU ms/event  "
                f"({cpu_of[baseline_name] / cpu_of[name]:4.1f}x less CPU)"
            )
        ratios[emulator_name] = rate_of[ours_name] / rate_of[baseline_name]
    # When other work starves the machine of CPU, the rate ratio falls towards the CPU ratio, because
    # the writers can no longer overlap the client's work with the emulator's; say how busy it was.
    print(f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if "stock moto" in ratios:
        print(f"on moto as released: ratio {ratios['stock moto']:.1f}x (for comparison)")
    ratio = ratios["product emulator"]
    verdict = "PASS" if ratio >= args.target else "FAIL"
    print(f"ratio {ratio:.1f}x on the product's emulator (target >= {args.target:g}x): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
