"""Bad raw objects are quarantined, not fatal; invalid partitions are never registered.

Against the emulator with the real local engine: objects are dropped into a registered partition, then
a refresh runs the way the raw objects sensor requests it (partition repair with the hours and object
keys it saw, ``orders_current`` and ``cdc_event_stats`` of the day in one run).
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import dagster as dg
import pytest

from lambda_transform.schema import COLUMN_TYPES
from local_aws.server import Emulator
from sales_cdc.analytics.cdc_event_stats import cdc_event_stats
from sales_cdc.analytics.jobs import REFRESH_TARGETS
from sales_cdc.analytics.object_created_queue import RawObject, raw_object_of
from sales_cdc.analytics.orders_current import orders_current
from sales_cdc.analytics.refresh_plan import plan_object_runs
from sales_cdc.catalog import partition_repair, raw_orders_cdc
from sales_cdc.catalog.partition_repair import QUARANTINE_CHECK
from sales_cdc.catalog.quarantine import REASON_METADATA, REASON_SUFFIX, unreadable_reason

from .test_catalog_assets import LocalLake, cdc_row, day, materialize, repair


@pytest.fixture(scope="module")
def lake(emulator: Emulator) -> LocalLake:
    return LocalLake(emulator.endpoint)


def good_lines(event_day: str, hour: str, first: int, rows: int) -> bytes:
    return "".join(
        json.dumps(cdc_row(n, event_day, hour)) + "\n" for n in range(first, first + rows)
    ).encode()


def bad_objects(event_day: str, hour: str) -> dict[str, tuple[bytes, str]]:
    """One unreadable object of each kind: name -> (body, words its reason must hold)."""
    wrong_type = [json.loads(line) for line in good_lines(event_day, hour, 50, 2).splitlines()]
    wrong_type[1]["quantity"] = "three"
    return {
        "truncated.gz": (gzip.compress(good_lines(event_day, hour, 60, 40))[:-30], "not a complete gzip"),
        "plain.gz": (b"order o-70 was placed\n", "not gzip"),
        "array.gz": (
            gzip.compress(json.dumps([cdc_row(80, event_day, hour)]).encode() + b"\n"),
            "JSON list, not an object",
        ),
        "wrong-type.gz": (
            gzip.compress("".join(json.dumps(row) + "\n" for row in wrong_type).encode()),
            "line 2: column quantity (int)",
        ),
        "empty.gz": (b"", "empty object"),
    }


def refresh(lake: LocalLake, event_day: str, hour: str, keys: list[str]) -> dg.ExecuteInProcessResult:
    """The run the sensor requests for new objects (repair config as the sensor builds it)."""
    config = {"hours": [f"{event_day}/{hour}"], "objects": keys}
    return materialize(
        [partition_repair, orders_current, cdc_event_stats],
        lake,
        partition_key=event_day,
        run_config={"ops": {"partition_repair": {"config": config}}},
    )


def test_unreadable_objects_are_quarantined_and_the_refresh_succeeds(lake: LocalLake) -> None:
    lake.ensure_table()
    d, hour = day(280), "05"
    lake.put_raw(d, hour, rows=3, name="good-1.gz")
    repair(lake, hours=[f"{d}/{hour}"])  # the partition is registered
    bad = bad_objects(d, hour)
    keys = [lake.put_raw(d, hour, rows=2, name="good-2.gz")]  # rows 0-1 again: duplicate deliveries
    for name, (body, _) in bad.items():
        key = f"{lake.lake.raw_prefix}dt={d}/hour={hour}/{name}"
        lake.s3.put_object(Bucket=lake.lake.bucket, Key=key, Body=body)
        keys.append(key)

    result = refresh(lake, d, hour, keys)

    assert result.success
    bucket, quarantine = lake.lake.bucket, lake.lake.quarantine_prefix
    (repaired,) = result.asset_materializations_for_node("partition_repair")
    moved = repaired.metadata["objects_quarantined"].value
    assert set(moved) == set(keys[1:])
    for name, (_, words) in bad.items():
        key = f"{lake.lake.raw_prefix}dt={d}/hour={hour}/{name}"
        assert words in moved[key]
        assert "Contents" not in lake.s3.list_objects_v2(Bucket=bucket, Prefix=key)  # gone from raw
        head = lake.s3.head_object(Bucket=bucket, Key=f"{quarantine}{key}")
        assert words in head["Metadata"][REASON_METADATA]
        reason = json.loads(
            lake.s3.get_object(Bucket=bucket, Key=f"{quarantine}{key}{REASON_SUFFIX}")["Body"].read()
        )
        assert reason["original_key"] == key and words in reason["reason"]
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == QUARANTINE_CHECK]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert (
        "array.gz" in check.metadata["quarantine"].value and "not gzip" in check.metadata["quarantine"].value
    )

    rows = lake.resources["query_engine"].execute(
        f"SELECT events, deliveries, quarantined_objects FROM cdc_event_stats WHERE dt = '{d}'",
        database=lake.lake.glue_database,
    )
    assert [tuple(row) for row in rows.rows] == [(3, 5, 5)]  # the good objects' rows, the bad ones counted
    current = lake.resources["query_engine"].execute(
        "SELECT count(*) FROM orders_current WHERE order_id IN ('o-0', 'o-1', 'o-2')",
        database=lake.lake.glue_database,
    )
    assert current.rows[0][0] == 3


def test_partitions_added_by_repair_have_their_objects_validated(lake: LocalLake) -> None:
    """A manual repair of a day (no object keys): the new partitions' objects are read before use."""
    lake.ensure_table()
    d = day(281)
    lake.put_raw(d, "07", rows=2)
    bad = f"{lake.lake.raw_prefix}dt={d}/hour=07/notes.gz"
    lake.s3.put_object(Bucket=lake.lake.bucket, Key=bad, Body=gzip.compress(b"this is not json\n"))
    metadata = repair(lake, days=[d])
    assert metadata["partitions_added"] == 1
    assert list(metadata["objects_quarantined"]) == [bad]
    assert "line 1 is not JSON" in metadata["objects_quarantined"][bad]
    assert metadata["objects_validated"] == 2


def test_repair_refuses_object_keys_outside_the_raw_prefix(lake: LocalLake) -> None:
    lake.ensure_table()
    outside = f"{lake.lake.derived_prefix}orders_current/data.parquet"
    with pytest.raises(dg.Failure, match="raw object key"):
        repair(lake, hours=[f"{day(282)}/00"], objects=[outside])


def test_invalid_partition_folders_are_not_registered_by_repair(lake: LocalLake) -> None:
    lake.ensure_table()
    valid = day(283)
    lake.put_raw("2026-02-30", "00")  # matches YYYY-MM-DD but is no date
    lake.put_raw(valid, "24")  # no such hour
    lake.put_raw(valid, "01")
    metadata = repair(lake)  # discovery: every day folder
    partitions = lake.partitions()
    assert ("2026-02-30", "00") not in partitions and (valid, "24") not in partitions
    assert (valid, "01") in partitions
    ignored = metadata["ignored_folders"]
    assert any("dt=2026-02-30/" in folder for folder in ignored)
    assert any(folder.endswith(f"dt={valid}/hour=24/") for folder in ignored)


def test_the_crawl_asset_removes_invalid_partitions_from_the_catalog(lake: LocalLake) -> None:
    """On AWS the Glue crawler registers whatever folder it finds; the crawl asset removes the invalid."""
    lake.ensure_table()
    table = lake.glue.get_table(DatabaseName=lake.lake.glue_database, Name=lake.lake.raw_table)["Table"]
    for values in (["not-a-date", "00"], ["2026-01-01", "7'"]):
        lake.glue.create_partition(
            DatabaseName=lake.lake.glue_database,
            TableName=lake.lake.raw_table,
            PartitionInput={"Values": values, "StorageDescriptor": table["StorageDescriptor"]},
        )
    result = materialize([raw_orders_cdc], lake)
    (materialization,) = result.asset_materializations_for_node("raw_orders_cdc")
    removed = materialization.metadata["invalid_partitions_removed"].value
    assert set(removed) == {"not-a-date/00", "2026-01-01/7'"}
    assert "a date YYYY-MM-DD" in removed["not-a-date/00"]
    partitions = lake.partitions()
    assert ("not-a-date", "00") not in partitions and ("2026-01-01", "7'") not in partitions


def test_the_sensor_hands_the_new_object_keys_to_partition_repair() -> None:
    objects = [
        RawObject(
            key=f"raw/orders_cdc/dt=2026-06-0{n}/hour=01/o{n}.gz",
            day=f"2026-06-0{n}",
            hour="01",
            identity=f"i{n}",
        )
        for n in (1, 5)  # two blocks of days: a main run and an event-days run
    ]
    plan = plan_object_runs(objects, REFRESH_TARGETS, is_daily_partition=lambda d: True, table_exists=True)
    configs = [r.run_config["ops"]["partition_repair"]["config"] for r in plan.run_requests]
    assert configs[0]["objects"] == sorted(o.key for o in objects)  # the main run repairs every hour
    assert configs[1]["objects"] == [objects[0].key]


def test_a_lambda_row_is_readable_and_each_type_is_checked() -> None:
    row = cdc_row(1, "2026-06-01", "01")
    assert (
        unreadable_reason("k.gz", gzip.compress(json.dumps(row).encode() + b"\n"), expect_gzip=True) is None
    )
    for column, glue_type in COLUMN_TYPES.items():
        wrong: Any = [1] if glue_type == "string" else "x"
        reason = unreadable_reason("k", json.dumps({**row, column: wrong}).encode(), expect_gzip=False)
        assert reason is not None and f"column {column} ({glue_type})" in reason


def test_the_sensor_ignores_objects_in_folders_that_are_no_partition() -> None:
    """An object under dt=2026-02-30 must not reach partition repair, which refuses the whole run."""
    raw = "raw/orders_cdc/"
    assert raw_object_of(f"{raw}dt=2026-02-30/hour=01/x.gz", raw) is None
    assert raw_object_of(f"{raw}dt=2026-02-28/hour=01/x.gz", raw) == ("2026-02-28", "01")
