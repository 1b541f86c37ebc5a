"""Process and socket checks without /proc: live pids, zombies, who owns a listening socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import psutil

from local_aws.server import HOST
from local_aws.server.process import listener_owned_by, pid_alive, port_is_free


def test_an_exited_child_not_yet_reaped_counts_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        assert pid_alive(os.getpid())
        deadline = time.monotonic() + 30
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.02)
        assert not pid_alive(child.pid)  # a zombie: exited, only its parent's wait() is missing
    finally:
        child.wait()
    assert not pid_alive(child.pid)
    assert not pid_alive(0)


def test_the_listener_is_told_apart_from_other_processes() -> None:
    with socket.socket() as server:
        server.bind((HOST, 0))
        server.listen()
        port = server.getsockname()[1]
        assert not port_is_free(port, HOST)
        assert listener_owned_by(os.getpid(), port)
        assert not listener_owned_by(os.getppid(), port)
    assert not listener_owned_by(os.getpid(), port)
