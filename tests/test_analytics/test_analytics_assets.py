"""The analytics assets and checks, materialized with local resources against the emulator.

One provisioned emulator serves the module (provisioning is the slow part). The central scenario
is built twice: from a clean delivery (every change once, in order) and from a messy one (copies,
shuffled objects and rows, redeliveries arriving later); every summary must come out identical, and
equal to what the DynamoDB table says.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from dagster import AssetCheckSeverity, DagsterInstance, materialize

from local_aws.provision import provision
from local_aws.server import reset_emulator
from sales_cdc.analytics import ANALYTICS_ASSETS, ANALYTICS_CHECKS, DAILY_PARTITIONS
from sales_cdc.analytics.cdc_event_stats import refresh_event_days
from sales_cdc.analytics.checks import (
    check_freshness,
    check_new_error_records,
    check_order_id_unique,
    check_order_values,
    check_reconciliation,
)
from sales_cdc.analytics.daily_report import daily_report, report_key
from sales_cdc.analytics.derived_tables import Statements
from sales_cdc.analytics.orders_current import refresh_orders_current
from sales_cdc.analytics.reconciliation import (
    assert_pipeline_reconciled,
    expected_sales_daily,
    lake_sales_daily,
)
from sales_cdc.analytics.sales import refresh_order_dates, sales_daily
from sales_cdc.settings import Settings
from test_analytics.analytics_support import (
    History,
    at,
    boto3_kwargs,
    check_results,
    clean_delivery,
    clear_raw,
    crawl,
    materializations,
    messy_delivery,
    resources,
    table_rows,
    write_raw,
)

TODAY = datetime.now(UTC).date()
# Three past days, so no change lies in the future whatever the time of the run.
D1, D2, D3 = (TODAY - timedelta(days=n) for n in (3, 2, 1))
DAYS = [D1.isoformat(), D2.isoformat(), D3.isoformat()]
PHONE = ("p-phone", "Phone X", "Phones")
LAPTOP = ("p-laptop", "Laptop Pro", "Laptops")
EARBUDS = ("p-buds", "Earbuds", "Audio")
SUMMARY_ASSETS = [a for a in ANALYTICS_ASSETS if a is not daily_report]
RANGE_TAGS = {"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]}


def glue(settings: Settings) -> Any:
    """A Glue client on the emulator."""
    return boto3.client("glue", **boto3_kwargs(settings))


def scenario() -> History:
    """Orders over three days: lifecycles, a cancellation, a return, corrections, a deletion,
    an order crossing midnight, late arrivals, and some volume."""
    h = History()
    h.insert("o1", at(D1, 9), product=PHONE, quantity=2, unit_price="199.99")
    h.modify("o1", at(D1, 10), status="PAID")
    h.insert("o2", at(D1, 11), product=LAPTOP, unit_price="1299.00")
    h.insert("o3", at(D1, 12), product=EARBUDS, quantity=3, unit_price="49.50")
    h.modify("o3", at(D1, 13), status="PAID")
    h.modify("o3", at(D1, 14), status="SHIPPED")
    h.modify("o1", at(D2, 8), status="SHIPPED")
    h.insert("o4", at(D2, 8), product=PHONE, quantity=3)
    h.modify("o4", at(D2, 8, 30), quantity=1)
    h.modify("o2", at(D2, 9), status="CANCELLED")
    h.modify("o3", at(D2, 10), status="DELIVERED")
    h.insert("o5", at(D2, 23, 59, 59), product=LAPTOP)
    h.modify("o5", at(D3, 0, 0, 1), status="PAID", lag=timedelta(minutes=30))
    h.modify("o1", at(D3, 7), status="DELIVERED")
    h.remove("o4", at(D3, 9))
    h.insert("o6", at(D3, 10), product=EARBUDS, unit_price="59.00")
    h.modify("o6", at(D3, 10, 5), customerName="Ann B. Lee")
    h.modify("o6", at(D3, 10, 6), unitPrice=Decimal("49.00"))
    h.modify("o3", at(D3, 11), status="RETURNED")
    h.insert("o7", at(D3, 12, 58), product=PHONE, lag=timedelta(minutes=7))
    for n in range(12):  # volume: paid orders over the three days and several hours
        order_id = f"v{n:02d}"
        day = (D1, D2, D3)[n % 3]
        h.insert(order_id, at(day, 6 + n), product=(PHONE, LAPTOP, EARBUDS)[n % 3 - 1], quantity=1 + n % 2)
        h.modify(order_id, at(day, 6 + n, 30), status="PAID")
    return h


@dataclass
class Build:
    """What one build of the analytics produced."""

    results: dict[str, Any]
    snapshot: dict[str, list[tuple]]


@dataclass
class Env:
    """The module's provisioned emulator and what the builds left."""

    settings: Settings
    s3: Any
    resources: dict[str, Any]
    instance: DagsterInstance
    history: History
    copies: dict[str, int]
    clean: Build
    messy: Build

    def run(self, assets: list[Any], **kwargs: Any) -> Any:
        result = materialize(assets, resources=self.resources, instance=self.instance, **kwargs)
        assert result.success
        return result

    def statements(self) -> Statements:
        return Statements(self.resources["query_engine"], self.settings.glue_database)

    def rows(self, sql: str) -> list[tuple]:
        return table_rows(self.resources["query_engine"], self.settings, sql)


SNAPSHOT_SQL = {
    "orders_current": "SELECT * FROM orders_current",
    "sales_daily": "SELECT * FROM sales_daily",
    "sales_hourly": "SELECT * FROM sales_hourly",
    # Everything but the delivery counts, which by design show the copies.
    "cdc_event_stats": (
        "SELECT dt, events, inserts, modifies, removes, orders_changed, late_events, late_hour_events, "
        "lag_p50_ms, lag_p99_ms, lag_max_ms, error_records FROM cdc_event_stats"
    ),
}


def snapshot(engine: Any, settings: Settings) -> dict[str, list[tuple]]:
    """Every row of every summary table, sorted."""
    tables = {name: table_rows(engine, settings, sql) for name, sql in SNAPSHOT_SQL.items()}
    tables["cdc_deliveries"] = table_rows(
        engine, settings, "SELECT dt, deliveries, duplicate_deliveries FROM cdc_event_stats"
    )
    return tables


def build_directly(env_parts: dict[str, Any]) -> Build:
    """The clean build: crawl, then the functions the assets run (no Dagster run: they are the
    assets' bodies, and the messy build below goes through Dagster)."""
    settings, res = env_parts["settings"], env_parts["resources"]
    crawl(settings)
    statements = Statements(res["query_engine"], settings.glue_database)
    s3, lake = env_parts["s3"], res["lake"]
    facts = refresh_orders_current(
        statements, lake, s3, glue(settings), run_token="cleanbuild", watermark=None
    )
    refresh_order_dates("sales_daily", DAYS, statements, lake, s3)
    refresh_order_dates("sales_hourly", DAYS, statements, lake, s3)
    refresh_event_days(DAYS, statements, lake, s3)
    return Build(results={"orders_current": facts}, snapshot=snapshot(res["query_engine"], settings))


def build_with_dagster(env_parts: dict[str, Any]) -> Build:
    """The messy build: crawl, materialize the summaries of the three days and run every check in one
    run, then the daily report of D3."""
    settings, instance, res = env_parts["settings"], env_parts["instance"], env_parts["resources"]
    crawl(settings)
    summary = materialize(
        SUMMARY_ASSETS + ANALYTICS_CHECKS, resources=res, instance=instance, tags=RANGE_TAGS
    )
    report = materialize([daily_report], resources=res, instance=instance, partition_key=DAYS[-1])
    assert summary.success and report.success
    return Build(
        results={
            "materializations": {**materializations(summary), **materializations(report)},
            "checks": check_results(summary),
        },
        snapshot=snapshot(res["query_engine"], settings),
    )


@pytest.fixture(scope="module")
def env(emulator: Any) -> Iterator[Env]:
    reset_emulator(emulator.endpoint)
    outputs = provision(emulator.endpoint, report=lambda line: None).outputs
    settings = Settings("local", outputs.get("Region", "us-east-1"), emulator.endpoint, None, outputs)
    s3 = boto3.client("s3", **boto3_kwargs(settings))
    history = scenario()
    table = boto3.resource("dynamodb", **boto3_kwargs(settings)).Table(settings.orders_table)
    with table.batch_writer() as batch:  # the truth: the table as the changes left it
        for item in history.items.values():
            batch.put_item(Item=item)
    parts = {
        "settings": settings,
        "s3": s3,
        "instance": DagsterInstance.ephemeral(),
        "resources": resources(settings),
    }

    write_raw(s3, settings, clean_delivery(history.changes))
    clean = build_directly(parts)
    clear_raw(s3, settings)
    objects, copies = messy_delivery(history.changes)
    write_raw(s3, settings, objects)
    messy = build_with_dagster(parts)
    yield Env(settings, s3, parts["resources"], parts["instance"], history, copies, clean, messy)
    reset_emulator(emulator.endpoint)


# ------------------------------------------------------------------------------- exactly once


def test_every_summary_is_identical_for_duplicate_and_out_of_order_delivery(env: Env) -> None:
    assert sum(env.copies.values()) > 5, "the messy delivery must contain copies"
    for name in SNAPSHOT_SQL:
        assert env.messy.snapshot[name] == env.clean.snapshot[name], f"{name} differs after a messy delivery"
    # The report of the messy build shows the clean build's sales_daily figures.
    report = env.messy.results["materializations"][("daily_report", DAYS[-1])].metadata
    clean_day = [row for row in env.clean.snapshot["sales_daily"] if row[-1] == DAYS[-1]]
    columns = [
        "category",
        "product_id",
        "product_name",
        "orders",
        "units",
        "revenue",
        "cancelled",
        "returned",
        "day",
    ]
    totals = {name: sum(Decimal(str(row[columns.index(name)])) for row in clean_day) for name in columns[3:8]}
    assert Decimal(report["revenue"].value) == totals["revenue"]
    assert "revenue_exact" not in report  # one revenue figure, the exact one
    assert report["dagster/row_count"].value == len(report_rows(report["top_products"].value))
    assert report["orders"].value == totals["orders"] and report["units"].value == totals["units"]
    assert report["cancelled_orders"].value == totals["cancelled"]
    assert report["returned_orders"].value == totals["returned"]


def test_duplicate_deliveries_are_counted_not_summed(env: Env) -> None:
    clean = {row[0]: row[1:] for row in env.clean.snapshot["cdc_deliveries"]}
    messy = {row[0]: row[1:] for row in env.messy.snapshot["cdc_deliveries"]}
    for day in DAYS:
        assert clean[day][1] == 0
        assert messy[day][1] == env.copies.get(day, 0)
        assert messy[day][0] == clean[day][0] + env.copies.get(day, 0)


def test_orders_current_is_the_latest_state_of_live_orders(env: Env) -> None:
    rows = {
        row[0]: row
        for row in env.rows("SELECT order_id, status, quantity, unit_price, order_date FROM orders_current")
    }
    assert "o4" not in rows, "an order whose latest change is a REMOVE must be dropped"
    assert rows["o1"][1] == "DELIVERED"  # the 22-digit sequence number beats the 21-digit ones
    assert rows["o2"][1] == "CANCELLED" and rows["o3"][1] == "RETURNED"
    assert rows["o5"][1] == "PAID" and rows["o5"][4] == DAYS[1]  # order date = creation day, not event day
    assert rows["o6"][3] == "49.00"
    assert set(rows) == set(env.history.items)


def test_summaries_equal_the_truth_from_dynamodb(env: Env) -> None:
    statements = env.statements()
    dynamodb = boto3.client("dynamodb", **boto3_kwargs(env.settings))
    report = assert_pipeline_reconciled(
        env.resources["query_engine"], env.resources["lake"], dynamodb, env.s3
    )
    assert report.ok and report.lake_orders == len(env.history.items)
    expected = expected_sales_daily(env.history.items.values())
    assert lake_sales_daily(statements, env.resources["lake"], env.s3, DAYS) == expected
    # Cancelled and returned orders are counted, not summed into revenue.
    d1_laptop = expected[(DAYS[0], "Laptops", "p-laptop")]
    assert d1_laptop["cancelled_orders"] == 1
    hourly = env.rows(
        "SELECT order_date, sum(revenue), sum(orders) FROM sales_hourly GROUP BY order_date"  # noqa: S608
    )
    daily = env.rows("SELECT order_date, sum(revenue), sum(orders) FROM sales_daily GROUP BY order_date")
    assert hourly == daily, "the hours of sales_hourly must add up to the day of sales_daily"


def test_cdc_event_stats_counts_kinds_and_late_events(env: Env) -> None:
    stats = {row[0]: row for row in env.messy.snapshot["cdc_event_stats"]}
    day3 = stats[DAYS[2]]
    changes_d3 = [
        c
        for c in env.history.changes
        if c.event_ms // 1000 >= int(datetime(D3.year, D3.month, D3.day, tzinfo=UTC).timestamp())
    ]
    assert day3[1] == len(changes_d3)  # events
    assert day3[4] == 1  # removes
    assert day3[6] == 2  # late events: o5 (30 min) and o7 (7 min) over the 300 s threshold
    assert day3[7] == 1  # o7 (12:58, arrived 13:05) reached Kinesis in a later hour; o5 stayed in hour 00


# ------------------------------------------------------------------------------- metadata


def test_every_materialization_reports_rows_partitions_bytes_and_a_preview(env: Env) -> None:
    mats = env.messy.results["materializations"]
    for key, mat in mats.items():
        metadata = mat.metadata
        for name in ("dagster/row_count", "partitions_touched", "bytes_scanned"):
            assert name in metadata, f"{key} has no {name}"
        assert metadata["bytes_scanned"].value > 0, key
        if key[0] != "daily_report":
            assert metadata["preview"].value.startswith("| "), key
    assert mats[("sales_daily", DAYS[0])].metadata["partitions_touched"].value == [
        f"order_date={d}" for d in DAYS
    ]
    oc = mats[("orders_current", None)].metadata
    assert oc["dagster/row_count"].value == len(env.history.items)
    assert oc["mode"].value == "full" and oc["snapshot_id"].value != "none"
    # Rebuilt from the messy delivery: every order date was replaced, so every day is refreshed.
    assert oc["changed_order_dates"].value == DAYS
    assert env.clean.results["orders_current"]["changed_order_dates"] == DAYS


def test_daily_report_stores_a_chart_and_plots_figures(env: Env) -> None:
    metadata = env.messy.results["materializations"][("daily_report", DAYS[-1])].metadata
    expected = {k: v for k, v in expected_sales_daily(env.history.items.values()).items() if k[0] == DAYS[-1]}
    # Exact money as text (a float would round it); the one revenue figure, no `revenue_exact` twin.
    assert metadata["revenue"].value == str(sum(v["revenue"] for v in expected.values()))
    assert "revenue_exact" not in metadata
    assert metadata["orders"].value == sum(v["orders"] for v in expected.values())
    assert metadata["units"].value == sum(v["units"] for v in expected.values())
    assert metadata["events"].value > 0
    assert (
        metadata["chart"].value.startswith("![daily report")
        and "data:image/png;base64," in metadata["chart"].value
    )
    key = report_key(env.resources["lake"], DAYS[-1])
    assert metadata["chart_path"].value == f"s3://{env.settings.bucket}/{key}"
    png = env.s3.get_object(Bucket=env.settings.bucket, Key=key)["Body"].read()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


# ------------------------------------------------------------------------------- refresh


def test_refreshing_a_day_rewrites_only_that_partition_and_is_idempotent(env: Env) -> None:
    def partition_objects() -> dict[str, str]:
        listing = env.s3.list_objects_v2(Bucket=env.settings.bucket, Prefix="derived/sales_daily/")
        return {obj["Key"]: obj["ETag"] for obj in listing.get("Contents", [])}

    before = partition_objects()
    result = env.run([sales_daily], partition_key=DAYS[1])
    after = partition_objects()
    untouched = [k for k in before if f"order_date={DAYS[1]}/" not in k]
    assert all(after.get(k) == before[k] for k in untouched), "other days' files must not change"
    # Same figures: the MERGE finds nothing to change and commits nothing (no new data files).
    assert {k for k in after if f"order_date={DAYS[1]}/" in k} == {
        k for k in before if f"order_date={DAYS[1]}/" in k
    }
    assert env.rows(SNAPSHOT_SQL["sales_daily"]) == env.clean.snapshot["sales_daily"]
    metadata = materializations(result)[("sales_daily", DAYS[1])].metadata
    assert metadata["partitions_touched"].value == [f"order_date={DAYS[1]}"]


def test_orders_current_commits_order_dates_in_batches(env: Env) -> None:
    # Athena writes at most 100 partitions per statement: a rebuild commits one MERGE per batch.
    statements = env.statements()
    facts = refresh_orders_current(
        statements,
        env.resources["lake"],
        env.s3,
        glue(env.settings),
        run_token="batchtest",
        watermark=None,
        batch_size=1,
    )
    labels = [label for label, _ in statements.results]
    assert labels.count("orders_current_replace") == len(DAYS) and labels.count("orders_removed_replace") == 1
    assert facts["changed_order_dates"] == DAYS
    assert env.rows(SNAPSHOT_SQL["orders_current"]) == env.clean.snapshot["orders_current"]
    leftovers = env.s3.list_objects_v2(Bucket=env.settings.bucket, Prefix="derived/_staging/")
    assert leftovers.get("KeyCount", 0) == 0, "the staging files must be deleted"


# ------------------------------------------------------------------------------- checks


def test_checks_pass_on_a_drained_pipeline(env: Env) -> None:
    checks = env.messy.results["checks"]
    assert set(checks) == {
        "order_id_unique",
        "order_values_valid",
        "newest_event_fresh",
        "reconciles_with_dynamodb",
        "no_new_error_records",
    }
    for name in ("order_id_unique", "order_values_valid", "reconciles_with_dynamodb", "no_new_error_records"):
        assert checks[name].passed, f"{name}: {checks[name].description}"
    assert checks["reconciles_with_dynamodb"].metadata["mismatches"].value == 0
    # The newest change is a day old: the freshness check warns (and does not fail the run).
    assert not checks["newest_event_fresh"].passed
    assert checks["newest_event_fresh"].severity == AssetCheckSeverity.WARN


def test_freshness_warns_past_its_threshold(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    live = set(env.history.items)
    newest_ms = max(c.event_ms for c in env.history.changes if c.item["orderId"] in live)
    newest = datetime.fromtimestamp(newest_ms / 1000, UTC)
    monkeypatch.setenv("SALES_CDC_FRESHNESS_MINUTES", "30")
    fresh = check_freshness(env.statements(), now=newest + timedelta(minutes=10))
    assert fresh.passed and fresh.metadata["age_minutes"].value == 10.0
    stale = check_freshness(env.statements(), now=newest + timedelta(minutes=45))
    assert not stale.passed and stale.severity == AssetCheckSeverity.WARN
    assert "45.0 min old" in (stale.description or "")


def test_reconciliation_names_the_mismatching_ids(env: Env) -> None:
    table = boto3.resource("dynamodb", **boto3_kwargs(env.settings)).Table(env.settings.orders_table)
    dynamodb = boto3.client("dynamodb", **boto3_kwargs(env.settings))
    table.update_item(
        Key={"orderId": "o1"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "RETURNED"},
    )
    table.delete_item(Key={"orderId": "v00"})
    table.put_item(Item={**env.history.items["o7"], "orderId": "o-new"})
    try:
        evaluation = check_reconciliation(env.statements(), dynamodb, env.resources["lake"], env.s3)
        assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
        metadata = evaluation.metadata
        assert metadata["missing_ids"].value == ["o-new"]
        assert metadata["extra_ids"].value == ["v00"]
        assert [
            (o["order_id"], o["columns"]) for o in metadata["diverged_orders"].value if o["kind"] == "differs"
        ] == [("o1", {"status": {"dynamodb": "'RETURNED'", "lake": "'DELIVERED'"}})]
        assert metadata["mismatches"].value == 3
        assert all(order_id in (evaluation.description or "") for order_id in ("o-new", "v00", "o1"))
        with pytest.raises(AssertionError, match="o-new"):
            assert_pipeline_reconciled(env.resources["query_engine"], env.resources["lake"], dynamodb, env.s3)
    finally:
        table.put_item(Item=env.history.items["o1"])
        table.put_item(Item=env.history.items["v00"])
        table.delete_item(Key={"orderId": "o-new"})
    assert check_reconciliation(env.statements(), dynamodb, env.resources["lake"], env.s3).passed


def test_new_error_records_warn_once_and_are_counted_on_their_day(env: Env) -> None:
    lines = [
        json.dumps(
            {"attemptsMade": 4, "errorCode": "Lambda.FunctionError", "errorMessage": "bad", "rawData": "e30="}
        )
        for _ in range(3)
    ]
    key = f"{env.settings.error_prefix}processing-failed/dt={DAYS[2]}/sales-cdc-delivery-1-{DAYS[2]}-x.gz"
    env.s3.put_object(Bucket=env.settings.bucket, Key=key, Body=gzip.compress("\n".join(lines).encode()))
    lake = env.resources["lake"]
    try:
        evaluation = check_new_error_records(lake, env.s3)
        assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
        assert evaluation.metadata["new_error_records"].value == 3
        assert evaluation.metadata["by_error_code"].value == {"Lambda.FunctionError": 3}
        assert evaluation.metadata["by_output_type"].value == {"processing-failed": 3}
        assert check_new_error_records(lake, env.s3).passed, "an error object warns once"
        table, _, errors = refresh_event_days([DAYS[2]], env.statements(), lake, env.s3)
        assert errors[DAYS[2]].records == 3
        assert table.rows(DAYS[2]).as_dicts()[0]["error_records"] == 3
    finally:
        env.s3.delete_object(Bucket=env.settings.bucket, Key=key)
        refresh_event_days([DAYS[2]], env.statements(), lake, env.s3)


def test_invalid_values_and_duplicate_ids_fail_their_checks(env: Env) -> None:
    bad = History(seed=99, first_sequence=10**30)  # later than every change of the scenario
    bad.items = {"v01": dict(env.history.items["v01"])}
    bad.modify("v01", at(D3, 20), quantity=0, status="LOST")
    before = datetime.now(UTC)
    keys = write_raw(env.s3, env.settings, clean_delivery(bad.changes))
    lake = env.resources["lake"]
    try:
        crawl(env.settings)
        facts = refresh_orders_current(
            env.statements(),
            lake,
            env.s3,
            glue(env.settings),
            run_token="badvalues",
            watermark=before,
            listing_margin=timedelta(seconds=1),
        )
        assert facts["changed_order_dates"] == [DAYS[1]]  # v01 was ordered on D2
        values = check_order_values(env.statements())
        assert not values.passed
        assert (
            values.metadata["quantity_not_positive"].value == 1
            and values.metadata["status_unknown"].value == 1
        )
        assert values.metadata["sample_ids"].value == {
            "quantity_not_positive": ["v01"],
            "status_unknown": ["v01"],
        }
        assert "v01" in (values.description or "")
        assert check_order_id_unique(env.statements()).passed

        env.resources["query_engine"].execute(
            "INSERT INTO orders_current SELECT * FROM orders_current WHERE order_id = 'o6'",
            env.settings.glue_database,
        )
        unique = check_order_id_unique(env.statements())
        assert not unique.passed and unique.metadata["duplicated_ids"].value == ["o6"]
    finally:
        for key in keys:
            env.s3.delete_object(Bucket=env.settings.bucket, Key=key)
        refresh_orders_current(
            env.statements(), lake, env.s3, glue(env.settings), run_token="restore", watermark=None
        )


def test_daily_partitions_cover_backdated_orders_and_today() -> None:
    keys = DAILY_PARTITIONS.get_partition_keys()
    assert keys[0] <= "2026-01-01" and keys[-1] == TODAY.isoformat()
    assert isinstance(date.fromisoformat(keys[-1]), date)


def report_rows(markdown: str) -> list[str]:
    """The data rows of a markdown table (header and separator lines excluded)."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return lines[2:]
