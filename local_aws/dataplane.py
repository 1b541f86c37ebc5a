"""The local data plane: the Pipe and Firehose stand-ins running together, with health and a status file.

Embed it in any process::

    plane = DataPlane.from_outputs(endpoint_url, region, outputs, state_dir=home).start()  # threads
    plane.health()        # {"pipe": {...}, "firehose": {...}, "alive": True, "uptime_s": ...}
    plane.stop()          # stop reading, flush buffers, write checkpoints

or run only the pumps in their own process (what the crash test kills with SIGKILL)::

    python -m local_aws.dataplane --state-dir DIR --endpoint-url URL --outputs OUTPUTS.json [--status-every 5]

It needs a provisioned emulator: its endpoint and region, and the Pipe and delivery stream names from
the stack outputs, are arguments (the application passes what its settings hold). Checkpoints live in
the emulator itself (DynamoDB table ``local-aws-checkpoints``, :class:`local_aws.pumps.CheckpointTable`),
so a durable emulator's snapshot rolls them back together with the data they describe. While running,
a status file ``<state dir>/dataplane.json`` (pid, endpoint, health) is rewritten every couple of
seconds for ``sales-cdc local status``.

With ``metrics=True`` (the default) the pumps publish the metrics AWS would publish to the emulator's
CloudWatch (:mod:`local_aws.cloudwatch`, flushed every ``metrics_flush_s``) and the emulator's alarms
are evaluated every ``alarm_every_s`` seconds, on threads started and stopped with the pumps.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import Credentials

from infra.clients import LOCAL_CREDENTIALS
from local_aws.cloudwatch import AlarmEvaluator, MetricsPublisher
from local_aws.cloudwatch.alarms import EVALUATE_EVERY_S
from local_aws.cloudwatch.metrics import FLUSH_EVERY_S
from local_aws.firehose import LocalFirehose
from local_aws.pipes import LocalPipe, WireGetRecords
from local_aws.pumps import CheckpointLocation, CheckpointTable, PumpThreads
from local_aws.server.process import pid_alive

STATUS_FILE = "dataplane.json"
LOG_FILE = "dataplane.log"
STATUS_EVERY_S = 2.0
STATUS_STALE_S = 30.0  # a status older than this is not from a live data plane
_DEFAULT = object()


class DataPlaneError(RuntimeError):
    """The data plane cannot start; the message says why and what to do."""


def status_path(state_dir: Path) -> Path:
    """Where a data plane with this state directory writes its status (``local status`` reads it)."""
    return state_dir / STATUS_FILE


def client_factory(endpoint_url: str, region: str) -> Any:
    """A function making boto3 clients for the emulator's endpoint (one session, created up front)."""
    session = boto3.session.Session(region_name=region, **LOCAL_CREDENTIALS)
    # Our loops retry with backoff themselves; botocore only smooths over a single dropped connection.
    config = Config(
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=120,
        max_pool_connections=4,
        tcp_keepalive=True,
        parameter_validation=False,  # requests are built here; validating 500-record puts costs CPU
    )
    lock = threading.Lock()  # creating clients from one session is not thread-safe

    def make(service: str) -> Any:
        with lock:
            return session.client(service, endpoint_url=endpoint_url, config=config)

    return make


class DataPlane:
    """Both pumps of the local deployment; ``start()`` / ``stop()`` / ``health()``.

    ``pipe_name`` and ``delivery_stream_name`` name the deployed Pipe and delivery stream (the stack
    outputs ``PipeName`` and ``DeliveryStreamName``: see :meth:`from_outputs`). Checkpoints go to the
    emulator's ``local-aws-checkpoints`` table unless ``checkpoint_dir`` names a directory (or another
    :class:`CheckpointTable`). ``state_dir`` holds the status file ``dataplane.json``
    (unless ``status_file`` says otherwise; None: no status file), which is rewritten every
    ``status_every_s`` seconds while running. ``metrics`` publishes the pumps' metrics and evaluates
    the alarms (every ``metrics_flush_s`` / ``alarm_every_s`` seconds).
    """

    def __init__(
        self,
        endpoint_url: str | None,
        region: str,
        pipe_name: str,
        delivery_stream_name: str,
        *,
        state_dir: Path | None = None,
        checkpoint_dir: CheckpointLocation | None = None,
        status_file: Path | None | object = _DEFAULT,
        status_every_s: float = STATUS_EVERY_S,
        metrics: bool = True,
        metrics_flush_s: float = FLUSH_EVERY_S,
        alarm_every_s: float = EVALUATE_EVERY_S,
    ) -> None:
        if not endpoint_url:
            raise DataPlaneError(
                "no emulator endpoint is known: start the local stack with `sales-cdc local up` "
                "(or set SALES_CDC_ENDPOINT_URL to a running emulator)."
            )
        self.endpoint_url = endpoint_url
        if status_file is _DEFAULT:
            status_file = status_path(state_dir) if state_dir is not None else None
        self.status_file: Path | None = status_file  # type: ignore[assignment]
        self.status_every_s = status_every_s
        clients = client_factory(endpoint_url, region)
        # Inside the emulator by default: its snapshots then hold the checkpoints with the data.
        self.checkpoint_dir: CheckpointLocation = (
            checkpoint_dir if checkpoint_dir is not None else CheckpointTable(clients("dynamodb"))
        )
        wire = WireGetRecords(
            endpoint_url,
            region,
            Credentials(LOCAL_CREDENTIALS["aws_access_key_id"], LOCAL_CREDENTIALS["aws_secret_access_key"]),
        )
        self.metrics: MetricsPublisher | None = None
        self.alarms: AlarmEvaluator | None = None
        if metrics:
            cloudwatch = clients("cloudwatch")
            self.metrics = MetricsPublisher(cloudwatch, flush_every_s=metrics_flush_s)
            self.alarms = AlarmEvaluator(cloudwatch, every_s=alarm_every_s, publishing_since=time.time())
        self.pipe = LocalPipe(pipe_name, clients, self.checkpoint_dir, get_records=wire, metrics=self.metrics)
        self.firehose = LocalFirehose(
            delivery_stream_name, clients, self.checkpoint_dir, metrics=self.metrics
        )
        self._cloudwatch_threads = PumpThreads(
            "local cloudwatch", logging.getLogger(__name__), self._cloudwatch_crashed
        )
        self.cloudwatch_error = ""
        self._started_at: float | None = None
        self._stop_status = threading.Event()
        self._status_thread: threading.Thread | None = None
        self._stopped = False

    @classmethod
    def from_outputs(
        cls, endpoint_url: str | None, region: str, outputs: Mapping[str, str], **options: Any
    ) -> DataPlane:
        """The data plane of a provisioned stack, named by its outputs (``options``: as for the class)."""
        missing = [name for name in ("PipeName", "DeliveryStreamName") if name not in outputs]
        if missing:
            raise DataPlaneError(
                f"the stack outputs lack {', '.join(missing)}: provision the emulator first "
                "(`sales-cdc local up` does)."
            )
        return cls(endpoint_url, region, outputs["PipeName"], outputs["DeliveryStreamName"], **options)

    def start(self) -> DataPlane:
        """Start both pumps (and the status writer); returns at once.

        Raises DataPlaneError when another data plane already runs with the same status file: two
        would read the same streams and race on the same checkpoints.
        """
        if self.status_file is not None:
            other = running_status(self.status_file)
            if other and int(other["pid"]) != os.getpid():
                raise DataPlaneError(
                    f"a data plane is already running (pid {other['pid']}, status {self.status_file}), e.g. "
                    "from `sales-cdc up` or `sales-cdc local up`; stop it first (`sales-cdc local down`)."
                )
        self._started_at = time.time()
        self.firehose.start()
        self.pipe.start()
        if self.metrics is not None and self.alarms is not None:
            metrics, alarms, stopping = self.metrics, self.alarms, self._cloudwatch_threads.stopping

            def publish_metrics() -> None:
                metrics.run(stopping)

            def evaluate_alarms() -> None:
                alarms.run(stopping)

            self._cloudwatch_threads.start(
                {"cloudwatch-metrics": publish_metrics, "cloudwatch-alarms": evaluate_alarms}
            )
        if self.status_file is not None:
            self._write_status(running=True)
            self._status_thread = threading.Thread(
                target=self._status_loop, name="dataplane-status", daemon=True
            )
            self._status_thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reading, deliver and flush what was read, write checkpoints; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + timeout
        # The Pipe first: what it already read goes to Kinesis; Firehose then flushes its buffers to S3.
        self.pipe.stop(timeout=max(1.0, deadline - time.monotonic()))
        self.firehose.stop(timeout=max(1.0, deadline - time.monotonic()))
        # After the pumps: the last flush sends what they recorded while draining.
        self._cloudwatch_threads.stop(timeout=max(1.0, deadline - time.monotonic()))
        self._stop_status.set()
        if self._status_thread is not None:
            self._status_thread.join(5.0)
        if self.status_file is not None:
            self._write_status(running=False)

    def __enter__(self) -> DataPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self.pipe.alive and self.firehose.alive

    def health(self) -> dict[str, Any]:
        """Live health: per pump its state, events moved, lag (seconds) and error counts."""
        health = {
            "alive": self.alive,
            "uptime_s": round(time.time() - self._started_at, 1) if self._started_at else 0.0,
            "pipe": self.pipe.health(),
            "firehose": self.firehose.health(),
        }
        if self.metrics is not None and self.alarms is not None:
            health["cloudwatch"] = {
                "alive": self._cloudwatch_threads.alive,
                "metrics_sent": self.metrics.sent,
                "metrics_dropped": self.metrics.dropped,
                "alarm_evaluations": self.alarms.evaluations,
                "last_error": self.cloudwatch_error or self.metrics.last_error or self.alarms.last_error,
            }
        return health

    def _cloudwatch_crashed(self, text: str) -> None:
        self.cloudwatch_error = text

    def _status_loop(self) -> None:
        while not self._stop_status.wait(self.status_every_s):
            try:
                self._write_status(running=True)
            except OSError as exc:  # a full disk must not stop the pumps
                logging.getLogger(__name__).warning("cannot write %s: %s", self.status_file, exc)

    def _write_status(self, running: bool) -> None:
        assert self.status_file is not None
        status = {
            "pid": os.getpid(),
            "running": running,
            "started_at": self._started_at,
            "updated_at": time.time(),
            "endpoint": self.endpoint_url,
            "checkpoint_dir": str(self.checkpoint_dir),
            "health": self.health(),
        }
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.status_file.with_name(f".{self.status_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(status, indent=1))
        tmp.replace(self.status_file)


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status a data plane wrote to ``path``, or None."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def running_status(path: Path) -> dict[str, Any] | None:
    """The status in ``path`` of a data plane that is running now (live pid, recent status), or None."""
    status = read_status(path)
    if not status or not status.get("running") or not pid_alive(int(status.get("pid", 0))):
        return None
    if time.time() - float(status.get("updated_at", 0)) > STATUS_STALE_S:
        return None  # its status writer stopped: the process is hung or is not a data plane any more
    return status


def format_health(health: dict[str, Any]) -> str:
    """One compact line of health for a terminal."""
    pipe, firehose = health.get("pipe", {}), health.get("firehose", {})
    errors = pipe.get("errors", 0) + firehose.get("errors", 0)
    line = (
        f"pipe {pipe.get('state', '?')}: {pipe.get('events_moved', 0):,} moved, "
        f"lag {pipe.get('lag_s', 0):.1f} s"
        f" | firehose {firehose.get('state', '?')}: {firehose.get('rows_delivered', 0):,} rows in "
        f"{firehose.get('objects', 0):,} objects, {firehose.get('records_failed', 0):,} to errors, "
        f"lag {firehose.get('lag_s', 0):.1f} s | errors {errors}"
    )
    if not health.get("alive", True):
        line += " | NOT ALIVE"
    last = pipe.get("last_error") or firehose.get("last_error")
    if errors and last:
        line += f" (last: {last[:120]})"
    return line


def main(argv: list[str] | None = None) -> int:
    """Run only the pumps until SIGTERM / Ctrl-C (``python -m local_aws.dataplane``)."""
    parser = argparse.ArgumentParser(
        prog="python -m local_aws.dataplane", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--state-dir", type=Path, required=True, help="the status file and (default) log live here"
    )
    parser.add_argument("--endpoint-url", required=True, help="the provisioned emulator's endpoint")
    parser.add_argument("--region", default="us-east-1", help="the stack's region (default us-east-1)")
    parser.add_argument(
        "--outputs", type=Path, required=True, help="the stack outputs JSON (PipeName, DeliveryStreamName)"
    )
    parser.add_argument(
        "--status-every", type=float, default=5.0, help="seconds between health lines (0: none)"
    )
    parser.add_argument(
        "--log-file", type=Path, default=None, help="log file (default <state dir>/dataplane.log)"
    )
    args = parser.parse_args(argv)
    log_file = args.log_file or args.state_dir / LOG_FILE
    log_file.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=log_file, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        outputs = json.loads(args.outputs.read_text())
        plane = DataPlane.from_outputs(
            args.endpoint_url, args.region, outputs, state_dir=args.state_dir
        ).start()
    except Exception as exc:  # outputs or endpoint missing: say so plainly
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"data plane running (pid {os.getpid()}); status in {plane.status_file}", flush=True)
    every = args.status_every
    while not stop.wait(every if every > 0 else 3600):
        if every > 0:
            print(time.strftime("%H:%M:%S ") + format_health(plane.health()), flush=True)
    plane.stop()
    print("data plane stopped: " + format_health(plane.health()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
