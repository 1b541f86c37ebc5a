"""The schedules: the hourly crawl, and the daily report of the previous UTC day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import dagster as dg
import pytest

import sales_cdc.definitions
from sales_cdc.analytics.schedules import daily_report_schedule, report_day
from sales_cdc.catalog.schedules import raw_cdc_crawl_schedule


def evaluate(schedule: dg.ScheduleDefinition, at: datetime) -> dg.ScheduleExecutionData:
    context = dg.build_schedule_context(
        scheduled_execution_time=at, repository_def=sales_cdc.definitions.defs.get_repository_def()
    )
    return schedule.evaluate_tick(context)


def test_daily_report_reports_the_previous_utc_day():
    data = evaluate(daily_report_schedule, datetime(2026, 3, 2, 0, 15, tzinfo=UTC))
    (request,) = data.run_requests
    assert request.partition_key == "2026-03-01"
    assert request.run_key == "daily_report:2026-03-01"
    assert daily_report_schedule.cron_schedule == "15 0 * * *"
    assert daily_report_schedule.execution_timezone == "UTC"


def test_daily_report_runs_the_refresh_of_that_day_before_the_report():
    job = sales_cdc.definitions.defs.resolve_job_def(daily_report_schedule.job_name)
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert keys == {
        "partition_repair",
        "orders_current",
        "sales_daily",
        "sales_hourly",
        "cdc_event_stats",
        "daily_report",
    }
    # The requested day is a partition of the job: the run can be launched.
    assert job.partitions_def.has_partition_key(report_day(datetime(2026, 3, 2, 0, 15, tzinfo=UTC)))


def test_daily_report_skips_a_day_before_the_partitions_start():
    data = evaluate(daily_report_schedule, datetime(2025, 6, 2, 0, 15, tzinfo=UTC))
    assert not data.run_requests
    assert "not a daily partition" in data.skip_message


@pytest.mark.parametrize(
    ("at", "day"),
    [
        (datetime(2026, 1, 1, 0, 15, tzinfo=UTC), "2025-12-31"),  # across a year
        (datetime(2026, 3, 1, 0, 15, tzinfo=UTC), "2026-02-28"),  # across a short month
        # 01:15 at UTC+2 is 23:15 UTC the day before: the UTC day decides.
        (datetime(2026, 3, 1, 1, 15, tzinfo=timezone(timedelta(hours=2))), "2026-02-27"),
    ],
)
def test_report_day_is_the_utc_day_before(at, day):
    assert report_day(at) == day


def test_crawl_schedule_is_hourly_and_runs_the_crawl():
    assert raw_cdc_crawl_schedule.cron_schedule == "0 * * * *"
    assert raw_cdc_crawl_schedule.job_name == "raw_cdc_crawl_job"
    (request,) = evaluate(raw_cdc_crawl_schedule, datetime(2026, 3, 2, 5, 0, tzinfo=UTC)).run_requests
    assert request.partition_key is None
    job = sales_cdc.definitions.defs.resolve_job_def("raw_cdc_crawl_job")
    assert {key.to_user_string() for key in job.asset_layer.executable_asset_keys} == {"raw_orders_cdc"}


def test_schedules_are_off_until_turned_on():
    assert raw_cdc_crawl_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert daily_report_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
