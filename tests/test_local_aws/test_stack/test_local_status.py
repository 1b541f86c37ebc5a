"""``sales-cdc local status`` tells what runs: the emulator, the data plane and the Dagster UI each as
running / not running / dead, figures only from a live data plane, and the alarms' states."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from infra.clients import LOCAL_CREDENTIALS
from sales_cdc.commands.local import dataplane_status_file, local, ui_path
from sales_cdc.settings import emulator_state_file


def _status() -> str:
    result = CliRunner().invoke(local, ["status"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_status_shows_the_alarm_states(provisioned, emulator) -> None:
    name = f"{provisioned.output('AlarmNamePrefix')}transform-errors"
    cloudwatch = boto3.client(
        "cloudwatch", endpoint_url=emulator.endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS
    )
    cloudwatch.set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed: [4.0] >= 1.0"
    )
    out = _status()
    assert f"Embedded AWS: running at {emulator.endpoint}" in out
    assert "Alarms: 1 in ALARM of 11." in out
    assert f"ALARM             {name}" in out and "[4.0] >= 1.0" in out
    assert "what to do: The transform Lambda fails" in out
    others = [line.split() for line in out.splitlines() if "-alarm-" in line and name not in line]
    assert len(others) == 10 and all(state in ("OK", "INSUFFICIENT_DATA") for state, _ in others)


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path))
    (tmp_path / "local").mkdir()
    return tmp_path


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _write(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def _plane_status(pid: int) -> dict:
    pipe = {"alive": True, "state": "RUNNING", "events_moved": 123456, "lag_s": 0.1, "errors": 0}
    return {
        "pid": pid,
        "running": True,
        "updated_at": time.time(),
        "checkpoint_dir": "/x",
        "health": {"alive": True, "pipe": pipe, "firehose": {"alive": True, "state": "ACTIVE"}},
    }


def test_after_a_kill_9_everything_is_dead_and_no_stale_figures_show(own_home: Path) -> None:
    dead = _dead_pid()
    _write(emulator_state_file(), {"pid": dead, "endpoint": "http://127.0.0.1:1", "port": 1})
    _write(dataplane_status_file(), _plane_status(dead))
    _write(ui_path(), {"pid": dead, "dagster_pid": dead, "url": "http://127.0.0.1:3999"})
    out = _status()
    assert f"Embedded AWS: dead (pid {dead} is gone" in out
    assert f"Data plane: dead (pid {dead}" in out
    assert "Dagster UI: dead (was http://127.0.0.1:3999" in out
    assert "123,456" not in out and "events_moved" not in out
    assert "Alarms: unknown: the embedded AWS is not running" in out


def test_while_sales_cdc_up_runs_it_names_it_and_the_ui(own_home: Path) -> None:
    me = os.getpid()  # stands for the `sales-cdc up` process: it runs the data plane in-process
    _write(dataplane_status_file(), _plane_status(me))
    _write(ui_path(), {"pid": me, "dagster_pid": me, "url": "http://127.0.0.1:3998"})
    out = _status()
    assert f"sales-cdc up: running (pid {me})" in out and "local up: not running" not in out
    assert f"Data plane: running (pid {me}, run by `sales-cdc up`" in out and "events_moved=123456" in out
    assert "Dagster UI: running at http://127.0.0.1:3998" in out
    assert "Embedded AWS: not running." in out
