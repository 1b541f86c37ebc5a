"""The raw objects sensor against the emulator: S3 puts → ObjectCreated notifications → SQS → ticks.

Every test drives ticks the way the daemon does: the cursor a tick returns is the cursor of the next
tick (unless the test simulates a crash before Dagster stored it). "No object missed, none twice":
every object put is covered by exactly one requested run scope, and a repeated request has the same
run key (which Dagster dedupes).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import pytest

from sales_cdc.analytics import ANALYTICS_ASSETS
from sales_cdc.analytics.definitions import build_sensors
from sales_cdc.analytics.jobs import REFRESH_TARGETS, cdc_refresh_job
from sales_cdc.analytics.object_created_queue import delete_messages
from sales_cdc.analytics.raw_objects_sensor import SensorCursor, build_raw_objects_sensor
from sales_cdc.analytics.refresh_plan import (
    LAKE_WRITE_TAGS,
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    SENSOR_NAME,
)
from sales_cdc.catalog import CATALOG_ASSETS

from .conftest import Lake

# Fixed days (not "today"): the test sensor's daily partitions start 2026-01-01, so every day used
# here is a partition whatever the date the tests run on.
BASE_DAY = date(2026, 6, 30)


def day(offset: int) -> str:
    """A day before BASE_DAY; tests use distinct days so they never see each other's data."""
    return (BASE_DAY - timedelta(days=offset)).isoformat()


# The sensor as the code location builds it, with a short receive wait (the queue is local) and the
# daily partitions starting 2026-01-01 (the analytics default) whatever the environment says.
SENSOR = build_raw_objects_sensor(
    job=cdc_refresh_job,
    targets=REFRESH_TARGETS,
    is_daily_partition=lambda d: date.fromisoformat(d) >= date(2026, 1, 1),
    receive_wait_seconds=0,
)


@pytest.fixture(scope="module")
def definitions(module_lake) -> dg.Definitions:
    """The code location's assets and job: Dagster checks each request's selection against them."""
    return dg.Definitions(
        assets=[*CATALOG_ASSETS, *ANALYTICS_ASSETS],
        jobs=[cdc_refresh_job],
        sensors=[SENSOR],
        resources=module_lake.resources,
    )


@dataclass
class Harness:
    """Ticks of the sensor with the cursor the daemon would store, against the module's lake."""

    lake: Lake
    definitions: dg.Definitions
    instance: dg.DagsterInstance
    cursor: str | None = None

    def tick(self, *, commit: bool = True) -> dg.SensorResult:
        with dg.build_sensor_context(
            cursor=self.cursor,
            resources={key: self.lake.resources[key] for key in ("sqs", "glue", "lake")},
            instance=self.instance,
            sensor_name=SENSOR_NAME,
            definitions=self.definitions,
        ) as context:
            data = SENSOR.evaluate_tick(context)
        if commit:  # Dagster stores the cursor together with the tick's run requests
            self.cursor = data.cursor
        return data


@pytest.fixture
def harness(lake, definitions) -> Iterator[Harness]:
    harness = Harness(lake=lake, definitions=definitions, instance=dg.DagsterInstance.ephemeral())
    yield harness
    # Leave no received-but-undeleted message behind for the next test.
    delete_messages(lake.sqs, lake.queue_url, SensorCursor.from_json(harness.cursor)[0].delete)


def assert_launchable(definitions: dg.Definitions, requests: list[dg.RunRequest]) -> None:
    """Each request's asset selection and run config are valid for the refresh job."""
    job = definitions.resolve_job_def("cdc_refresh_job")
    for request in requests:
        subset = job.get_subset(asset_selection=set(request.asset_selection))
        dg.validate_run_config(subset, request.run_config)


def repaired_hours(request: dg.RunRequest) -> list[str]:
    return request.run_config["ops"]["partition_repair"]["config"]["hours"]


def keys(request: dg.RunRequest) -> set[str]:
    return {key.to_user_string() for key in request.asset_selection}


def test_same_second_arrivals_are_all_requested_once(lake, harness):
    """Objects written in the same second (a listing cursor's blind spot) all trigger, once."""
    lake.create_raw_table()
    d = day(40)
    written = [lake.put_raw(d, "07", f"burst-{i}.gz") for i in range(6)] + [lake.put_raw(d, "08", "next.gz")]

    first = harness.tick()
    assert len(first.run_requests) == 1
    main = first.run_requests[0]
    assert main.job_name == "cdc_refresh_job"
    assert main.partition_key == d
    assert repaired_hours(main) == [f"{d}/07", f"{d}/08"]
    assert keys(main) == {"partition_repair", "orders_current", "cdc_event_stats"}
    assert main.tags["sales_cdc/new_objects"] == str(len(written))
    assert all(main.tags[k] == v for k, v in LAKE_WRITE_TAGS.items())
    assert len(json.loads(harness.cursor)["delete"]) == len(written)

    second = harness.tick()  # commits the first tick: its messages are deleted
    assert not second.run_requests
    assert lake.queue_depth() == 0


def test_overwritten_key_triggers_again_and_deleted_key_does_not(lake, harness):
    """An overwrite is a new object version (new run key); a deletion announces nothing."""
    lake.create_raw_table()
    d = day(41)
    lake.put_raw(d, "03", "cursor-key.gz", b"first version")
    first = harness.tick().run_requests
    lake.put_raw(d, "03", "cursor-key.gz", b"second version, other ETag")
    second = harness.tick().run_requests
    assert len(first) == len(second) == 1
    assert first[0].run_key != second[0].run_key
    assert repaired_hours(second[0]) == [f"{d}/03"]

    lake.s3.delete_object(Bucket=lake.lake.bucket, Key=f"{lake.lake.raw_prefix}dt={d}/hour=03/cursor-key.gz")
    third = harness.tick()
    assert not third.run_requests
    assert lake.queue_depth() == 0  # the second version's message was deleted by this tick


def test_late_object_in_an_old_day_gets_a_run_for_that_day(lake, harness):
    """A late object 20 days back gets its own event-day run; today's data the main run."""
    lake.create_raw_table()
    recent, late = day(2), day(22)
    lake.put_raw(recent, "10", "a.gz")
    lake.put_raw(recent, "11", "b.gz")
    lake.put_raw(late, "23", "late.gz")

    requests = harness.tick().run_requests
    by_reason = {r.tags["sales_cdc/reason"]: r for r in requests}
    assert set(by_reason) == {"new-objects", "event-days"}
    main, old = by_reason["new-objects"], by_reason["event-days"]
    assert main.partition_key == recent
    assert set(repaired_hours(main)) == {f"{recent}/10", f"{recent}/11", f"{late}/23"}
    assert old.partition_key == late
    assert repaired_hours(old) == [f"{late}/23"]
    assert keys(old) == {"partition_repair", "cdc_event_stats"}  # no rebuild of orders_current twice
    assert len({r.run_key for r in requests}) == 2
    assert_launchable(harness.definitions, requests)


def test_consecutive_event_days_are_one_range_run(lake, harness):
    lake.create_raw_table()
    days = [day(52), day(51), day(50), day(45)]
    for d in days:
        lake.put_raw(d, "00", "x.gz")
    requests = harness.tick().run_requests
    main = next(r for r in requests if r.tags["sales_cdc/reason"] == "new-objects")
    block = next(r for r in requests if r.tags["sales_cdc/reason"] == "event-days")
    assert main.partition_key == day(45)
    assert block.partition_key is None
    assert (block.tags[PARTITION_RANGE_START_TAG], block.tags[PARTITION_RANGE_END_TAG]) == (day(52), day(50))


def test_restart_with_the_stored_cursor_loses_nothing_and_repeats_nothing(lake, harness):
    lake.create_raw_table()
    d = day(42)
    lake.put_raw(d, "01", "before-restart.gz")
    before = harness.tick().run_requests
    assert len(before) == 1

    # A new daemon process: new resources and context, only the stored cursor survives.
    restarted = Harness(
        lake=lake, definitions=harness.definitions, instance=harness.instance, cursor=harness.cursor
    )
    assert not restarted.tick().run_requests
    assert lake.queue_depth() == 0
    lake.put_raw(d, "02", "after-restart.gz")
    after = restarted.tick().run_requests
    assert [repaired_hours(r) for r in after] == [[f"{d}/02"]]
    assert not restarted.tick().run_requests
    assert lake.queue_depth() == 0


def test_a_tick_that_crashed_before_commit_is_requested_again_with_the_same_run_keys(lake, harness):
    lake.create_raw_table()
    d = day(43)
    for i in range(3):
        lake.put_raw(d, "05", f"o{i}.gz")
    lost = harness.tick(commit=False)  # the daemon died before storing this cursor
    # The visibility timeout passes: the messages become visible again.
    for handle in json.loads(lost.cursor)["delete"]:
        lake.sqs.change_message_visibility(QueueUrl=lake.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    again = harness.tick()
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in lost.run_requests]
    assert not harness.tick().run_requests
    assert lake.queue_depth() == 0


def test_a_message_delivered_again_after_commit_is_only_deleted(lake, harness):
    lake.create_raw_table()
    lake.put_raw(day(44), "09", "once.gz")
    (body,) = peek_bodies(lake)
    assert len(harness.tick().run_requests) == 1
    # SQS is at-least-once: the same notification arrives a second time.
    lake.sqs.send_message(QueueUrl=lake.queue_url, MessageBody=body)
    duplicate = harness.tick()
    assert not duplicate.run_requests
    assert "1 redelivered" in duplicate.skip_message
    assert not harness.tick().run_requests
    assert lake.queue_depth() == 0


def test_test_events_removals_foreign_keys_and_malformed_messages_never_fail_a_tick(lake, harness):
    lake.create_raw_table()
    raw = lake.lake.raw_prefix
    bodies = [
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": lake.lake.bucket}),
        "this is not json",
        json.dumps(["a", "list"]),
        json.dumps(
            {
                "Records": [
                    {
                        "eventName": "ObjectRemoved:Delete",
                        **_s3(lake.lake.bucket, f"{raw}dt={day(45)}/hour=01/x.gz"),
                    }
                ]
            }
        ),
        json.dumps(
            {
                "Records": [
                    {"eventName": "ObjectCreated:Put", **_s3(lake.lake.bucket, f"{raw}not-a-partition.gz")}
                ]
            }
        ),
        json.dumps(
            {
                "Records": [
                    {
                        "eventName": "ObjectCreated:Put",
                        **_s3("other-bucket", f"{raw}dt={day(45)}/hour=01/x.gz"),
                    }
                ]
            }
        ),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}),
    ]
    for body in bodies:
        lake.sqs.send_message(QueueUrl=lake.queue_url, MessageBody=body)
    result = harness.tick()
    assert not result.run_requests
    assert "2 malformed" in result.skip_message
    assert not harness.tick().run_requests
    assert lake.queue_depth() == 0


def test_url_encoded_keys_are_decoded(lake, harness):
    lake.create_raw_table()
    d = day(46)
    lake.put_raw(d, "12", "name with spaces+plus.gz")
    (request,) = harness.tick().run_requests
    assert repaired_hours(request) == [f"{d}/12"]


def test_first_data_runs_the_crawl_and_refreshes_event_days_once_the_table_exists(lake, harness):
    d1, d2 = day(61), day(60)
    lake.put_raw(d1, "22", "first.gz")
    lake.put_raw(d2, "01", "second.gz")
    (bootstrap,) = harness.tick().run_requests
    assert keys(bootstrap) == {"raw_orders_cdc", "partition_repair", "orders_current"}
    assert bootstrap.partition_key is None
    assert SensorCursor.from_json(harness.cursor)[0].pending_hours == [f"{d1}/22", f"{d2}/01"]
    assert_launchable(harness.definitions, [bootstrap])

    # The bootstrap run ended without creating the table (its crawl failed): it is requested once more.
    (retry,) = harness.tick().run_requests
    assert keys(retry) == keys(bootstrap) and retry.run_key != bootstrap.run_key
    assert not harness.tick().run_requests  # only once

    lake.create_raw_table()  # what the (retried) crawl does
    (events,) = harness.tick().run_requests
    # The crawl registered the partitions: no second repair (it would mark orders_current unsynced).
    assert keys(events) == {"cdc_event_stats"}
    assert (events.tags[PARTITION_RANGE_START_TAG], events.tags[PARTITION_RANGE_END_TAG]) == (d1, d2)
    assert events.run_config == {}
    assert_launchable(harness.definitions, [events])
    assert SensorCursor.from_json(harness.cursor)[0].pending_hours == []
    assert not harness.tick().run_requests


def test_after_a_refresh_no_run_is_requested_for_zero_new_objects(lake, harness):
    """The whole first refresh, tick by tick: each run covers new work, then the sensor goes quiet."""
    d = day(90)
    lake.put_raw(d, "10", "first.gz")
    (bootstrap,) = harness.tick().run_requests
    # What the bootstrap run does: the crawl creates the table, orders_current reports its order
    # dates, and the refresh writes derived tables and a report into the same bucket.
    lake.create_raw_table()
    harness.instance.report_runless_asset_event(
        dg.AssetMaterialization("orders_current", metadata={"changed_order_dates": [d]})
    )
    lake.s3.put_object(
        Bucket=lake.lake.bucket, Key=f"{lake.lake.derived_prefix}reports/dt={d}/report.png", Body=b""
    )

    requested = []
    for _ in range(5):
        requested += harness.tick().run_requests
    # The event day's statistics first, then the order date's summaries and report; nothing else.
    assert [keys(r) for r in requested] == [
        {"cdc_event_stats"},
        {"sales_daily", "sales_hourly", "daily_report"},
    ]
    assert all("partition_repair" not in keys(r) for r in requested)
    assert all(r.partition_key == d for r in requested)
    assert lake.queue_depth() == 0  # nothing left unacknowledged


def test_nothing_is_requested_while_a_lake_writing_run_is_in_flight(lake, harness):
    lake.create_raw_table()
    run = dg.DagsterRun(
        job_name="cdc_refresh_job",
        run_id=str(uuid.uuid4()),
        tags=LAKE_WRITE_TAGS,
        status=dg.DagsterRunStatus.STARTED,
    )
    harness.instance.add_run(run)
    lake.put_raw(day(47), "04", "waits.gz")
    waiting = harness.tick()
    assert not waiting.run_requests
    assert "waiting for 1 lake-writing run" in waiting.skip_message
    assert lake.queue_depth() == 1  # not even received: it waits in the queue

    harness.instance.report_run_failed(run)  # the run ends (how does not matter)
    (request,) = harness.tick().run_requests
    assert repaired_hours(request) == [f"{day(47)}/04"]


def test_changed_order_dates_of_orders_current_become_order_date_runs_first(lake, harness):
    lake.create_raw_table()
    changed = [day(72), day(71), day(65)]
    harness.instance.report_runless_asset_event(
        dg.AssetMaterialization("orders_current", metadata={"changed_order_dates": changed})
    )
    lake.put_raw(day(48), "06", "meanwhile.gz")
    order_dates = harness.tick().run_requests
    # The report of each changed day is refreshed with its summaries (it would keep old figures).
    assert all(keys(r) == {"sales_daily", "sales_hourly", "daily_report"} for r in order_dates)
    blocks = sorted(
        (
            r.tags.get(PARTITION_RANGE_START_TAG, r.partition_key),
            r.tags.get(PARTITION_RANGE_END_TAG, r.partition_key),
        )
        for r in order_dates
    )
    # One run per day: a report is one day's figures, and a range run would stamp one day's on all.
    assert blocks == sorted((d, d) for d in changed)
    assert_launchable(harness.definitions, order_dates)

    objects = harness.tick().run_requests  # the materialization is done with: now the new object
    assert [repaired_hours(r) for r in objects] == [[f"{day(48)}/06"]]


def test_the_code_location_sensor_is_this_sensor():
    (local,) = build_sensors(dg.DefaultSensorStatus.RUNNING)
    (aws,) = build_sensors(dg.DefaultSensorStatus.STOPPED)
    assert local.name == aws.name == SENSOR_NAME
    assert local.default_status == dg.DefaultSensorStatus.RUNNING
    assert aws.default_status == dg.DefaultSensorStatus.STOPPED
    assert 5 <= local.minimum_interval_seconds <= 10
    assert local.job_name == "cdc_refresh_job"


# ---------------------------------------------------------------------------------------- helpers


def _s3(bucket: str, key: str) -> dict:
    return {"s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": "e"}}, "eventTime": "t"}


def peek_bodies(lake) -> list[str]:
    """The bodies of the queued messages, left visible (as S3 sent them)."""
    response = lake.sqs.receive_message(QueueUrl=lake.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [message["Body"] for message in response.get("Messages", [])]
