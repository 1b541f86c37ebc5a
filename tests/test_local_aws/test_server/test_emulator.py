"""The embedded AWS: loopback only, clear errors on a taken port, clean stop."""

from __future__ import annotations

import os
import socket

import pytest

from local_aws import server as server_module
from local_aws.server import HOST, Emulator, EmulatorError, answers


def test_answers_then_stops_without_leaving_a_process() -> None:
    # Binding to loopback only is asserted in tests/test_security/test_emulator_binding.py.
    with Emulator() as emu:
        assert emu.endpoint.startswith(f"http://{HOST}:")
        pid = emu.process.pid
        assert answers(emu.endpoint)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as blocker:
        blocker.bind((HOST, 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(EmulatorError, match=f"port {port} is already in use"):
            Emulator(port=port).start()


def test_default_port_taken_moves_to_the_next_free_one_and_says_so(monkeypatch) -> None:
    monkeypatch.delenv("SALES_CDC_EMULATOR_PORT", raising=False)
    with socket.socket() as blocker:
        blocker.bind((HOST, 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        monkeypatch.setattr(server_module, "DEFAULT_PORT", taken)
        with Emulator() as emu:
            assert emu.port != taken
            assert f"port {taken} is in use" in emu.note
