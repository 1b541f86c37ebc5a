"""Benchmark: a raw objects sensor tick with 100,000 existing objects vs with 1,000, 100 new each.

Target (issue 6): a tick with 100,000 existing raw objects and 100 new ones costs ≤ 2× a tick with
1,000 existing and 100 new. The sensor reads the bucket's ObjectCreated notifications from SQS, so
its cost should follow the new objects only.

How, in one run:

- two emulators (moto servers), each in its own process as in the local stack, each provisioned from
  the template with the raw table created; one holds 1,000 existing raw objects, the other 100,000;
- "existing" objects are written by the emulator process straight into its S3 backend with
  notifications off (a small control channel on its stdin): they stand for objects whose
  notifications earlier ticks consumed. Putting 100,000 objects through HTTP costs moto minutes, and
  the sensor never looks at them either way;
- "new" objects are put through the S3 API, so moto sends their notifications to the queue as S3
  does;
- each measured tick is a steady-state tick: it deletes the messages the previous tick committed,
  then receives and plans 100 new ones. After a warm-up tick per emulator, the two emulators' ticks
  alternate for ``--rounds`` rounds, so a busy machine slows both alike; the verdict is on the median
  of the per-round ratios. The API calls of a tick are counted per service.

Run: .venv/bin/python bench/bench_sensor_tick.py [--rounds N] [--existing-small N] [--existing-large N]
"""

from __future__ import annotations

import argparse
import gzip
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 2.0
NEW_PER_TICK = 100
ACCOUNT_ID = "123456789012"  # moto's default account


# ------------------------------------------------------------------------ the emulator process


def serve_emulator(port: int) -> None:
    """Run a moto server on ``port`` and seed objects on request: ``seed BUCKET PREFIX FROM TO``."""
    import logging

    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("ready", flush=True)
    body = gzip.compress(b'{"event_id": "existing"}\n')
    for line in sys.stdin:
        command, bucket, prefix, first, last = line.split()
        assert command == "seed", line
        backend = s3_backends[ACCOUNT_ID]["aws"]
        started = time.perf_counter()
        for n in range(int(first), int(last)):
            # Spread over 28 days x 24 hours, 50 objects per hour folder.
            key = f"{prefix}dt=2026-02-{1 + n // 1200 % 28:02d}/hour={n // 50 % 24:02d}/existing-{n:07d}.gz"
            backend.put_object(bucket, key, body, disable_notification=True)
        print(f"ok {time.perf_counter() - started:.3f}", flush=True)
    server.stop()


# ---------------------------------------------------------------------------- the bench process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lake:
    """One emulator process, provisioned, with the sensor's resources and a cursor of its own."""

    def __init__(self, name: str) -> None:
        import boto3

        # Deferred: the --serve-emulator child runs only the emulator and loads none of the project.
        from infra.clients import LOCAL_CREDENTIALS
        from local_aws.provision import provision
        from sales_cdc.resources.aws import GlueResource, LakeResource, SQSResource
        from sales_cdc.settings import Settings

        self.name = name
        port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-emulator", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout.readline().strip() == "ready"
        endpoint = f"http://127.0.0.1:{port}"
        outputs = provision(endpoint, report=lambda line: None).outputs
        settings = Settings("local", outputs.get("Region", "us-east-1"), endpoint, None, outputs)
        client_config = {"region_name": settings.region, "endpoint_url": endpoint, **LOCAL_CREDENTIALS}
        self.resources: dict[str, Any] = {
            "sqs": SQSResource(**client_config),
            "glue": GlueResource(**client_config),
            "lake": LakeResource.from_settings(settings),
        }
        self.lake = self.resources["lake"]
        self.s3 = boto3.client("s3", **settings.boto3_kwargs(), **LOCAL_CREDENTIALS)
        self._create_raw_table()
        self.calls: Counter[str] = Counter()
        for client in (self.resources["sqs"].get_client(), self.resources["glue"].get_client()):
            client.meta.events.register("before-call.*.*", self._count)
        self.existing = 0
        self.new_serial = 0
        self.cursor: str | None = None

    def _count(self, event_name: str, **kwargs: Any) -> None:
        _, service, operation = event_name.split(".")[:3]
        self.calls[f"{service}.{operation}"] += 1

    def _create_raw_table(self) -> None:
        from lambda_transform.schema import CDC_COLUMNS, PARTITION_KEYS  # deferred, as in __init__

        self.resources["glue"].get_client().create_table(
            DatabaseName=self.lake.glue_database,
            TableInput={
                "Name": self.lake.raw_table,
                "StorageDescriptor": {
                    "Columns": [{"Name": name, "Type": glue_type} for name, glue_type, _ in CDC_COLUMNS],
                    "Location": self.lake.raw_location,
                },
                "PartitionKeys": [{"Name": key, "Type": glue_type} for key, glue_type in PARTITION_KEYS],
            },
        )

    def seed_existing(self, total: int) -> float:
        """Grow the bucket to ``total`` existing raw objects; returns the seconds it took."""
        self.process.stdin.write(f"seed {self.lake.bucket} {self.lake.raw_prefix} {self.existing} {total}\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline().split()
        assert reply and reply[0] == "ok", reply
        self.existing = total
        return float(reply[1])

    def put_new(self, count: int) -> None:
        """New objects through the S3 API: moto sends their notifications to the queue."""
        body = gzip.compress(b'{"event_id": "new"}\n')
        for _ in range(count):
            self.new_serial += 1
            hour = self.new_serial // 10 % 24
            key = f"{self.lake.raw_prefix}dt=2026-03-01/hour={hour:02d}/new-{self.new_serial:07d}.gz"
            self.s3.put_object(Bucket=self.lake.bucket, Key=key, Body=body)

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Sensor:
    """The code location's raw objects sensor, ticked like the daemon ticks it."""

    def __init__(self) -> None:
        import dagster as dg

        # Deferred like Lake's: the --serve-emulator child loads none of the project.
        from sales_cdc.analytics import ANALYTICS_ASSETS
        from sales_cdc.analytics.definitions import build_sensors
        from sales_cdc.analytics.jobs import cdc_refresh_job
        from sales_cdc.catalog import CATALOG_ASSETS
        from sales_cdc.resources.aws import UnavailableResource

        (self.sensor,) = build_sensors(dg.DefaultSensorStatus.RUNNING)
        # Dagster checks each run request against the assets and job; no asset runs here.
        placeholders = {
            key: UnavailableResource(resource_key=key, reason="not used by the benchmark")
            for key in ("s3", "dynamodb", "glue", "sqs", "lake", "query_engine", "crawler")
        }
        self.definitions = dg.Definitions(
            assets=[*CATALOG_ASSETS, *ANALYTICS_ASSETS],
            jobs=[cdc_refresh_job],
            sensors=[self.sensor],
            resources=placeholders,
        )
        self.instance = dg.DagsterInstance.ephemeral()

    def tick(self, lake: Lake) -> tuple[float, int, Counter[str]]:
        """One tick on ``lake``: (seconds, run requests, API calls by service.operation)."""
        import dagster as dg

        with dg.build_sensor_context(
            cursor=lake.cursor,
            resources=lake.resources,
            instance=self.instance,
            sensor_name=self.sensor.name,
            definitions=self.definitions,
        ) as context:
            lake.calls.clear()
            started = time.perf_counter()
            data = self.sensor.evaluate_tick(context)
            elapsed = time.perf_counter() - started
        lake.cursor = data.cursor
        return elapsed, len(data.run_requests), Counter(lake.calls)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; 0 on PASS, 1 on FAIL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--existing-small", type=int, default=1_000)
    parser.add_argument("--existing-large", type=int, default=100_000)
    parser.add_argument("--serve-emulator", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_emulator:
        serve_emulator(args.serve_emulator)
        return 0

    started = time.perf_counter()
    os.environ["SALES_CDC_HOME"] = tempfile.mkdtemp(prefix="bench-sensor-")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    lakes = {"baseline": Lake("baseline"), "large": Lake("large")}
    try:
        sensor = Sensor()
        for label, total in (("baseline", args.existing_small), ("large", args.existing_large)):
            seconds = lakes[label].seed_existing(total)
            print(f"setup: {label}: {total:,} existing objects written into the emulator in {seconds:.1f} s")
        for lake in lakes.values():  # warm-up: nothing committed to delete yet, clients created
            lake.put_new(NEW_PER_TICK)
            sensor.tick(lake)
        times: dict[str, list[float]] = {label: [] for label in lakes}
        calls: dict[str, Counter[str]] = {}
        for _ in range(args.rounds):
            for label, lake in lakes.items():
                lake.put_new(NEW_PER_TICK)
                elapsed, requests, calls[label] = sensor.tick(lake)
                if requests == 0:
                    print(f"FAIL: a tick with {NEW_PER_TICK} new objects requested no run ({label})")
                    return 1
                times[label].append(elapsed)
    finally:
        for lake in lakes.values():
            lake.stop()

    print()
    for label, lake in lakes.items():
        series = times[label]
        print(
            f"{label:>8}: {lake.existing:>7,} existing + {NEW_PER_TICK} new   median tick "
            f"{statistics.median(series) * 1000:7.1f} ms  (min {min(series) * 1000:.1f}, "
            f"max {max(series) * 1000:.1f}; {len(series)} ticks)"
        )
        print(f"          API calls per tick: {dict(sorted(calls[label].items()))}")
    ratios = [large / small for small, large in zip(times["baseline"], times["large"], strict=True)]
    ratio = statistics.median(ratios)
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"per-round ratios large/baseline: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"median ratio: {ratio:.2f}x   target <= {TARGET_RATIO:.1f}x   {verdict}")
    print(f"(bench took {time.perf_counter() - started:.0f} s)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
