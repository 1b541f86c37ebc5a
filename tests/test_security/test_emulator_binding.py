"""The emulator accepts any credentials, so it must listen on the loopback interface only."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from local_aws import server as emulator_module
from local_aws.server import Emulator


def _proc_listeners(port: int) -> list[str] | None:
    """Listen addresses on ``port`` from /proc/net/tcp{,6} (Linux), or None where there is no /proc."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return None
    addresses = []
    for table in tables:
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address_hex, port_hex = local.rsplit(":", 1)
            if state != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            if len(address_hex) == 8:  # IPv4, little-endian
                addresses.append(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address_hex)[::-1]))
            else:  # IPv6: four little-endian 32-bit words
                raw = b"".join(bytes.fromhex(address_hex[i : i + 8])[::-1] for i in range(0, 32, 8))
                addresses.append(socket.inet_ntop(socket.AF_INET6, raw))
    return addresses


def _ss_listeners(port: int) -> list[str]:
    output = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    addresses = []
    for line in output.splitlines():
        local = line.split()[3]
        address, _, listen_port = local.rpartition(":")
        if listen_port == str(port):
            addresses.append(address.strip("[]"))
    return addresses


def listen_addresses(port: int) -> list[str]:
    """Every address a socket listens on at ``port``."""
    addresses = _proc_listeners(port)
    if addresses is None:
        if shutil.which("ss") is None:
            pytest.fail("neither /proc/net/tcp nor ss is available to list listening sockets")
        addresses = _ss_listeners(port)
    return addresses


def test_host_constant_is_loopback() -> None:
    assert emulator_module.HOST == "127.0.0.1"


def test_emulator_listens_on_loopback_only(emulator: Emulator) -> None:
    assert emulator.port is not None
    assert emulator.endpoint == f"http://127.0.0.1:{emulator.port}"
    addresses = listen_addresses(emulator.port)
    assert addresses, f"nothing listens on port {emulator.port}; is the emulator up?"
    assert set(addresses) == {"127.0.0.1"}, f"the emulator listens on {addresses}, not only 127.0.0.1"


def test_listener_parsing_sees_a_wildcard_bind() -> None:
    """The check above would notice a 0.0.0.0 bind (so it cannot pass vacuously)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("0.0.0.0", 0))  # noqa: S104 - the point of this test
        server.listen()
        port = server.getsockname()[1]
        assert listen_addresses(port) == ["0.0.0.0"]  # noqa: S104
