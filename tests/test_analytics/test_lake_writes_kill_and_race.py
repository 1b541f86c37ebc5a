"""Kill -9 and races against the lake's writers: tables stay whole, and the next run converges.

A refresh runs in a process of its own (``refresh_process.py``) and is killed by ``SALES_CDC_KILL_AT``
(:mod:`infra.failpoints`) at a named point: before its commit (staged), during it (the Iceberg data
and metadata files are written, the catalog not yet switched) and after it (before Dagster would
record the watermark). After each kill the table is readable and holds the previous state or the
new one, never a missing, partial or doubled table; the next refresh, from the same watermark,
drops what the killed one left and reconciles with DynamoDB on every column. Races: two refreshes
started together (two processes, no pool between them) end with one correct copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.failpoints import KILL_AT_ENV
from local_aws.provision import provision
from local_aws.server import reset_emulator
from sales_cdc.analytics.checks import check_reconciliation
from sales_cdc.analytics.derived_tables import Statements
from sales_cdc.analytics.orders_current import STAGING_TABLE_PREFIX, refresh_orders_current
from sales_cdc.analytics.sales import refresh_order_dates
from sales_cdc.settings import Settings
from test_analytics.analytics_support import (
    History,
    at,
    boto3_kwargs,
    clean_delivery,
    crawl,
    resources,
    table_rows,
    write_raw,
)

TODAY = datetime.now(UTC).date()
D1, D2, D3 = (TODAY - timedelta(days=n) for n in (6, 5, 4))
DAYS = [D1.isoformat(), D2.isoformat(), D3.isoformat()]
PROCESS = Path(__file__).with_name("refresh_process.py")
ORDERS_SQL = "SELECT * FROM orders_current"
DAILY_SQL = "SELECT * FROM sales_daily"


@dataclass
class Lake:
    settings: Settings
    outputs: dict[str, str]
    s3: Any
    resources: dict[str, Any]
    history: History
    watermark: datetime | None = None
    wave: int = 0

    def statements(self) -> Statements:
        return Statements(self.resources["query_engine"], self.settings.glue_database)

    def rows(self, sql: str) -> list[tuple]:
        return table_rows(self.resources["query_engine"], self.settings, sql)

    def new_wave(self) -> None:
        """New orders, updates, a cancellation, a move to another order date and a deletion: written
        to DynamoDB (the truth) and delivered as raw objects (registered by the crawl)."""
        self.wave += 1
        h, start, w = self.history, len(self.history.changes), self.wave
        h.insert(f"k{w}a", at(D1, w), quantity=w, unit_price="12.50")
        h.insert(f"k{w}b", at(D2, w), unit_price="7.25")
        h.insert(f"k{w}c", at(D3, w), unit_price="3.10")
        h.modify(f"k{w}a", at(D1, w, 30), status="PAID")
        h.modify(f"k{w}b", at(D2, w, 30), createdAt=at(D3, w).isoformat().replace("+00:00", ".000Z"))
        h.modify(f"k{w}c", at(D3, w, 30), status="CANCELLED")
        if w > 1:
            h.remove(f"k{w - 1}a", at(D3, w, 45))
        table = boto3.resource("dynamodb", **boto3_kwargs(self.settings)).Table(self.settings.orders_table)
        with table.batch_writer() as batch:
            for order_id in sorted({change.item["orderId"] for change in h.changes[start:]}):
                if order_id in h.items:
                    batch.put_item(Item=h.items[order_id])
                else:
                    batch.delete_item(Key={"orderId": order_id})
        write_raw(self.s3, self.settings, clean_delivery(h.changes[start:]))
        crawl(self.settings)

    def start(self, job: dict[str, Any], kill_at: str | None = None) -> subprocess.Popen:
        """Start ``refresh_process.py`` on ``job``, to be killed at ``kill_at`` if given."""
        env = {**os.environ, KILL_AT_ENV: kill_at} if kill_at else dict(os.environ)
        argument = json.dumps({"endpoint": self.settings.endpoint_url, "outputs": self.outputs, **job})
        return subprocess.Popen(
            [sys.executable, str(PROCESS), argument],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_process(self, job: dict[str, Any], kill_at: str | None = None) -> tuple[int, str]:
        """Run ``refresh_process.py`` to its end; returns its exit code and stderr."""
        process = self.start(job, kill_at)
        _, stderr = process.communicate(timeout=300)
        return process.returncode, stderr

    def race(self, *jobs: dict[str, Any]) -> list[tuple[int, str]]:
        """Start the jobs together and wait for all of them; returns their exit codes and stderr."""
        processes = [self.start(job) for job in jobs]
        errors = [process.communicate(timeout=300)[1] for process in processes]
        return [(process.returncode, stderr) for process, stderr in zip(processes, errors, strict=True)]

    def refresh_job(self, token: str) -> dict[str, Any]:
        watermark = self.watermark.isoformat() if self.watermark else None
        return {"orders_current": {"watermark": watermark, "token": token}}

    def refresh(self, token: str) -> dict[str, Any]:
        """A refresh that completes (in this process), recording the watermark like Dagster does."""
        facts = refresh_orders_current(
            self.statements(),
            self.resources["lake"],
            self.s3,
            boto3.client("glue", **boto3_kwargs(self.settings)),
            run_token=token,
            watermark=self.watermark,
            listing_margin=timedelta(0),
        )
        self.watermark = datetime.fromisoformat(facts["raw_watermark"])
        return facts

    def reconciled(self) -> bool:
        dynamodb = boto3.client("dynamodb", **boto3_kwargs(self.settings))
        return check_reconciliation(self.statements(), dynamodb, self.resources["lake"], self.s3).passed

    def staging_tables(self) -> list[str]:
        result = self.resources["query_engine"].execute(
            f"SHOW TABLES IN {self.settings.glue_database}", self.settings.glue_database
        )
        return [row[0] for row in result.rows if str(row[0]).startswith(STAGING_TABLE_PREFIX)]


@pytest.fixture(scope="module")
def lake(emulator: Any) -> Iterator[Lake]:
    reset_emulator(emulator.endpoint)
    outputs = provision(emulator.endpoint, report=lambda line: None).outputs
    settings = Settings("local", outputs.get("Region", "us-east-1"), emulator.endpoint, None, outputs)
    lake = Lake(
        settings, outputs, boto3.client("s3", **boto3_kwargs(settings)), resources(settings), History(77)
    )
    lake.new_wave()
    lake.refresh("first")
    refresh_order_dates("sales_daily", DAYS, lake.statements(), lake.resources["lake"], lake.s3)
    yield lake
    reset_emulator(emulator.endpoint)


@pytest.mark.parametrize(
    "kill_at", ["orders_current.staged", "iceberg.before_commit", "orders_current.merged"]
)
def test_a_killed_refresh_leaves_the_previous_or_the_new_table_and_the_next_one_converges(
    lake: Lake, kill_at: str
) -> None:
    lake.new_wave()
    before = lake.rows(ORDERS_SQL)
    code, stderr = lake.run_process(lake.refresh_job(token=f"killed{lake.wave}"), kill_at=kill_at)
    assert code == -9, f"the refresh was not killed at {kill_at}: {stderr[-2000:]}"

    after_kill = lake.rows(ORDERS_SQL)  # readable: the catalog points at a complete snapshot
    assert after_kill == before or lake.reconciled(), f"after a kill at {kill_at}: neither old nor new"
    assert len({row[0] for row in after_kill}) == len(after_kill), "an order appears twice"
    if kill_at == "orders_current.merged":
        assert after_kill != before and lake.reconciled()  # committed before the kill

    facts = lake.refresh(token=f"next{lake.wave}")  # the watermark of the killed run was never recorded
    assert lake.reconciled(), "the next refresh must converge to DynamoDB"
    assert lake.staging_tables() == []
    if kill_at == "orders_current.staged":
        assert f"{STAGING_TABLE_PREFIX}killed{lake.wave}" in facts["dropped_leftovers"]


def test_a_killed_daily_refresh_keeps_the_day_whole(lake: Lake) -> None:
    lake.new_wave()
    lake.refresh(token=f"daily{lake.wave}")
    before = lake.rows(DAILY_SQL)
    code, stderr = lake.run_process({"sales_daily": DAYS}, kill_at="iceberg.before_commit")
    assert code == -9, stderr[-2000:]
    assert lake.rows(DAILY_SQL) == before, "a kill during the commit must leave the previous figures"
    rows = refresh_order_dates("sales_daily", DAYS, lake.statements(), lake.resources["lake"], lake.s3)[1]
    fresh = lake.rows(DAILY_SQL)
    assert fresh != before and sum(rows.values()) == len([r for r in fresh if r[-1] in DAYS])


def test_two_refreshes_started_together_leave_one_correct_copy(lake: Lake) -> None:
    lake.new_wave()
    outcomes = lake.race(lake.refresh_job("racea"), lake.refresh_job("raceb"))
    # Each either committed or failed cleanly (e.g. the other dropped its staging as a leftover, or
    # its commit lost to the other's): never a doubled or partial table.
    assert any(code == 0 for code, _ in outcomes), [stderr[-2000:] for _, stderr in outcomes]
    rows = lake.rows(ORDERS_SQL)
    assert len({row[0] for row in rows}) == len(rows)
    assert lake.reconciled()

    lake.refresh("afterrace")
    outcomes = lake.race({"sales_daily": DAYS}, {"sales_daily": DAYS})
    assert [code for code, _ in outcomes] == [0, 0], [stderr[-2000:] for _, stderr in outcomes]
    daily = lake.rows("SELECT order_date, category, product_id FROM sales_daily")
    assert len(daily) == len(set(daily)), "two refreshes of one day must leave one copy"
