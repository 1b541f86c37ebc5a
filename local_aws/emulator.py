"""Embedded AWS: the moto server as its own process, bound to 127.0.0.1 only.

Started by ``sales-cdc local up`` (and by the tests); its pid and endpoint are recorded in
``$SALES_CDC_HOME/local/emulator.json`` so that other processes (Dagster, the CLI) find it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from infra.clients import LOCAL_CREDENTIALS  # noqa: F401 - re-exported for the embedded AWS's users

HOST = "127.0.0.1"  # never 0.0.0.0: the emulator accepts any credentials
DEFAULT_PORT = 4566


class EmulatorError(RuntimeError):
    """The emulator could not be started or reached; the message says why and what to do."""


def _state_file() -> Path:
    from sales_cdc.settings import state_dir

    return state_dir("local") / "emulator.json"


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(start: int = DEFAULT_PORT, attempts: int = 200) -> int:
    """The first free port at or after ``start``."""
    for port in range(start, start + attempts):
        if port_is_free(port):
            return port
    raise EmulatorError(f"no free port in {start}..{start + attempts - 1}; set SALES_CDC_EMULATOR_PORT.")


def ephemeral_port() -> int:
    """A port the OS reports free right now (for tests and benchmarks that run side by side)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _listener_owned_by(pid: int, port: int) -> bool:
    """True when the socket listening on port belongs to process pid (Linux /proc); True if unknowable.

    Another emulator may answer on the same port if two starts race for it; this tells them apart.
    """
    try:
        inodes = set()
        with open("/proc/net/tcp") as table:
            for line in table.read().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
        if not inodes:
            return False
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return True
        return False
    except OSError:
        return True


def pid_alive(pid: int) -> bool:
    """True while a process runs (an exited child its parent has not reaped yet counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # Linux: a zombie has exited and flushed everything; only its parent's wait() is missing.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def answers(endpoint: str, timeout: float = 1.0) -> bool:
    """True when a moto server answers at endpoint."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/reset-auth", timeout=timeout):  # noqa: S310
            return True
    except urllib.error.HTTPError:
        return True  # it answered, just not with 200
    except (urllib.error.URLError, OSError):
        return False


def reset_emulator(endpoint: str, timeout: float = 60.0) -> None:
    """Forget every resource in the emulator at endpoint (moto's reset API); for tests and benchmarks."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310
        pass


def running_endpoint() -> str | None:
    """The endpoint of the recorded emulator if its process is alive, else None."""
    path = _state_file()
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not pid_alive(int(state.get("pid", 0))):
        return None
    return state.get("endpoint")


def running_state() -> dict | None:
    """The recorded emulator state (pid, port, endpoint, instance_id) if it is alive."""
    path = _state_file()
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return state if pid_alive(int(state.get("pid", 0))) else None


@dataclass
class Emulator:
    """A moto server process. Use as a context manager or call start()/stop().

    ``port=None`` takes SALES_CDC_EMULATOR_PORT or the first free port from 4566 (reported);
    ``port=0`` takes a free ephemeral port; an explicit port that is taken is an error.
    ``record=True`` writes the state file that
    other processes use to find this emulator. ``fixes=False`` runs moto's server without the
    fixes of :mod:`local_aws.moto_server` (the benchmarks use it to show what they change).
    """

    port: int | None = None
    record: bool = True
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

    def start(self, timeout: float = 30.0) -> Emulator:
        """Start the server and wait until it answers."""
        requested = self.port
        if requested is None and os.environ.get("SALES_CDC_EMULATOR_PORT"):
            requested = int(os.environ["SALES_CDC_EMULATOR_PORT"])
            if not port_is_free(requested):
                raise EmulatorError(
                    f"port {requested} (SALES_CDC_EMULATOR_PORT) is already in use on {HOST}; "
                    "stop what listens there or choose another port."
                )
        elif requested == 0:
            requested = ephemeral_port()
        elif requested is not None and not port_is_free(requested):
            raise EmulatorError(
                f"port {requested} is already in use on {HOST}; stop what listens there, "
                "choose another port, or pass none to take the next free one."
            )
        if requested is None:
            requested = free_port(DEFAULT_PORT)
            if requested != DEFAULT_PORT:
                self.note = f"port {DEFAULT_PORT} is in use; the emulator took the next free port {requested}"
        self.port = requested
        self.instance_id = uuid.uuid4().hex
        if self.log_path:
            Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = dict(os.environ, MOTO_ALLOW_NONEXISTENT_REGION="true", PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local_aws.moto_server" if self.fixes else "moto.server"]
            + ["-H", HOST, "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
        if self.log_path:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmulatorError(
                    f"the emulator exited with code {self.process.returncode} while starting on port "
                    f"{self.port}" + (f"; see {self.log_path}" if self.log_path else "")
                )
            if answers(self.endpoint, timeout=0.5):
                if _listener_owned_by(self.process.pid, self.port):
                    break
                # Someone else took the port between our check and the server's bind.
                self.stop()
                raise EmulatorError(
                    f"port {self.port} was taken by another process while the emulator started; try again"
                )
            time.sleep(0.05)
        else:
            self.stop()
            raise EmulatorError(f"the emulator did not answer on {self.endpoint} within {timeout:.0f} s")
        if self.record:
            path = _state_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
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

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its process group; no orphan is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.record:
            path = _state_file()
            try:
                if json.loads(path.read_text()).get("pid") == self.process.pid:
                    path.unlink()
            except (OSError, json.JSONDecodeError):
                pass
        self.process = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_recorded(timeout: float = 10.0) -> bool:
    """Stop the emulator recorded in the state file (``local down``); True if one was stopped."""
    state = running_state()
    if state is None:
        return False
    pid = int(state["pid"])
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    _state_file().unlink(missing_ok=True)
    return True
