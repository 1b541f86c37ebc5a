"""The local stack's one lifecycle: the emulator (started or reused), provisioning, the data plane, stop.

``sales-cdc up``, ``sales-cdc local up`` and the test fixtures all run the local deployment through
:class:`LocalStack`::

    stack = LocalStack(home, aws_state=home / "aws-state")  # aws_state: durable emulator state (optional)
    endpoint = stack.start_or_reuse_emulator()    # the recorded emulator if alive, else a new one
    result = stack.provision(outputs_path=...)    # apply infra/template.yaml; outputs written there
    stack.start_data_plane(result.outputs)        # Pipe and Firehose stand-ins, in threads
    stack.health()
    stack.stop()                                  # the data plane, then the emulator if started here

What lives in ``home``: ``emulator.json`` (the running emulator, for other processes to find),
``emulator.log``, ``dataplane.json`` (the data plane's status). With ``aws_state``, the emulator keeps
its state (and so the pumps' checkpoints, which live in it) there across stops and crashes, and a start
reports what it restored (:func:`format_restored`). A record of an emulator that is gone (a kill -9, a
reboot, a pid now used by another program) or that no longer answers is cleaned up by the next start.
The application decides where ``home`` and ``aws_state`` are and where the stack outputs go; this
package never reads its settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from infra.clients import LOCAL_CREDENTIALS
from local_aws.dataplane import DataPlane, format_health, status_path
from local_aws.provision import REGION, ProvisionResult, provision
from local_aws.pumps import CHECKPOINT_TABLE
from local_aws.server import (
    STATE_FILE_NAME,
    Emulator,
    answers,
    is_recorded_process,
    recorded_state,
    stop_pid,
)

EMULATOR_LOG = "emulator.log"


def _silent(line: str) -> None:
    """A report callback that says nothing."""


class LocalStack:
    """The embedded AWS, its provisioning and the data plane of one state directory (``home``).

    ``port`` is the emulator's port when one has to be started (as for :class:`Emulator`);
    ``emulator_log`` defaults to ``home/emulator.log``; ``aws_state`` makes a started emulator durable
    there (None: its state ends with it). Only what this object started is stopped.
    """

    def __init__(
        self,
        home: Path,
        *,
        port: int | None = None,
        emulator_log: Path | None = None,
        aws_state: Path | None = None,
    ) -> None:
        self.home = Path(home)
        self.aws_state = Path(aws_state) if aws_state is not None else None
        self.restored: dict[str, Any] | None = None  # what a started durable emulator restored
        self.port = port
        self.emulator_log = emulator_log or self.home / EMULATOR_LOG
        self.emulator: Emulator | None = None  # the emulator started here (None when one was reused)
        self.reused: dict[str, Any] | None = None  # the recorded state of a reused emulator
        self.endpoint: str | None = None
        self.data_plane: DataPlane | None = None

    @property
    def state_file(self) -> Path:
        """Where the running emulator of this home is recorded."""
        return self.home / STATE_FILE_NAME

    @property
    def status_file(self) -> Path:
        """Where the data plane of this home writes its status."""
        return status_path(self.home)

    @property
    def emulator_pid(self) -> int | None:
        """The pid of the emulator in use (started here or reused)."""
        if self.emulator is not None and self.emulator.process is not None:
            return self.emulator.process.pid
        return int(self.reused["pid"]) if self.reused else None

    def start_or_reuse_emulator(self, report: Callable[[str], None] = _silent) -> str:
        """The recorded emulator if one runs, else a new one (raises EmulatorError); returns its endpoint.

        ``report`` gets one line saying which, one about a stale record it cleaned up, and for a durable
        emulator what it restored.
        """
        self.reused = self._live_record(report)
        if self.reused is not None:
            self.endpoint = self.reused["endpoint"]
            report(f"Embedded AWS: reusing the one running at {self.endpoint} (pid {self.reused['pid']}).")
            return self.endpoint
        self.emulator = Emulator(
            port=self.port, state_file=self.state_file, log_path=self.emulator_log, state_dir=self.aws_state
        )
        self.emulator.start()
        self.endpoint = self.emulator.endpoint
        note = f" ({self.emulator.note})" if self.emulator.note else ""
        report(f"Embedded AWS: started at {self.endpoint}{note}")
        if self.aws_state is not None:
            self.restored = self.emulator.restored()
            report("Embedded AWS: " + format_restored(self.restored, self.aws_state))
        return self.endpoint

    def _live_record(self, report: Callable[[str], None]) -> dict[str, Any] | None:
        """The recorded emulator if it runs and answers; a stale record is removed (and said so)."""
        record = recorded_state(self.state_file)
        if record is None:
            return None
        pid, endpoint = int(record.get("pid", 0)), str(record.get("endpoint", ""))
        if is_recorded_process(record):
            if answers(endpoint, timeout=2.0):
                return record
            # Ours but deaf (hung): it must not keep the state directory while a new one starts.
            report(f"Embedded AWS: pid {pid} does not answer on {endpoint}; stopping it.")
            stop_pid(pid, 30.0, group=True)
        else:
            report(f"Embedded AWS: the record of pid {pid} ({endpoint}) is stale (it is gone); cleaned up.")
        self.state_file.unlink(missing_ok=True)
        return None

    def checkpoint_positions(self, region: str = REGION) -> dict[str, dict[str, Any]]:
        """The pumps' checkpoints in the emulator: per checkpoint key its consumer and shard positions."""
        dynamodb = boto3.client(
            "dynamodb", endpoint_url=self._endpoint(), region_name=region, **LOCAL_CREDENTIALS
        )
        positions: dict[str, dict[str, Any]] = {}
        try:
            pages = dynamodb.get_paginator("scan").paginate(TableName=CHECKPOINT_TABLE)
            for page in pages:
                for item in page.get("Items", []):
                    document = json.loads(item["state"]["S"])
                    positions[item["checkpoint"]["S"]] = document
        except ClientError:
            return {}  # no table yet: nothing was ever checkpointed
        return positions

    def provision(
        self, *, outputs_path: Path | None = None, report: Callable[[str], None] = _silent
    ) -> ProvisionResult:
        """Apply ``infra/template.yaml`` to the emulator (raises ProvisionError); the outputs also go to
        ``outputs_path`` when given."""
        return provision(self._endpoint(), report=report, outputs_path=outputs_path)

    def start_data_plane(self, outputs: Mapping[str, str], region: str = REGION, **options: Any) -> DataPlane:
        """Start the Pipe and Firehose stand-ins of the provisioned stack (``outputs``: its outputs).

        Checkpoints and the status file live in ``home``; ``options`` as for :class:`DataPlane`.
        Raises DataPlaneError when another data plane of this home runs.
        """
        options.setdefault("state_dir", self.home)
        plane = DataPlane.from_outputs(self._endpoint(), region, outputs, **options)
        self.data_plane = plane.start()
        return plane

    def health(self) -> dict[str, Any]:
        """The endpoint, the emulator's pid and whether it was started here, and the data plane's health."""
        return {
            "endpoint": self.endpoint,
            "emulator_pid": self.emulator_pid,
            "emulator_started_here": self.emulator is not None,
            "dataplane": self.data_plane.health() if self.data_plane is not None else None,
        }

    def stop(self, report: Callable[[str], None] = _silent) -> None:
        """Stop the data plane (flushing it and writing checkpoints), then the emulator if started here.

        ``report`` gets a line per thing stopped (the data plane's with its final health).
        """
        if self.data_plane is not None:
            plane, self.data_plane = self.data_plane, None
            plane.stop()
            report("Data plane stopped: " + format_health(plane.health()))
        if self.emulator is not None:
            emulator, self.emulator = self.emulator, None
            emulator.stop()
            report("Embedded AWS stopped.")

    def _endpoint(self) -> str:
        if self.endpoint is None:
            raise RuntimeError("start_or_reuse_emulator() first: the local stack has no emulator yet")
        return self.endpoint


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def format_restored(restored: dict[str, Any] | None, where: Path) -> str:
    """One line saying what a durable emulator restored (or that it started empty)."""
    if not restored or not restored.get("restored"):
        return f"no saved state in {where}; starting empty (state is saved there from now on)."
    services = restored.get("services", {})
    tables = dict(restored.get("tables", {}))
    checkpoints = tables.pop(CHECKPOINT_TABLE, 0)
    dynamodb, s3, glue = services.get("dynamodb", {}), services.get("s3", {}), services.get("glue", {})
    kinesis, sqs = services.get("kinesis", {}), services.get("sqs", {})
    parts = [
        f"{_count(sum(tables.values()), 'DynamoDB item')} in {_count(len(tables), 'table')}"
        + (f" ({_count(dynamodb.get('stream_records', 0), 'stream record')})" if dynamodb else ""),
        f"{_count(s3.get('objects', 0), 'S3 object')} in {_count(s3.get('buckets', 0), 'bucket')}",
        f"{_count(glue.get('tables', 0), 'Glue table')} in {_count(glue.get('databases', 0), 'database')}",
        f"{_count(kinesis.get('records', 0), 'Kinesis record')} in "
        f"{_count(kinesis.get('streams', 0), 'stream')}",
    ]
    if sqs:
        parts.append(
            f"{_count(sqs.get('messages', 0), 'SQS message')} in {_count(sqs.get('queues', 0), 'queue')}"
        )
    parts.append(_count(checkpoints, "stream checkpoint"))
    return f"restored {', '.join(parts)} from {where} in {restored.get('seconds', 0):.1f} s."


def format_positions(positions: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A line per checkpoint: consumer, shards and the highest sequence number delivered."""
    lines = []
    for _key, document in sorted(positions.items()):
        shards = document.get("shards", {})
        numbers = [int(s["sequence_number"]) for s in shards.values() if s.get("sequence_number")]
        finished = sum(1 for s in shards.values() if s.get("finished"))
        lines.append(
            f"{document.get('consumer', '?')}: {len(shards)} shards ({finished} read to their end), "
            f"last delivered sequence number {max(numbers) if numbers else 'none'}"
        )
    return lines
