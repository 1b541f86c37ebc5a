"""The catalog assets with local resources against the emulator: the crawl and partition repair.

One provisioned emulator per module; every test writes its own days, so the tests do not depend on
each other's data (the raw table is crawled once, by whichever test needs it first).
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import dagster as dg
import pytest
from botocore.exceptions import ClientError

from infra.clients import LOCAL_CREDENTIALS
from lambda_transform.schema import CDC_COLUMNS
from local_aws.provision import provision
from local_aws.server import Emulator, reset_emulator
from sales_cdc.catalog import partition_repair, raw_orders_cdc
from sales_cdc.resources import build_resources
from sales_cdc.resources.aws import LakeResource
from sales_cdc.settings import load_settings, outputs_path

TODAY = datetime.now(UTC).date()


def day(offset: int) -> str:
    return (TODAY - timedelta(days=offset)).isoformat()


def cdc_row(n: int, event_day: str, hour: str) -> dict[str, Any]:
    """A raw CDC row with every declared column, as the Lambda writes it."""
    stamp = f"{event_day} {hour}:00:00.000"
    values = {
        "event_id": f"e-{event_day}-{hour}-{n}",
        "event_name": "INSERT",
        "sequence_number": str(10**20 + n),
        "event_time": stamp,
        "arrival_time": stamp,
        "is_deleted": False,
        "order_id": f"o-{n}",
        "quantity": 1,
        "unit_price": 9.99,
        "created_at": stamp,
        "updated_at": stamp,
        "extra_attributes": None,
    }
    return {name: values.get(name, f"{name}-{n}") for name, _, _ in CDC_COLUMNS}


class LocalLake:
    """The module's provisioned lake: clients, resources, and raw objects written like Firehose's."""

    def __init__(self, endpoint: str) -> None:
        reset_emulator(endpoint)
        provision(endpoint, report=lambda line: None, outputs_path=outputs_path("local"))
        self.settings = load_settings("local")
        self.resources = build_resources("local")
        self.lake = self.resources["lake"]
        kwargs = {**self.settings.boto3_kwargs(), **LOCAL_CREDENTIALS}
        self.s3 = boto3.client("s3", **kwargs)
        self.glue = boto3.client("glue", **kwargs)

    def put_raw(self, event_day: str, hour: str, rows: int = 2, name: str = "part-0.gz") -> str:
        key = f"{self.lake.raw_prefix}dt={event_day}/hour={hour}/{name}"
        body = "".join(json.dumps(cdc_row(n, event_day, hour)) + "\n" for n in range(rows)).encode()
        self.s3.put_object(Bucket=self.lake.bucket, Key=key, Body=gzip.compress(body))
        return key

    def partitions(self) -> set[tuple[str, str]]:
        pages = self.glue.get_paginator("get_partitions").paginate(
            DatabaseName=self.lake.glue_database, TableName=self.lake.raw_table
        )
        return {tuple(p["Values"]) for page in pages for p in page["Partitions"]}  # type: ignore[misc]

    def ensure_table(self) -> None:
        """Crawl once if the raw table does not exist yet."""
        try:
            self.glue.get_table(DatabaseName=self.lake.glue_database, Name=self.lake.raw_table)
        except ClientError:
            self.put_raw(day(400), "00")
            materialize([raw_orders_cdc], self)


@pytest.fixture(scope="module")
def local_lake(emulator: Emulator) -> LocalLake:
    return LocalLake(emulator.endpoint)


def materialize(assets: list, lake: LocalLake, **kwargs: Any) -> dg.ExecuteInProcessResult:
    return dg.materialize(assets, resources=lake.resources, **kwargs)


def repair(lake: LocalLake, **config: Any) -> dict[str, Any]:
    """Materialize partition_repair with ``config``; returns its metadata as plain values."""
    result = materialize(
        [partition_repair], lake, run_config={"ops": {"partition_repair": {"config": config}}}
    )
    (materialization,) = result.asset_materializations_for_node("partition_repair")
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def test_crawl_creates_the_raw_table_with_columns_and_partitions(local_lake):
    d = day(300)
    local_lake.put_raw(d, "01")
    local_lake.put_raw(d, "02")
    result = materialize([raw_orders_cdc], local_lake)
    (materialization,) = result.asset_materializations_for_node("raw_orders_cdc")
    metadata = materialization.metadata
    assert metadata["crawl_status"].value == "SUCCEEDED"
    columns = [column.name for column in metadata["dagster/column_schema"].schema.columns]
    assert columns[: len(CDC_COLUMNS)] == [name for name, _, _ in CDC_COLUMNS]
    assert columns[-2:] == ["dt", "hour"]
    assert metadata["columns"].value == len(CDC_COLUMNS)
    assert {(d, "01"), (d, "02")} <= local_lake.partitions()
    assert metadata["partition_count"].value == len(local_lake.partitions())


def test_repair_adds_exactly_the_partitions_present_in_s3_and_missing_from_the_catalog(local_lake):
    local_lake.ensure_table()
    d1, d2, d3 = day(310), day(309), day(308)
    local_lake.put_raw(d1, "03")
    local_lake.put_raw(d1, "04")
    local_lake.put_raw(d2, "00")
    before = local_lake.partitions()

    hours = [f"{d1}/03", f"{d2}/00", f"{d3}/05"]  # d3/05 has no object: nothing to add
    metadata = repair(local_lake, hours=hours)
    assert local_lake.partitions() - before == {(d1, "03"), (d2, "00")}  # d1/04 was not asked about
    assert metadata["partitions_added"] == 2
    assert metadata["partitions_total"] == len(before) + 2
    assert metadata["days_touched"] == [d1, d2]
    assert metadata["s3_list_calls"] == 3  # one small listing per hour asked about
    assert metadata["mode"] == "hours"

    again = repair(local_lake, hours=hours)  # idempotent
    assert again["partitions_added"] == 0
    assert again["partitions_total"] == metadata["partitions_total"]


def test_repair_of_a_day_and_discovery_add_only_what_is_missing(local_lake):
    local_lake.ensure_table()
    d = day(320)
    local_lake.put_raw(d, "10")
    local_lake.put_raw(d, "11")
    by_day = repair(local_lake, days=[d])
    assert by_day["partitions_added"] == 2
    assert "| " + d + " | 10 |" in by_day["added"]

    late = day(321)
    local_lake.put_raw(late, "23")
    discovered = repair(local_lake)  # no target: every day folder is looked at, objects are not listed
    assert discovered["mode"] == "discover"
    assert discovered["partitions_added"] >= 1  # this one, and any other test left unregistered
    assert (late, "23") in local_lake.partitions()
    assert repair(local_lake)["partitions_added"] == 0


def test_a_partitioned_run_repairs_its_own_day(local_lake):
    local_lake.ensure_table()
    d = day(330)
    local_lake.put_raw(d, "06")
    local_lake.put_raw(day(331), "06")  # another day: not this run's

    @dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2020-01-01"), deps=[partition_repair])
    def daily_reader() -> None:
        """Stands in for a daily summary running in the same job as the repair."""

    result = materialize([partition_repair, daily_reader], local_lake, partition_key=d)
    (materialization,) = result.asset_materializations_for_node("partition_repair")
    assert materialization.metadata["days_touched"].value == [d]
    assert (d, "06") in local_lake.partitions()
    assert (day(331), "06") not in local_lake.partitions()


def test_full_repair_runs_msck_through_the_query_engine(local_lake):
    local_lake.ensure_table()
    d = day(340)
    local_lake.put_raw(d, "12")
    assert (d, "12") not in local_lake.partitions()
    metadata = repair(local_lake, full=True)
    assert metadata["mode"] == "full"
    assert (d, "12") in local_lake.partitions()
    assert metadata["partitions_added"] >= 1
    assert f"| {d} | 12 |" in metadata["added"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"hours": ["2026-01-01/24"]}, "two-digit hour"),
        ({"hours": ["2026-01-01/07'; DROP TABLE orders_cdc; --"]}, "invalid"),
        ({"days": ["yesterday"]}, "YYYY-MM-DD"),
    ],
)
def test_repair_refuses_invalid_targets_before_touching_anything(local_lake, config, message):
    local_lake.ensure_table()
    before = local_lake.partitions()
    with pytest.raises(dg.Failure, match=message):
        repair(local_lake, **config)
    assert local_lake.partitions() == before


def test_repair_without_the_raw_table_says_to_crawl_first(local_lake):
    resources = {
        **local_lake.resources,
        "lake": LakeResource(**{**local_lake.lake.model_dump(), "raw_table": "not_crawled"}),
    }
    with pytest.raises(dg.Failure, match="materialize the asset raw_orders_cdc"):
        dg.materialize([partition_repair], resources=resources)
