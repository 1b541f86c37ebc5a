"""The durable local state from the CLI: a stale emulator record is cleaned up by the next start, a
damaged snapshot is a plain error, and ``sales-cdc local reset`` removes the lake and the Dagster history
(only when confirmed, never while the stack runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from local_aws.server import running_state
from local_aws.server.snapshot import RESTORED_FILE, SNAPSHOT_FILE
from sales_cdc.commands.local import local, local_stack, start_emulator
from sales_cdc.settings import aws_state_dir, dagster_home_dir, emulator_state_file, state_dir


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private SALES_CDC_HOME: the session's stack is not this test's."""
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path))
    monkeypatch.delenv("SALES_CDC_EMULATOR_PORT", raising=False)
    monkeypatch.delenv("SALES_CDC_ENDPOINT_URL", raising=False)
    state_dir("local").mkdir(parents=True)
    yield tmp_path


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _record(pid: int) -> None:
    emulator_state_file().write_text(
        json.dumps({"pid": pid, "port": 1, "endpoint": "http://127.0.0.1:1", "started_at": time.time() - 60})
    )


@pytest.mark.parametrize("whose", ["dead", "reused"])
def test_a_stale_emulator_record_is_cleaned_up_by_the_next_start(
    own_home: Path, whose: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # "reused": the recorded pid is alive but is this test process, not an emulator.
    pid = _dead_pid() if whose == "dead" else os.getpid()
    _record(pid)
    stack = local_stack(emulator_port=0)
    try:
        endpoint = start_emulator(stack)
        out = capsys.readouterr().out
        assert f"the record of pid {pid} (http://127.0.0.1:1) is stale" in out
        assert f"Embedded AWS: started at {endpoint}" in out
        assert "no saved state in" in out  # a durable emulator on a new state directory
        recorded = running_state(emulator_state_file())
        assert recorded is not None and recorded["endpoint"] == endpoint and recorded["pid"] != pid
    finally:
        stack.stop()
    assert (aws_state_dir() / RESTORED_FILE).exists()


def _saved_state() -> list[Path]:
    """Files as a stopped local stack leaves them: the emulator's state, file checkpoints, Dagster history."""
    files = [
        aws_state_dir() / SNAPSHOT_FILE,
        state_dir("local") / "checkpoints" / "pipe-x.json",
        dagster_home_dir() / "storage" / "runs.db",
        dagster_home_dir() / "history" / "runs" / "index.db",
    ]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"state")
    (dagster_home_dir() / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return files


def test_reset_with_yes_removes_the_state_and_keeps_the_dagster_config(own_home: Path) -> None:
    files = _saved_state()
    result = CliRunner().invoke(local, ["reset", "--yes"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not any(path.exists() for path in files)
    assert not aws_state_dir().exists()
    assert (dagster_home_dir() / "dagster.yaml").exists()
    assert f"Removed {aws_state_dir()}" in result.output
    assert f"Removed {dagster_home_dir() / 'storage'}" in result.output


def test_reset_answered_no_removes_nothing(own_home: Path) -> None:
    files = _saved_state()
    result = CliRunner().invoke(local, ["reset"], input="n\n", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Nothing was removed." in result.output
    assert all(path.read_bytes() == b"state" for path in files)


def test_reset_refuses_while_the_emulator_runs(own_home: Path) -> None:
    stack = local_stack(emulator_port=0)
    try:
        start_emulator(stack)
        files = _saved_state()[1:]  # the running emulator owns its own state directory
        result = CliRunner().invoke(local, ["reset", "--yes"])
    finally:
        stack.stop()
    assert result.exit_code != 0
    assert "the local stack is running (the embedded AWS" in result.output
    assert "sales-cdc local down" in result.output
    assert all(path.read_bytes() == b"state" for path in files)


def test_a_damaged_snapshot_is_a_plain_error_that_names_it_and_the_way_out(own_home: Path) -> None:
    snapshot = aws_state_dir() / SNAPSHOT_FILE
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(b"half a snapshot")
    stack = local_stack(emulator_port=0)
    try:
        with pytest.raises(click.ClickException) as refused:
            start_emulator(stack)
    finally:
        stack.stop()
    message = refused.value.message
    assert f"cannot restore its saved state from {snapshot}" in message
    assert "move it aside" in message and "`sales-cdc local reset`" in message
    assert snapshot.read_bytes() == b"half a snapshot"
    assert running_state(emulator_state_file()) is None
