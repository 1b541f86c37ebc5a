"""The product end to end, the way a person uses it: `sales-cdc up`, then the Dagster UI's API.

Boots the embedded AWS, the data plane and `dagster dev` on free ports, launches the generator
through Dagster's GraphQL API, waits for the sensor-triggered refreshes, checks the summaries against
the truth in DynamoDB, opens the UI in headless Chromium, and shuts down leaving no process behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from infra.clients import LOCAL_CREDENTIALS
from local_aws.athena import LocalAthena
from local_aws.server import ephemeral_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
GENERATOR_RUN = {"orders": 150, "seed": 20261121, "update_ratio": 0.3, "delete_ratio": 0.05, "days": 2}


class Stack:
    """A running `sales-cdc up` and what a test needs to reach it."""

    def __init__(self, process: subprocess.Popen, home: Path, ui_port: int, emulator_port: int, log: Path):
        self.process, self.home, self.ui_port, self.emulator_port, self.log = (
            process,
            home,
            ui_port,
            emulator_port,
            log,
        )

    @property
    def ui(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{self.ui}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            payload = json.loads(response.read())
        assert "errors" not in payload, payload
        return payload["data"]


def _processes_with_home(home: Path) -> list[int]:
    """Pids of processes whose environment names this SALES_CDC_HOME (ours, and nobody else's)."""
    marker = f"SALES_CDC_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _wait(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("e2e-home")
    ui_port, emulator_port = ephemeral_port(), ephemeral_port()
    log = home / "up.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("SALES_CDC_")}
    env.update(SALES_CDC_HOME=str(home), PYTHONUNBUFFERED="1")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sales_cdc.cli",
                "up",
                "--ui-port",
                str(ui_port),
                "--emulator-port",
                str(emulator_port),
                "--status-every",
                "5",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    running = Stack(process, home, ui_port, emulator_port, log)
    try:
        _wait(lambda: "Dagster UI:" in log.read_text() or process.poll() is not None, 240, "the UI")
        assert process.poll() is None, log.read_text()[-4000:]
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log, ARTIFACTS / "e2e-up.log")


def _truth(stack: Stack) -> dict[str, str]:
    """orderId -> status straight from DynamoDB."""
    table = json.loads((stack.home / "local" / "outputs.json").read_text())["OrdersTableName"]
    pages = stack.client("dynamodb").get_paginator("scan").paginate(TableName=table)
    return {item["orderId"]["S"]: item["status"]["S"] for page in pages for item in page["Items"]}


def _orders_current(stack: Stack) -> dict[str, str] | None:
    """order_id -> status from the orders_current table, through the local Athena engine."""
    outputs = json.loads((stack.home / "local" / "outputs.json").read_text())
    engine = LocalAthena(endpoint_url=stack.endpoint, region="us-east-1", credentials=LOCAL_CREDENTIALS)
    try:
        result = engine.execute("SELECT order_id, status FROM orders_current", outputs["GlueDatabaseName"])
    except Exception:  # noqa: BLE001 - not built yet
        return None
    return {order_id: status for order_id, status in result.rows}


def _runs(stack: Stack) -> list[dict]:
    data = stack.graphql(
        "{ runsOrError(limit: 50) { ... on Runs { results { runId status jobName tags { key value } "
        "assetSelection { path } } } } }"
    )
    return data["runsOrError"]["results"]


def test_generator_from_the_ui_fills_the_summaries(stack: Stack) -> None:
    from dagster_graphql import DagsterGraphQLClient

    client = DagsterGraphQLClient("127.0.0.1", port_number=stack.ui_port)
    run_id = client.submit_job_execution(
        "__ASSET_JOB",
        repository_location_name="sales_cdc",
        run_config={"ops": {"orders": {"config": GENERATOR_RUN}}},
        asset_selection=[["orders"]],
    )
    launched = time.monotonic()
    status = _wait(
        lambda: (s := client.get_run_status(run_id).value) in ("SUCCESS", "FAILURE", "CANCELED") and s,
        180,
        "the generator run",
    )
    assert status == "SUCCESS", stack.log.read_text()[-4000:]
    truth = _truth(stack)
    assert truth, "the generator wrote nothing"

    def summaries_match() -> bool:
        runs = _runs(stack)
        busy = any(run["status"] in ("QUEUED", "STARTING", "STARTED", "NOT_STARTED") for run in runs)
        return not busy and _orders_current(stack) == _truth(stack)

    _wait(summaries_match, 300, "orders_current to equal DynamoDB", interval=3)
    print(f"\ngenerator materialization -> summaries visible: {time.monotonic() - launched:.1f} s")

    def finished_sensor_runs() -> list[dict] | None:
        # The sensor launches follow-up runs for the order dates orders_current changed, and those
        # refresh the daily report too: wait until such a run exists and every run so far finished.
        runs = [run for run in _runs(stack) if any(t["key"] == "dagster/sensor_name" for t in run["tags"])]
        done = all(run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in runs)
        report = any(["daily_report"] in [a["path"] for a in run["assetSelection"] or []] for run in runs)
        return runs if runs and done and report else None

    sensor_runs = _wait(finished_sensor_runs, 180, "the sensor's runs to finish", interval=2)
    assert all(run["status"] == "SUCCESS" for run in sensor_runs), sensor_runs


@pytest.mark.browser
def test_the_ui_shows_the_asset_groups(stack: Stack) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (make test installs Debian's chromium when run as root)")
    ARTIFACTS.mkdir(exist_ok=True)
    profile = stack.home / "chromium-profile"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1600,1000",
        "--virtual-time-budget=20000",
    ]
    # Dagster 1.13's menu: Lineage is /asset-groups (the README's docs/asset-graph.png), Catalog is
    # /assets; the daily_report asset page shows the report's chart (metadata `chart`).
    expected = {
        "asset-groups": ("ingest", "catalog", "analytics"),
        "assets/daily_report": ("daily_report", "chart"),
        "assets": (
            "orders",
            "raw_orders_cdc",
            "partition_repair",
            "orders_current",
            "sales_daily",
            "daily_report",
        ),
    }
    for page, names in expected.items():
        url = f"{stack.ui}/{page}"
        for _attempt in range(3):  # a loaded machine may render the page after the virtual time budget
            dom = subprocess.run(
                [chromium, *flags, "--dump-dom", url],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            ).stdout
            if all(f">{name}<" in dom or f"{name}</" in dom for name in names):
                break
        (ARTIFACTS / f"dagster-ui-{page.replace('/', '-')}.html").write_text(dom)
        for name in names:
            assert f">{name}<" in dom or f"{name}</" in dom, f"{name!r} not on {url}"
        assert "Join the Dagster community" not in dom
        screenshot = ARTIFACTS / f"dagster-ui-{page.replace('/', '-')}.png"
        subprocess.run(
            [chromium, *flags, f"--screenshot={screenshot}", url],
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert screenshot.exists() and screenshot.stat().st_size > 10_000


def test_stopping_leaves_no_process_behind(stack: Stack) -> None:
    assert _processes_with_home(stack.home), "the stack's processes should be visible while it runs"
    stack.process.send_signal(signal.SIGINT)
    stack.process.wait(timeout=90)
    assert stack.process.returncode == 0, stack.log.read_text()[-3000:]
    _wait(lambda: not _processes_with_home(stack.home), 20, "every process of the stack to exit", 0.5)
