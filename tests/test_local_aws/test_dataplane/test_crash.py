"""Crash safety: kill -9 the data-plane process at several points of a run; nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local_aws.pumps import CheckpointTable
from sales_cdc.generator import GeneratorConfig, generate_orders
from sales_cdc.settings import Settings, outputs_path, project_root, state_dir
from test_local_aws.dataplane_helpers import Clients, Lake, missing_records, read_stream, record_key, wait_for

EVENTS_PER_ROUND = 1_000


class DataPlaneProcess:
    """``python -m local_aws.dataplane`` as a child process that the test can SIGKILL."""

    def __init__(self, log: Path, settings: Settings) -> None:
        self.log = log
        self.settings = settings
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "local_aws.dataplane", "--status-every", "0"]
                + ["--state-dir", str(state_dir("local")), "--outputs", str(outputs_path("local"))]
                + ["--endpoint-url", str(self.settings.endpoint_url), "--region", self.settings.region],
                cwd=project_root(),
                env=dict(os.environ),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def kill(self) -> None:
        assert self.process is not None and self.process.poll() is None, self.log.read_text()[-2000:]
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def checkpoint(consumer: str, aws: Clients) -> dict[str, Any] | None:
    """The checkpoint of a consumer ("pipe" or "firehose") in the emulator, if written yet."""
    table = CheckpointTable(aws.dynamodb)
    keys = [key for key in table.keys() if key.startswith(f"{consumer}-")]
    text = table.load(keys[-1]) if keys else None
    return json.loads(text) if text else None


def position(consumer: str, aws: Clients) -> int:
    """The consumer's checkpointed sequence number (0 before the first checkpoint)."""
    data = checkpoint(consumer, aws)
    if not data:
        return 0
    return max((int(shard["sequence_number"] or 0) for shard in data["shards"].values()), default=0)


@pytest.mark.e2e
def test_kill_9_mid_run_loses_nothing(
    provisioned: Settings, aws: Clients, lake: Lake, tmp_path: Path
) -> None:
    plane = DataPlaneProcess(tmp_path / "dataplane.out", provisioned)
    table = provisioned.orders_table
    try:
        generate_orders(aws.dynamodb, GeneratorConfig(events=EVENTS_PER_ROUND, seed=1, table=table))
        plane.start()
        # Kill 1: the Pipe has delivered (and checkpointed) something, Firehose has written nothing yet.
        wait_for(lambda: position("pipe", aws) > 0, 60, "the Pipe's first checkpoint", every=0.05)
        plane.kill()

        generate_orders(aws.dynamodb, GeneratorConfig(events=EVENTS_PER_ROUND, seed=2, table=table))
        plane.start()
        # Kill 2: Firehose has written objects and checkpointed; the Pipe is still moving the second round.
        wait_for(lambda: position("firehose", aws) > 0, 60, "Firehose's first checkpoint", every=0.05)
        plane.kill()

        plane.start()
        # Kill 3: in the middle of the stream again, as soon as either pump moves on.
        pipe_at, firehose_at = position("pipe", aws), position("firehose", aws)
        wait_for(
            lambda: position("pipe", aws) > pipe_at or position("firehose", aws) > firehose_at,
            60,
            "progress",
            every=0.05,
        )
        plane.kill()

        plane.start()
        truth = read_stream(aws.dynamodbstreams, provisioned.output("OrdersStreamArn"))
        assert len(truth) == 2 * EVENTS_PER_ROUND
        wait_for(
            lambda: not missing_records(truth, lake, provisioned.raw_cdc_prefix),
            120,
            "every stream record in S3 after the restarts",
            every=1.0,
        )
        assert plane.terminate() == 0, plane.log.read_text()[-2000:]
    finally:
        plane.cleanup()

    assert plane.starts == 4
    rows = lake.rows_by_event(provisioned.raw_cdc_prefix)
    assert {record_key(r) for r in truth} <= set(rows)
    assert set(rows) <= {record_key(r) for r in truth}
