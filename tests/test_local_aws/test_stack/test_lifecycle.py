"""One local-stack lifecycle: a second stack on the same home reuses the emulator and stops only its own."""

from __future__ import annotations

from pathlib import Path

from local_aws.server import answers, running_state
from local_aws.server.process import pid_alive
from local_aws.stack import LocalStack


def test_a_second_stack_reuses_the_recorded_emulator_and_leaves_it_running(tmp_path: Path) -> None:
    owner = LocalStack(tmp_path / "local", port=0)
    endpoint = owner.start_or_reuse_emulator()
    try:
        assert running_state(owner.state_file)["endpoint"] == endpoint
        lines: list[str] = []
        guest = LocalStack(tmp_path / "local")
        assert guest.start_or_reuse_emulator(report=lines.append) == endpoint
        assert lines == [f"Embedded AWS: reusing the one running at {endpoint} (pid {owner.emulator_pid})."]
        assert guest.health()["emulator_started_here"] is False and guest.emulator_pid == owner.emulator_pid
        guest.stop()
        assert answers(endpoint)
    finally:
        pid = owner.emulator_pid
        owner.stop()
    assert pid is not None and not pid_alive(pid)
    assert not owner.state_file.exists()
