"""``sales-cdc local up | status | down`` as a user runs them, in their own SALES_CDC_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sales_cdc.settings import project_root

CLI = [sys.executable, "-c", "from sales_cdc.cli import main; main()"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.e2e
def test_local_up_reports_health_and_local_down_stops_everything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        k: v for k, v in os.environ.items() if k not in ("SALES_CDC_ENDPOINT_URL", "SALES_CDC_EMULATOR_PORT")
    }
    env["SALES_CDC_HOME"] = str(home)  # its own emulator and state, not the test session's
    up = subprocess.Popen(
        [*CLI, "local", "up", "--status-every", "1"],
        cwd=project_root(),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert up.stdout is not None
        deadline = time.monotonic() + 90
        while not any("Data plane running" in line for line in output):
            assert up.poll() is None and time.monotonic() < deadline, "".join(output)
            output.append(up.stdout.readline())
        output.append(up.stdout.readline())  # the first health line
        assert "pipe RUNNING" in output[-1] and "firehose ACTIVE" in output[-1], "".join(output)
        record = json.loads((home / "local" / "up.json").read_text())
        assert record["pid"] == up.pid and record["emulator_started_here"]

        status = subprocess.run(
            [*CLI, "local", "status"], env=env, capture_output=True, text=True, check=True
        )
        assert f"local up: running (pid {up.pid}" in status.stdout
        assert "Data plane: running" in status.stdout and "pipe: alive=True" in status.stdout

        down = subprocess.run([*CLI, "local", "down"], env=env, capture_output=True, text=True, check=True)
        assert f"Stopping local up (pid {up.pid})" in down.stdout and "local up stopped." in down.stdout
        rest, _ = up.communicate(timeout=30)
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
    assert up.returncode == 0, "".join(output) + rest
    assert "Data plane stopped" in rest and "Embedded AWS stopped." in rest
    assert not alive(record["emulator_pid"]), "the emulator that `local up` started is still running"
    assert not (home / "local" / "up.json").exists()
    after = subprocess.run([*CLI, "local", "status"], env=env, capture_output=True, text=True, check=True)
    assert "Embedded AWS: not running." in after.stdout and "local up: not running." in after.stdout
