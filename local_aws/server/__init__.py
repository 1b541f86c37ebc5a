"""Embedded AWS: the moto server as its own process, bound to 127.0.0.1 only.

:class:`Emulator` starts ``python -m local_aws.server`` (moto's server with the fixes of
:mod:`local_aws.server.fixes`) and stops it with its whole process group. Given a ``state_file``, it
records its pid and endpoint there so that other processes (Dagster, the CLI) find it
(:func:`running_endpoint`, :func:`running_state`, :func:`stop_recorded`); the application decides where
that file lives. Process and socket checks are in :mod:`local_aws.server.process`.
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

from local_aws.server.process import ephemeral_port as _ephemeral_port
from local_aws.server.process import (
    listener_owned_by,
    pid_alive,
    port_is_free,
    stop_pid,
    stop_process_group,
)

HOST = "127.0.0.1"  # never 0.0.0.0: the emulator accepts any credentials
DEFAULT_PORT = 4566
STATE_FILE_NAME = "emulator.json"  # the usual name of the state file in a deployment's state directory


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


def running_state(state_file: Path) -> dict[str, Any] | None:
    """The emulator state recorded in ``state_file`` (pid, port, endpoint, instance_id) if it is alive."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return state if pid_alive(int(state.get("pid", 0))) else None


def running_endpoint(state_file: Path) -> str | None:
    """The endpoint of the emulator recorded in ``state_file`` if its process is alive, else None."""
    state = running_state(state_file)
    return state.get("endpoint") if state else None


def stop_recorded(state_file: Path, timeout: float = 10.0) -> bool:
    """Stop the emulator recorded in ``state_file`` (``local down``); True if one was stopped."""
    state = running_state(state_file)
    if state is None:
        return False
    if stop_pid(int(state["pid"]), timeout, group=True) is None:
        return False
    state_file.unlink(missing_ok=True)
    return True


@dataclass
class Emulator:
    """A moto server process. Use as a context manager or call start()/stop().

    ``port=None`` takes SALES_CDC_EMULATOR_PORT or the first free port from 4566 (reported);
    ``port=0`` takes a free ephemeral port; an explicit port that is taken is an error.
    ``state_file`` (with ``record``, the default) is where it records itself while it runs, for other
    processes to find it. ``fixes=False`` runs moto's server without the fixes of
    :mod:`local_aws.server.fixes` (the benchmarks use it to show what they change).
    """

    port: int | None = None
    state_file: Path | None = None
    record: bool = True  # False: never write state_file (the benchmarks' explicit "not recorded")
    log_path: Path | None = None
    process: subprocess.Popen | None = None
    instance_id: str = ""
    note: str = ""
    fixes: bool = True

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

    def start(self, timeout: float = 30.0) -> Emulator:
        """Start the server and wait until it answers."""
        self.port = self._choose_port()
        self.instance_id = uuid.uuid4().hex
        if self.log_path:
            Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = dict(os.environ, MOTO_ALLOW_NONEXISTENT_REGION="true", PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local_aws.server" if self.fixes else "moto.server"]
            + ["-H", HOST, "-p", str(self.port)],
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
                    }
                )
            )
        return self

    def _wait_until_it_answers(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
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

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its process group; no orphan is left."""
        if self.process is None:
            return
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
