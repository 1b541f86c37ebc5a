"""``sales-cdc local up|status|down``: the embedded AWS and the local data plane, without Dagster.

``up`` runs in the foreground: it starts the emulator (or reuses the recorded one), provisions it from
``infra/template.yaml``, runs the Pipe and Firehose stand-ins and prints their health every few
seconds; Ctrl-C or SIGTERM flushes the buffers, writes the checkpoints and stops what it started.
It records itself in ``<state dir>/up.json`` so ``status`` can describe it and ``down`` can stop it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from local_aws.dataplane import running_status
from local_aws.emulator import Emulator, EmulatorError, pid_alive, running_state, stop_recorded
from sales_cdc.settings import SettingsError, load_settings, state_dir

UP_FILE = "up.json"
DOWN_TIMEOUT_S = 60.0  # a clean stop flushes buffers and may wait for the last S3 writes


def start_or_reuse_emulator(port: int | None) -> tuple[str, Emulator | None]:
    """The recorded emulator if one runs, else a new one; returns its endpoint and the one started here.

    Says which on the terminal and points this process's settings at it (SALES_CDC_ENDPOINT_URL).
    """
    emulator = None
    recorded = running_state()
    if recorded is not None:
        endpoint = recorded["endpoint"]
        click.echo(f"Embedded AWS: reusing the one running at {endpoint} (pid {recorded['pid']}).")
    else:
        emulator = Emulator(port=port, record=True, log_path=state_dir("local") / "emulator.log")
        try:
            emulator.start()
        except EmulatorError as exc:
            raise click.ClickException(str(exc)) from exc
        endpoint = emulator.endpoint
        click.echo(f"Embedded AWS: started at {endpoint}" + (f" ({emulator.note})" if emulator.note else ""))
    os.environ["SALES_CDC_ENDPOINT_URL"] = endpoint
    return endpoint, emulator


def up_path() -> Path:
    """Where a running ``sales-cdc local up`` records its pid."""
    return state_dir("local") / UP_FILE


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def running_up() -> dict[str, Any] | None:
    """The record of a live ``local up`` process, or None."""
    record = _read_json(up_path())
    return record if record and pid_alive(int(record.get("pid", 0))) else None


class _Stop(Exception):
    """SIGTERM: stop like Ctrl-C."""


@click.group()
def local() -> None:
    """The local stack: embedded AWS and the data plane (Pipe and Firehose stand-ins)."""


@local.command()
@click.option(
    "--emulator-port", type=int, default=None, help="Embedded AWS port (default 4566 or the next free)."
)
@click.option(
    "--status-every",
    type=click.FloatRange(min=0.5),
    default=3.0,
    show_default=True,
    help="Seconds between health lines.",
)
def up(emulator_port: int | None, status_every: float) -> None:
    """Start embedded AWS, provision it and run the data plane in the foreground (Ctrl-C stops)."""
    import logging

    from local_aws.dataplane import DataPlane, format_health
    from local_aws.provision import ProvisionError, provision

    existing_up = running_up()
    if existing_up:
        raise click.ClickException(
            f"`sales-cdc local up` is already running (pid {existing_up['pid']}); see "
            "`sales-cdc local status`, or stop it with `sales-cdc local down`."
        )
    other_plane = running_status()
    if other_plane:
        raise click.ClickException(
            f"a data plane is already running (pid {other_plane['pid']}, e.g. `sales-cdc up`); stop it first "
            "with `sales-cdc local down`."
        )
    home = state_dir("local")
    home.mkdir(parents=True, exist_ok=True)
    # The pumps and the in-process Lambda log to a file, like CloudWatch; the terminal shows health.
    logging.basicConfig(
        filename=home / "dataplane.log",
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )

    def on_sigterm(signum: int, frame: object) -> None:
        raise _Stop()

    signal.signal(signal.SIGTERM, on_sigterm)
    emulator: Emulator | None = None
    plane: DataPlane | None = None
    interactive = sys.stdout.isatty()
    try:
        recorded = running_state()
        endpoint, emulator = start_or_reuse_emulator(emulator_port)
        click.echo("Provisioning from infra/template.yaml:")
        try:
            provision(endpoint, report=click.echo)
        except ProvisionError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            plane = DataPlane(load_settings("local")).start()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc
        _write_up_record(endpoint, recorded, emulator)
        click.secho(
            f"Data plane running (pid {os.getpid()}); logs in {home / 'dataplane.log'}. "
            "Ctrl-C stops; `sales-cdc local status` from another terminal.",
            bold=True,
        )
        while True:
            time.sleep(status_every)
            line = time.strftime("%H:%M:%S ") + format_health(plane.health())
            if interactive:
                click.echo("\r\033[K" + line, nl=False)
            else:
                click.echo(line)
    except (KeyboardInterrupt, _Stop):
        click.echo("\nStopping: flushing buffers and writing checkpoints…")
    finally:
        # A second Ctrl-C must not cut the flush short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if plane is not None:
            plane.stop()
            click.echo("Data plane stopped: " + format_health(plane.health()))
        if emulator is not None:
            emulator.stop()
            click.echo("Embedded AWS stopped.")
        record = _read_json(up_path())
        if record and record.get("pid") == os.getpid():
            up_path().unlink(missing_ok=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _write_up_record(endpoint: str, recorded: dict[str, Any] | None, emulator: Emulator | None) -> None:
    emulator_pid = emulator.process.pid if emulator and emulator.process else (recorded or {}).get("pid")
    record = {
        "pid": os.getpid(),
        "started_at": time.time(),
        "endpoint": endpoint,
        "emulator_pid": emulator_pid,
        "emulator_started_here": emulator is not None,
    }
    path = up_path()
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


@local.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Show the embedded AWS, a running `local up` and the data plane's health."""
    from local_aws.dataplane import format_health, read_status

    emulator = running_state()
    up_record = running_up()
    plane = read_status()
    plane_live = running_status() is not None
    if as_json:
        click.echo(
            json.dumps(
                {"emulator": emulator, "up": up_record, "dataplane": plane, "dataplane_running": plane_live},
                indent=1,
            )
        )
        return
    if emulator:
        click.echo(f"Embedded AWS: running at {emulator['endpoint']} (pid {emulator['pid']}).")
    else:
        click.echo("Embedded AWS: not running.")
    if up_record:
        since = time.strftime("%H:%M:%S", time.localtime(up_record["started_at"]))
        click.echo(f"local up: running (pid {up_record['pid']}, since {since}).")
    else:
        click.echo("local up: not running.")
    if plane is None:
        click.echo("Data plane: no status recorded.")
        return
    age = time.time() - float(plane.get("updated_at", 0))
    state = (
        "running"
        if plane_live
        else ("stopped" if not plane.get("running") else "not responding (stale status)")
    )
    click.echo(f"Data plane: {state} (pid {plane.get('pid')}, status {age:.0f} s old).")
    health = plane.get("health") or {}
    click.echo("  " + format_health(health))
    for pump in ("pipe", "firehose"):
        values = health.get(pump) or {}
        shown = ", ".join(f"{key}={value}" for key, value in values.items() if key != "last_error")
        click.echo(f"  {pump}: {shown}")
        if values.get("last_error"):
            click.echo(f"    last error: {values['last_error']}")
    click.echo(f"  checkpoints: {plane.get('checkpoint_dir')}")


@local.command()
@click.option(
    "--timeout",
    type=float,
    default=DOWN_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for a clean stop.",
)
def down(timeout: float) -> None:
    """Stop a running `local up` (it flushes and checkpoints first), any data plane, and the embedded AWS."""
    stopped_any = False
    targets: list[tuple[str, int]] = []
    up_record = running_up()
    if up_record:
        targets.append(("local up", int(up_record["pid"])))
    plane = running_status()
    if plane and all(pid != int(plane["pid"]) for _, pid in targets):
        targets.append(("data plane", int(plane["pid"])))
    for what, pid in targets:
        click.echo(f"Stopping {what} (pid {pid})…")
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            click.echo(
                f"  {what} did not stop within {timeout:.0f} s and was killed; its checkpoints make the next "
                "start resume without loss (with some duplicates)."
            )
        else:
            click.echo(f"  {what} stopped.")
        stopped_any = True
    up_path().unlink(missing_ok=True)
    if stop_recorded():
        click.echo("Embedded AWS stopped.")
        stopped_any = True
    if not stopped_any:
        click.echo("Nothing was running.")
