"""The embedded AWS: loopback only, clear errors on a taken port, clean stop."""

from __future__ import annotations

import os
import socket

import pytest

from infra.local.emulator import HOST, Emulator, EmulatorError, answers


def test_listens_on_loopback_only_and_stops_cleanly() -> None:
    with Emulator(record=False) as emu:
        assert emu.endpoint.startswith(f"http://{HOST}:")
        assert HOST == "127.0.0.1"
        pid = emu.process.pid
        assert answers(emu.endpoint)
        listening = _listen_addresses(emu.port)
        assert listening == {"127.0.0.1"}, listening
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _listen_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on port, read from /proc/net/tcp{,6}."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                if len(address) == 8:
                    found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                else:
                    found.add("ipv6:" + address)
    return found


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as blocker:
        blocker.bind((HOST, 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(EmulatorError, match=f"port {port} is already in use"):
            Emulator(port=port, record=False).start()


def test_default_port_taken_moves_to_the_next_free_one_and_says_so(monkeypatch) -> None:
    monkeypatch.delenv("SALES_CDC_EMULATOR_PORT", raising=False)
    import infra.local.emulator as module

    with socket.socket() as blocker:
        blocker.bind((HOST, 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        monkeypatch.setattr(module, "DEFAULT_PORT", taken)
        with Emulator(record=False) as emu:
            assert emu.port != taken
            assert f"port {taken} is in use" in emu.note
