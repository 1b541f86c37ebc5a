"""Embedded AWS: the moto server as its own process, bound to 127.0.0.1 only.

:class:`Emulator` starts ``python -m local_aws.server`` (moto's server with the fixes of
:mod:`local_aws.server.fixes`) and stops it with its whole process group. Given a ``state_file``, it
records its pid and endpoint there so that other processes (Dagster, the CLI) find it
(:func:`running_endpoint`, :func:`running_state`, :func:`stop_recorded`); the application decides where
that file lives. Process and socket checks are in :mod:`local_aws.server.process`.

Given a ``state_dir``, the server keeps its state there across restarts (:mod:`local_aws.server.durable`):
it restores the last snapshot before it answers, snapshots about every second while requests change
state, and saves a final snapshot when stopped (:meth:`Emulator.stop` waits for it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_aws.server.durable import STATUS_PATH as SNAPSHOT_STATUS_PATH
from local_aws.server.process import ephemeral_port as _ephemeral_port
from local_aws.server.process import (
    listener_owned_by,
    pid_alive,
    port_is_free,
    started_by_then,
    stop_pid,
    stop_process_group,
)
from local_aws.server.snapshot import RESTORED_FILE, START_ERROR_FILE, STATUS_FILE

HOST = "127.0.0.1"  # never 0.0.0.0: the emulator accepts any credentials
DEFAULT_PORT = 4566
STATE_FILE_NAME = "emulator.json"  # the usual name of the state file in a deployment's state directory
# A durable emulator saves its state when stopped: pickling runs at ~20 µs per DynamoDB item.
DURABLE_STOP_TIMEOUT_S = 120.0
DURABLE_START_TIMEOUT_S = 300.0  # restoring reads and unpickles the whole snapshot first
# What a recorded pid's command line holds when it is an emulator (not a process that reused the pid).
EMULATOR_MARKERS = ("local_aws.server", "moto.server")


class EmulatorError(RuntimeError):
    """The emulator could not be started or reached; the message says why and what to do."""


def free_port(start: int = DEFAULT_PORT, attempts: int = 200) -> int:
    """The first free port of 127.0.0.1 at or after ``start``."""
    for port in range(start, start + attempts):
        if port_is_free(port, HOST):
            return port
    raise EmulatorError(f"no free port in {start}..{start + attempts - 1}; set SALES_CDC_EMULATOR_PORT.")


def ephemeral_port() -> int:
    """A port of 127.0.0.1 the OS reports free right now (for tests and benchmarks that run side by side)."""
    return _ephemeral_port(HOST)


def answers(endpoint: str, timeout: float = 1.0) -> bool:
    """True when a moto server answers at endpoint."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/reset-auth", timeout=timeout):  # noqa: S310
            return True
    except urllib.error.HTTPError:
        return True  # it answered, just not with 200
    except (urllib.error.URLError, OSError):
        return False


def moto_api(endpoint: str, path: str, body: dict[str, Any] | None = None, timeout: float = 60.0) -> None:
    """POST to the emulator's control API (``/moto-api/<path>``), with ``body`` as JSON if given."""
    request = urllib.request.Request(  # noqa: S310 - the loopback emulator
        f"{endpoint}/moto-api/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 - the loopback emulator
        pass


def reset_emulator(endpoint: str, timeout: float = 60.0) -> None:
    """Forget every resource in the emulator at endpoint (moto's reset API); for tests and benchmarks."""
    moto_api(endpoint, "reset", timeout=timeout)


def recorded_state(state_file: Path) -> dict[str, Any] | None:
    """What ``state_file`` records (pid, port, endpoint, instance_id, started_at), alive or not."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return state if isinstance(state, dict) else None


def is_recorded_process(state: dict[str, Any]) -> bool:
    """True when a record's pid is alive and is the emulator it recorded (not a reused pid)."""
    pid = int(state.get("pid", 0))
    if not pid_alive(pid):
        return False
    started_at = state.get("started_at")
    return started_at is None or started_by_then(pid, float(started_at), EMULATOR_MARKERS)


def running_state(state_file: Path) -> dict[str, Any] | None:
    """The emulator state recorded in ``state_file`` (pid, port, endpoint, instance_id) if it is alive."""
    state = recorded_state(state_file)
    return state if state is not None and is_recorded_process(state) else None


def running_endpoint(state_file: Path) -> str | None:
    """The endpoint of the emulator recorded in ``state_file`` if its process is alive, else None."""
    state = running_state(state_file)
    return state.get("endpoint") if state else None


def stop_recorded(state_file: Path, timeout: float = DURABLE_STOP_TIMEOUT_S) -> bool:
    """Stop the emulator recorded in ``state_file`` (``local down``); True if one was stopped."""
    state = running_state(state_file)
    if state is None:
        return False
    if stop_pid(int(state["pid"]), timeout, group=True) is None:
        return False
    state_file.unlink(missing_ok=True)
    return True


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def restored_summary(state_dir: Path) -> dict[str, Any] | None:
    """What the emulator of ``state_dir`` restored when it last started (None: it never ran durably)."""
    return _read_json(Path(state_dir) / RESTORED_FILE)


@dataclass
class Emulator:
    """A moto server process. Use as a context manager or call start()/stop().

    ``port=None`` takes SALES_CDC_EMULATOR_PORT or the first free port from 4566 (reported);
    ``port=0`` takes a free ephemeral port; an explicit port that is taken is an error.
    ``state_file`` (with ``record``, the default) is where it records itself while it runs, for other
    processes to find it. ``fixes=False`` runs moto's server without the fixes of
    :mod:`local_aws.server.fixes` (the benchmarks use it to show what they change).
    ``state_dir`` makes the state durable there (None: forgotten when the process ends).
    """

    port: int | None = None
    state_file: Path | None = None
    record: bool = True  # False: never write state_file (the benchmarks' explicit "not recorded")
    log_path: Path | None = None
    process: subprocess.Popen | None = None
    instance_id: str = ""
    note: str = ""
    fixes: bool = True
    state_dir: Path | None = None

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise EmulatorError("the emulator has not been started")
        return f"http://{HOST}:{self.port}"

    @property
    def _recording(self) -> Path | None:
        return self.state_file if self.record else None

    def _choose_port(self) -> int:
        requested = self.port
        if requested is None and os.environ.get("SALES_CDC_EMULATOR_PORT"):
            requested = int(os.environ["SALES_CDC_EMULATOR_PORT"])
            if not port_is_free(requested, HOST):
                raise EmulatorError(
                    f"port {requested} (SALES_CDC_EMULATOR_PORT) is already in use on {HOST}; "
                    "stop what listens there or choose another port."
                )
        elif requested == 0:
            requested = ephemeral_port()
        elif requested is not None and not port_is_free(requested, HOST):
            raise EmulatorError(
                f"port {requested} is already in use on {HOST}; stop what listens there, "
                "choose another port, or pass none to take the next free one."
            )
        if requested is None:
            requested = free_port(DEFAULT_PORT)
            if requested != DEFAULT_PORT:
                self.note = f"port {DEFAULT_PORT} is in use; the emulator took the next free port {requested}"
        return requested

    def start(self, timeout: float | None = None) -> Emulator:
        """Start the server and wait until it answers (a durable one restores its state first).

        Raises EmulatorError, with the server's own message when it refused to start (e.g. a snapshot
        that cannot be restored: its path and what to do).
        """
        if self.state_dir is not None and not self.fixes:
            raise EmulatorError("a durable emulator (state_dir) needs the fixes: pass fixes=True")
        if timeout is None:
            timeout = DURABLE_START_TIMEOUT_S if self.state_dir is not None else 30.0
        extra: list[str] = []
        if self.state_dir is not None:
            self.state_dir = Path(self.state_dir)
            self.state_dir.mkdir(parents=True, exist_ok=True)
            (self.state_dir / START_ERROR_FILE).unlink(missing_ok=True)
            extra = ["--state-dir", str(self.state_dir)]
        self.port = self._choose_port()
        self.instance_id = uuid.uuid4().hex
        if self.log_path:
            Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = dict(os.environ, MOTO_ALLOW_NONEXISTENT_REGION="true", PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local_aws.server" if self.fixes else "moto.server"]
            + ["-H", HOST, "-p", str(self.port), *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
        if self.log_path:
            log.close()
        self._wait_until_it_answers(timeout)
        if self._recording is not None:
            self._recording.parent.mkdir(parents=True, exist_ok=True)
            self._recording.write_text(
                json.dumps(
                    {
                        "pid": self.process.pid,
                        "port": self.port,
                        "endpoint": self.endpoint,
                        "instance_id": self.instance_id,
                        "started_at": time.time(),
                        "state_dir": str(self.state_dir) if self.state_dir is not None else None,
                    }
                )
            )
        return self

    def _wait_until_it_answers(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                refusal = self._start_error()
                if refusal:
                    raise EmulatorError(refusal)
                raise EmulatorError(
                    f"the emulator exited with code {self.process.returncode} while starting on port "
                    f"{self.port}" + (f"; see {self.log_path}" if self.log_path else "")
                )
            if answers(self.endpoint, timeout=0.5):
                if listener_owned_by(self.process.pid, self.port):
                    return
                # Someone else took the port between our check and the server's bind.
                self.stop()
                raise EmulatorError(
                    f"port {self.port} was taken by another process while the emulator started; try again"
                )
            time.sleep(0.05)
        self.stop()
        raise EmulatorError(f"the emulator did not answer on {self.endpoint} within {timeout:.0f} s")

    def _start_error(self) -> str:
        if self.state_dir is None:
            return ""
        try:
            return (self.state_dir / START_ERROR_FILE).read_text().strip()
        except OSError:
            return ""

    def snapshot_status(self) -> dict[str, Any]:
        """The durable state's last snapshot: ``generation`` (grows by one per completed snapshot),
        ``completed_at``, ``duration_s``, ``pause_ms``, ``bytes``; {} when not durable or none yet."""
        if self.state_dir is None:
            return {}
        return _read_json(self.state_dir / STATUS_FILE) or {}

    @property
    def snapshot_generation(self) -> int:
        """How many snapshots of this state directory have completed (0: none)."""
        return int(self.snapshot_status().get("generation", 0))

    def wait_for_snapshot(self, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until a completed snapshot holds every write answered so far; returns its status.

        Deterministic: the server counts the state-changing requests it answered and each snapshot
        records how many it includes. Raises EmulatorError when not durable or after ``timeout``.
        """
        if self.state_dir is None:
            raise EmulatorError("this emulator is not durable (no state_dir): it takes no snapshots")
        with urllib.request.urlopen(f"{self.endpoint}{SNAPSHOT_STATUS_PATH}", timeout=10) as response:  # noqa: S310
            answered = int(json.loads(response.read())["writes_answered"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.snapshot_status()
            if int(status.get("writes_included", 0)) >= answered and status.get("pid") == self.process.pid:
                return status
            time.sleep(0.02)
        failing = self.snapshot_status().get("last_error")
        raise EmulatorError(
            f"no snapshot holding the {answered} writes answered came within {timeout:.0f} s"
            + (f": {failing}" + (f" ({self.log_path})" if self.log_path else "") if failing else "")
        )

    def restored(self) -> dict[str, Any] | None:
        """What the last start restored (``restored``, ``services`` counts, ``tables`` items per table)."""
        return restored_summary(self.state_dir) if self.state_dir is not None else None

    def stop(self, timeout: float | None = None) -> None:
        """Stop the server and its process group; no orphan is left.

        A durable emulator saves its state first: it gets ``timeout`` (default
        :data:`DURABLE_STOP_TIMEOUT_S`) before it is killed.
        """
        if self.process is None:
            return
        if timeout is None:
            timeout = DURABLE_STOP_TIMEOUT_S if self.state_dir is not None else 10.0
        stop_process_group(self.process, timeout)
        if self._recording is not None:
            try:
                if json.loads(self._recording.read_text()).get("pid") == self.process.pid:
                    self._recording.unlink()
            except (OSError, json.JSONDecodeError):
                pass
        self.process = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
