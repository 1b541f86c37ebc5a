"""``sales-cdc local up|status|down|reset``: the embedded AWS and the local data plane, without Dagster.

``up`` runs in the foreground: it starts the emulator (or reuses the recorded one), provisions it from
``infra/template.yaml``, runs the Pipe and Firehose stand-ins and prints their health every few
seconds; Ctrl-C or SIGTERM flushes the buffers, writes the checkpoints and stops what it started.
It records itself in ``<state dir>/up.json`` so ``status`` can describe it and ``down`` can stop it.

The embedded AWS is durable: its state lives in ``<state dir>/aws-state/`` and a start after any stop
or crash restores it, says what it restored and where the pumps resume; a record of a process that is
gone is cleaned up on the way. ``reset`` deletes that state and the local Dagster history together.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import click
from botocore.exceptions import BotoCoreError, ClientError

from infra.clients import LOCAL_CREDENTIALS
from local_aws.dataplane import (
    LOG_FILE,
    DataPlane,
    DataPlaneError,
    format_health,
    read_status,
    running_status,
)
from local_aws.provision import ProvisionError
from local_aws.pumps import checkpoint_directory
from local_aws.server import EmulatorError, pid_alive, running_state, stop_recorded
from local_aws.server.process import started_by_then, stop_pid
from local_aws.server.snapshot import START_ERROR_FILE
from local_aws.stack import LocalStack, format_positions
from sales_cdc.health.alarms import ALARM, AlarmState, pipeline_alarms
from sales_cdc.settings import (
    SettingsError,
    aws_state_dir,
    dagster_home_dir,
    emulator_state_file,
    load_settings,
    outputs_path,
    state_dir,
)

UP_FILE = "up.json"
CLI_MARKERS = ("sales-cdc", "sales_cdc")  # in the command line of a `sales-cdc local up` process
UI_FILE = "ui.json"
DOWN_TIMEOUT_S = 60.0  # a clean stop flushes buffers and may wait for the last S3 writes


def local_stack(emulator_port: int | None = None) -> LocalStack:
    """The local deployment's stack, in ``$SALES_CDC_HOME/local``, its AWS state durable in ``aws-state/``."""
    return LocalStack(state_dir("local"), port=emulator_port, aws_state=aws_state_dir())


def start_emulator(stack: LocalStack) -> str:
    """Start the stack's emulator or reuse the recorded one; returns its endpoint.

    Says which (and what a durable start restored) on the terminal and points this process's
    settings at it (SALES_CDC_ENDPOINT_URL). A snapshot that cannot be restored is reported with its
    path and what to do, never with a stack trace.
    """
    try:
        endpoint = stack.start_or_reuse_emulator(report=click.echo)
    except EmulatorError as exc:
        hint = ""
        if stack.aws_state is not None and (stack.aws_state / START_ERROR_FILE).exists():
            hint = " Or wipe the local lake and the Dagster history together: `sales-cdc local reset`."
        raise click.ClickException(str(exc) + hint) from exc
    os.environ["SALES_CDC_ENDPOINT_URL"] = endpoint
    return endpoint


def provision_stack(stack: LocalStack) -> None:
    """Provision the emulator from the template, recording the outputs where the settings read them."""
    click.echo("Provisioning from infra/template.yaml:")
    try:
        stack.provision(outputs_path=outputs_path("local"), report=click.echo)
    except ProvisionError as exc:
        raise click.ClickException(str(exc)) from exc


def start_data_plane(stack: LocalStack) -> DataPlane:
    """Start the data plane of the provisioned stack, as the local settings describe it."""
    try:
        settings = load_settings("local")
        return stack.start_data_plane(settings.outputs, settings.region)
    except (SettingsError, DataPlaneError) as exc:
        raise click.ClickException(str(exc)) from exc


def report_resume(stack: LocalStack, plane: DataPlane) -> None:
    """Say where the pumps resume (their checkpoints in the emulator) and the data plane's lag."""
    try:
        positions = stack.checkpoint_positions(load_settings("local").region)
    except SettingsError:
        positions = {}
    if positions:
        click.echo("Data plane: resuming from its checkpoints:")
        for line in format_positions(positions):
            click.echo(f"  {line}")
    else:
        click.echo("Data plane: no checkpoints yet; the streams are read from their start.")
    click.echo("Data plane: " + format_health(plane.health()))


def dataplane_status_file() -> Path:
    """Where the local deployment's data plane writes its status."""
    return local_stack().status_file


def up_path() -> Path:
    """Where a running ``sales-cdc local up`` records its pid."""
    return state_dir("local") / UP_FILE


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def running_up() -> dict[str, Any] | None:
    """The record of a live ``local up`` process, or None (a dead or reused pid is not live)."""
    record = _read_json(up_path())
    if not record or not pid_alive(int(record.get("pid", 0))):
        return None
    started_at = record.get("started_at")
    if started_at is not None and not started_by_then(int(record["pid"]), float(started_at), CLI_MARKERS):
        return None  # the pid now belongs to another program (a reboot, a crash long ago)
    return record


def clean_stale_up_record() -> None:
    """Remove an ``up.json`` whose process is gone, saying so."""
    record = _read_json(up_path())
    if record is not None and running_up() is None:
        up_path().unlink(missing_ok=True)
        click.echo(f"local up: the record of pid {record.get('pid')} is stale (it is gone); cleaned up.")


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
    clean_stale_up_record()
    existing_up = running_up()
    if existing_up:
        raise click.ClickException(
            f"`sales-cdc local up` is already running (pid {existing_up['pid']}); see "
            "`sales-cdc local status`, or stop it with `sales-cdc local down`."
        )
    other_plane = running_status(dataplane_status_file())
    if other_plane:
        raise click.ClickException(
            f"a data plane is already running (pid {other_plane['pid']}, e.g. `sales-cdc up`); stop it first "
            "with `sales-cdc local down`."
        )
    stack = local_stack(emulator_port)
    stack.home.mkdir(parents=True, exist_ok=True)
    # The pumps and the in-process Lambda log to a file, like CloudWatch; the terminal shows health.
    logging.basicConfig(
        filename=stack.home / LOG_FILE,
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )

    def on_sigterm(signum: int, frame: object) -> None:
        raise _Stop()

    signal.signal(signal.SIGTERM, on_sigterm)
    interactive = sys.stdout.isatty()
    try:
        start_emulator(stack)
        provision_stack(stack)
        plane = start_data_plane(stack)
        report_resume(stack, plane)
        _write_up_record(stack)
        click.secho(
            f"Data plane running (pid {os.getpid()}); logs in {stack.home / LOG_FILE}. "
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
        stack.stop(report=click.echo)
        record = _read_json(up_path())
        if record and record.get("pid") == os.getpid():
            up_path().unlink(missing_ok=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _write_up_record(stack: LocalStack) -> None:
    health = stack.health()
    record = {
        "pid": os.getpid(),
        "started_at": time.time(),
        "endpoint": health["endpoint"],
        "emulator_pid": health["emulator_pid"],
        "emulator_started_here": health["emulator_started_here"],
    }
    path = up_path()
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def ui_path() -> Path:
    """Where a running ``sales-cdc up`` records its pid, its Dagster process and the UI's URL."""
    return state_dir("local") / UI_FILE


def write_ui_record(url: str, dagster_pid: int) -> None:
    """Record that this process (``sales-cdc up``) serves the Dagster UI at ``url``, for ``local status``."""
    record = {"pid": os.getpid(), "dagster_pid": dagster_pid, "url": url, "started_at": time.time()}
    path = ui_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def remove_ui_record() -> None:
    """Remove this process's UI record (``sales-cdc up`` stopping); another process's is left alone."""
    record = _read_json(ui_path())
    if record and record.get("pid") == os.getpid():
        ui_path().unlink(missing_ok=True)


def _process_state(record: dict[str, Any] | None, *pid_keys: str) -> str:
    """running / not running / dead: a record whose processes are gone is stale (a kill -9, a crash)."""
    if record is None:
        return "not running"
    pids = [int(record.get(key) or 0) for key in pid_keys]
    return "running" if all(pid_alive(pid) for pid in pids) else "dead"


def _dataplane_state(plane: dict[str, Any] | None, live: bool) -> str:
    if live:
        return "running"
    if plane is None or not plane.get("running"):
        return "not running"
    if not pid_alive(int(plane.get("pid") or 0)):
        return "dead"
    return "not responding"  # alive but its status writer stopped: hung


def _alarm_states(endpoint: str | None) -> tuple[list[AlarmState], str | None]:
    """The stack's alarms from the emulator's CloudWatch, or why they cannot be read."""
    if endpoint is None:
        return [], "unknown: the embedded AWS is not running"
    try:
        settings = load_settings("local", require_outputs=False)
    except SettingsError as exc:
        return [], f"unknown: {exc}"
    prefix = settings.outputs.get("AlarmNamePrefix")
    if not prefix:
        return [], "unknown: the stack outputs have no AlarmNamePrefix; provision again (`sales-cdc up`)"
    client = boto3.client(
        "cloudwatch", endpoint_url=endpoint, region_name=settings.region, **LOCAL_CREDENTIALS
    )
    try:
        alarms = pipeline_alarms(client, prefix)
    except (BotoCoreError, ClientError) as exc:
        return [], f"could not be read from {endpoint}: {exc}"
    return alarms, None if alarms else f"none named {prefix}*; provision again (`sales-cdc up`)"


def status_report() -> dict[str, Any]:
    """What runs locally: the emulator, the data plane (figures only when live), the UI, and the alarms."""
    emulator_record = _read_json(emulator_state_file())
    emulator = running_state(emulator_state_file())
    ui_record = _read_json(ui_path())
    ui_state = _process_state(ui_record, "pid", "dagster_pid")
    up_record = running_up()
    plane = read_status(dataplane_status_file())
    live = running_status(dataplane_status_file()) is not None
    plane_state = _dataplane_state(plane, live)
    runner = None
    if live and plane is not None:
        if up_record and int(up_record["pid"]) == int(plane["pid"]):
            runner = "sales-cdc local up"
        elif ui_record and ui_state == "running" and int(ui_record["pid"]) == int(plane["pid"]):
            runner = "sales-cdc up"
    alarms, alarms_note = _alarm_states(emulator["endpoint"] if emulator else None)
    return {
        "emulator": {
            "state": "running" if emulator else _process_state(emulator_record, "pid"),
            "pid": (emulator_record or {}).get("pid"),
            "endpoint": (emulator_record or {}).get("endpoint"),
        },
        "up": up_record,
        "dataplane": {
            "state": plane_state,
            "pid": (plane or {}).get("pid"),
            "run_by": runner,
            "status_age_s": round(time.time() - float(plane.get("updated_at", 0)), 1) if plane else None,
            # A dead or hung data plane's last figures are not today's: only a live one's are shown.
            "health": plane.get("health") if live and plane else None,
            "checkpoint_dir": (plane or {}).get("checkpoint_dir"),
        },
        "ui": {"state": ui_state, **{k: (ui_record or {}).get(k) for k in ("url", "pid", "dagster_pid")}},
        "alarms": [
            {"name": a.name, "state": a.state, "reason": a.reason, "description": a.description}
            for a in alarms
        ],
        "alarms_note": alarms_note,
    }


def _print_report(report: dict[str, Any]) -> None:
    emulator = report["emulator"]
    if emulator["state"] == "running":
        click.echo(f"Embedded AWS: running at {emulator['endpoint']} (pid {emulator['pid']}).")
    elif emulator["state"] == "dead":
        click.echo(
            f"Embedded AWS: dead (pid {emulator['pid']} is gone; stale record). `sales-cdc up` restarts it."
        )
    else:
        click.echo("Embedded AWS: not running.")
    up_record, ui = report["up"], report["ui"]
    if up_record:
        since = time.strftime("%H:%M:%S", time.localtime(up_record["started_at"]))
        click.echo(f"local up: running (pid {up_record['pid']}, since {since}).")
    elif ui["state"] == "running":
        click.echo(f"sales-cdc up: running (pid {ui['pid']}).")
    else:
        click.echo("local up: not running. sales-cdc up: not running.")
    plane = report["dataplane"]
    age = f"status {plane['status_age_s']:.0f} s old" if plane["status_age_s"] is not None else "no status"
    run_by = f", run by `{plane['run_by']}`" if plane["run_by"] else ""
    described = {
        "running": f"running (pid {plane['pid']}{run_by}, {age}).",
        "dead": f"dead (pid {plane['pid']} is gone without stopping; its last figures are not shown). "
        "The next start resumes from its checkpoints.",
        "not responding": f"not responding (pid {plane['pid']} alive, {age}).",
        "not running": "not running.",
    }
    click.echo(f"Data plane: {described[plane['state']]}")
    health = plane["health"]
    if health is not None:
        click.echo("  " + format_health(health))
        for pump in ("pipe", "firehose"):
            values = health.get(pump) or {}
            shown = ", ".join(f"{key}={value}" for key, value in values.items() if key != "last_error")
            click.echo(f"  {pump}: {shown}")
            if values.get("last_error"):
                click.echo(f"    last error: {values['last_error']}")
        click.echo(f"  checkpoints: {plane['checkpoint_dir']}")
    if ui["state"] == "running":
        click.echo(
            f"Dagster UI: running at {ui['url']} (pid {ui['dagster_pid']}, `sales-cdc up` pid {ui['pid']})."
        )
    elif ui["state"] == "dead":
        click.echo(f"Dagster UI: dead (was {ui['url']}; `sales-cdc up` pid {ui['pid']} or dagster is gone).")
    else:
        click.echo("Dagster UI: not running (`sales-cdc up` starts it).")
    alarms = report["alarms"]
    if report["alarms_note"]:
        click.echo(f"Alarms: {report['alarms_note']}")
    if alarms:
        firing = sum(1 for a in alarms if a["state"] == ALARM)
        click.echo(f"Alarms: {firing} in ALARM of {len(alarms)}.")
        for alarm in alarms:
            click.echo(f"  {alarm['state']:<17} {alarm['name']}")
            if alarm["state"] == ALARM:
                click.echo(f"    {alarm['reason']}")
                click.echo(f"    what to do: {alarm['description']}")


@local.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Show what runs (embedded AWS, data plane, Dagster UI), the data plane's figures and the alarms."""
    report = status_report()
    if as_json:
        click.echo(json.dumps(report, indent=1))
        return
    _print_report(report)


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
    plane = running_status(dataplane_status_file())
    if plane and all(pid != int(plane["pid"]) for _, pid in targets):
        targets.append(("data plane", int(plane["pid"])))
    for what, pid in targets:
        click.echo(f"Stopping {what} (pid {pid})…")
        stopped = stop_pid(pid, timeout, every=0.1)
        if stopped is None:
            continue
        if not stopped:
            click.echo(
                f"  {what} did not stop within {timeout:.0f} s and was killed; its checkpoints make the next "
                "start resume without loss (with some duplicates)."
            )
        else:
            click.echo(f"  {what} stopped.")
        stopped_any = True
    up_path().unlink(missing_ok=True)
    if stop_recorded(emulator_state_file()):
        click.echo("Embedded AWS stopped.")
        stopped_any = True
    if not stopped_any:
        click.echo("Nothing was running.")


def _running_parts() -> list[str]:
    """What of the local stack runs now (reset refuses while anything does)."""
    parts = []
    emulator = running_state(emulator_state_file())
    if emulator:
        parts.append(f"the embedded AWS (pid {emulator['pid']})")
    up_record = running_up()
    if up_record:
        parts.append(f"`sales-cdc local up` (pid {up_record['pid']})")
    plane = running_status(dataplane_status_file())
    if plane and not (up_record and int(up_record["pid"]) == int(plane["pid"])):
        parts.append(f"a data plane (pid {plane['pid']})")
    ui_record = _read_json(ui_path())
    if _process_state(ui_record, "pid", "dagster_pid") == "running":
        parts.append(f"`sales-cdc up` (pid {(ui_record or {}).get('pid')})")
    return parts


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def reset_targets() -> list[Path]:
    """What ``local reset`` deletes: the embedded AWS's state, file checkpoints, the Dagster history
    (everything in DAGSTER_HOME but its dagster.yaml)."""
    targets = [aws_state_dir(), checkpoint_directory(state_dir("local"))]
    dagster = dagster_home_dir()
    if dagster.is_dir():
        targets += sorted(p for p in dagster.iterdir() if p.name != "dagster.yaml")
    return [path for path in targets if path.exists()]


@local.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(yes: bool) -> None:
    """Delete the local lake (the embedded AWS's saved state) and the local Dagster history together."""
    running = _running_parts()
    if running:
        raise click.ClickException(
            f"the local stack is running ({', '.join(running)}); stop it first: Ctrl-C in the terminal of "
            "`sales-cdc up` / `sales-cdc local up`, or `sales-cdc local down`, then reset."
        )
    targets = reset_targets()
    if not targets:
        click.echo("Nothing to reset: there is no saved local state.")
        return
    click.echo("This deletes:")
    for path in targets:
        click.echo(f"  {path} ({_size(path):,} bytes)")
    if not yes and not click.confirm(
        "Delete the local lake (DynamoDB, S3, Glue, streams, checkpoints) and the Dagster history?",
        default=False,
    ):
        click.echo("Nothing was removed.")
        return
    for path in targets:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        click.echo(f"Removed {path}")
    click.echo(
        "The next `sales-cdc up` (or `sales-cdc local up`) starts with an empty lake and a new history."
    )
