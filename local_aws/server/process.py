"""Portable process and socket checks (Linux and macOS alike): free ports, live pids, who listens, stopping.

psutil answers what Linux's ``/proc`` answered before, on every platform the product runs on.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import psutil


def port_is_free(port: int, host: str) -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ephemeral_port(host: str) -> int:
    """A port the OS reports free right now (for tests and benchmarks that run side by side)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def pid_alive(pid: int) -> bool:
    """True while a process runs (an exited child its parent has not reaped yet counts as gone)."""
    if pid <= 0:
        return False
    try:
        # A zombie has exited and flushed everything; only its parent's wait() is missing.
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # ZombieProcess (macOS) is a NoSuchProcess too
        return False
    except psutil.AccessDenied:  # someone else's process: it exists
        return True


def started_by_then(pid: int, recorded_at: float, markers: tuple[str, ...] = ()) -> bool:
    """True when process pid started no later than ``recorded_at`` (epoch seconds) and, given
    ``markers``, its command line contains one of them: a record's pid is still the recorded process,
    not a later process that got the same pid after a crash or a reboot."""
    try:
        process = psutil.Process(pid)
        if process.create_time() > recorded_at + 1.0:  # the record was written after its process started
            return False
        if markers:
            command = " ".join(process.cmdline())
            return any(marker in command for marker in markers)
        return True
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process cannot be ours
        return False


def listener_owned_by(pid: int, port: int) -> bool:
    """True when the TCP socket listening on port belongs to process pid; True if unknowable.

    Another emulator may answer on the same port if two starts race for it; this tells them apart.
    """
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True
    return any(
        conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port for conn in connections
    )


def stop_process_group(process: subprocess.Popen, timeout: float, *, kill_leftovers: bool = False) -> None:
    """SIGTERM a child's process group, wait up to ``timeout`` s, then SIGKILL it; reaps the child.

    ``kill_leftovers`` SIGKILLs the group even after the child exited in time: children it started
    (dagster dev's daemon and code server) may outlive it.
    """
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_leftovers = True
    if kill_leftovers:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def stop_pid(pid: int, timeout: float, *, group: bool = False, every: float = 0.05) -> bool | None:
    """SIGTERM a process (or its process group) that is not our child, wait, then SIGKILL it.

    Returns None when it was already gone, True when it stopped within ``timeout`` s, False when it
    had to be killed.
    """
    send = os.killpg if group else os.kill
    try:
        send(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(every)
    if not pid_alive(pid):
        return True
    try:
        send(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return False
