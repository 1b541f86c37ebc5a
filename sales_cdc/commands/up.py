"""``sales-cdc up``: the whole local product in one foreground command.

Starts (or reuses) the embedded AWS, restoring its saved state and saying what it restored, provisions
it from the template, runs the local data plane (Pipe and Firehose stand-ins, resuming from their
checkpoints) and ``dagster dev`` on the project's workspace, prints the UI's URL and live health, and
stops everything it started on Ctrl-C or SIGTERM, leaving no process behind (the embedded AWS saves
its state as it stops).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click
import dagster as dg

from infra.clients import LOCAL_CREDENTIALS, boto3_client
from local_aws.dataplane import format_health
from local_aws.server import HOST, free_port, port_is_free
from local_aws.server.process import stop_process_group
from sales_cdc.commands.local import (
    local_stack,
    provision_stack,
    remove_ui_record,
    report_resume,
    start_data_plane,
    start_emulator,
    write_ui_record,
)
from sales_cdc.health.lake_reset import announce_lake_reset
from sales_cdc.settings import dagster_home_dir, load_settings, project_root, provisioning_lock

DEFAULT_UI_PORT = 3000
DAGSTER_YAML = """\
# Written by `sales-cdc up`: the local Dagster instance of this checkout.
telemetry:
  enabled: false
nux:
  enabled: false  # no newsletter prompt over the UI
code_servers:
  local_startup_timeout: 180
concurrency:
  runs:
    # The sensor requests nothing while a lake-writing run is queued or running; one at a time.
    tag_concurrency_limits:
      - key: sales_cdc/lake
        value: write
        limit: 1
  pools:
    # Every asset that writes a lake table runs in that table's pool (lake_orders_current, ...): one
    # writer per table at a time, whatever launched it (sensor, schedule, UI, CLI).
    default_limit: 1
"""


def dagster_home() -> Path:
    """DAGSTER_HOME of the local product: inside the project's state directory, telemetry off."""
    home = dagster_home_dir()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() != DAGSTER_YAML:
        config.write_text(DAGSTER_YAML)
    return home


def announce_lake_state(endpoint: str) -> None:
    """Say whether Dagster's history (on disk) matches the lake (in the embedded AWS), and mark in the UI
    the assets whose data a lost or reset lake no longer holds."""
    settings = load_settings("local")
    s3 = boto3_client("s3", endpoint, settings.region, credentials=LOCAL_CREDENTIALS)
    instance = dg.DagsterInstance.from_config(str(dagster_home()))
    try:
        for line in announce_lake_reset(instance, s3, settings.bucket):
            click.echo(line)
    finally:
        instance.dispose()


def dagster_environment(endpoint: str, home: Path) -> dict[str, str]:
    """Environment for ``dagster dev``: local deployment on this emulator, telemetry off."""
    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_DISABLE_TELEMETRY="1",
        SALES_CDC_DEPLOYMENT="local",
        SALES_CDC_ENDPOINT_URL=endpoint,
        PYTHONUNBUFFERED="1",
    )
    return env


def wait_for_ui(url: str, process: subprocess.Popen, timeout: float = 120.0) -> float:
    """Wait until the Dagster webserver answers; returns seconds waited. Raises if dagster exits."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise click.ClickException(
                f"dagster dev exited with code {process.returncode} before the UI answered; "
                "see its output above."
            )
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2):  # noqa: S310 (loopback)
                return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    raise click.ClickException(f"the Dagster UI did not answer on {url} within {timeout:.0f} s")


def start_dagster(ui_port: int, endpoint: str) -> subprocess.Popen:
    """Start ``dagster dev`` on the workspace in its own process group."""
    root = project_root()
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(root / "workspace.yaml"),
        "-h",
        HOST,
        "-p",
        str(ui_port),
    ]
    return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        command,
        cwd=root,
        env=dagster_environment(endpoint, dagster_home()),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop()


@click.command()
@click.option(
    "--ui-port", type=int, default=None, help=f"Dagster UI port (default {DEFAULT_UI_PORT} or next free)."
)
@click.option(
    "--emulator-port", type=int, default=None, help="Embedded AWS port (default 4566 or next free)."
)
@click.option(
    "--status-every", type=float, default=10.0, show_default=True, help="Seconds between health lines."
)
def up(ui_port: int | None, emulator_port: int | None, status_every: float) -> None:
    """Start the local product: embedded AWS, data plane and the Dagster UI (Ctrl-C stops all)."""
    if ui_port is None:
        ui_port = free_port(DEFAULT_UI_PORT)
    elif not port_is_free(ui_port, HOST):
        raise click.BadParameter(
            f"port {ui_port} is already in use on {HOST}; choose another.", param_hint="--ui-port"
        )

    signal.signal(signal.SIGTERM, _raise_stop)
    stack = local_stack(emulator_port)
    dagster: subprocess.Popen | None = None
    started = time.monotonic()
    try:
        endpoint = start_emulator(stack)
        # Dagster starts while the emulator is provisioned: its code location waits for the lock to go
        # (sales_cdc.settings.wait_for_provisioning) before it reads the stack outputs.
        lock = provisioning_lock("local")
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_text(str(os.getpid()))
        dagster = start_dagster(ui_port, endpoint)
        try:
            provision_stack(stack)
        finally:
            lock.unlink(missing_ok=True)
        dataplane = start_data_plane(stack)
        click.echo("Data plane: Pipe and Firehose stand-ins running.")
        report_resume(stack, dataplane)
        announce_lake_state(endpoint)
        url = f"http://{HOST}:{ui_port}"
        wait_for_ui(url, dagster)
        write_ui_record(url, dagster.pid)  # for `sales-cdc local status`
        click.secho(
            f"\nsales-cdc is up in {time.monotonic() - started:.1f} s. Dagster UI: {url}\n"
            "Materialize `orders` (group ingest) to create orders; the sensor refreshes the summaries.\n"
            "Ctrl-C stops everything.\n",
            bold=True,
        )
        while dagster.poll() is None:
            time.sleep(status_every)
            click.echo(time.strftime("%H:%M:%S ") + format_health(dataplane.health()))
        raise click.ClickException(f"dagster dev exited with code {dagster.returncode}; stopping the rest.")
    except (KeyboardInterrupt, _Stop):
        click.echo("\nStopping… (this takes a few seconds; everything started here is stopped)")
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind; every step
        # below is bounded by its own timeout.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if dagster is not None:
            # kill_leftovers: dagster dev's daemon and code server may outlive it.
            stop_process_group(dagster, timeout=20.0, kill_leftovers=True)
        stack.stop()
        remove_ui_record()
        click.echo("Stopped.")
