"""Schedules: the periodic crawl, and the daily report of the previous day.

Both are STOPPED by default, locally and on AWS; turn them on in the UI (Automation). Why: the raw
objects sensor already keeps the catalog and the summaries current (it crawls when the raw table is
missing and repairs partitions as objects arrive), so on a laptop the schedules add nothing a demo
needs, and on AWS every crawl and every Athena refresh costs money: a schedule should run because
someone decided it should.

- ``raw_cdc_crawl_schedule`` (hourly, minute 0, UTC): crawls the raw prefix so the table follows the
  data's schema (new columns) and registers any partition the sensor did not see.
- ``daily_report_schedule`` (00:15 UTC): the previous UTC day's report, after refreshing what it reads
  for that day: partition repair of the day, ``orders_current``, the day's ``sales_daily``,
  ``sales_hourly`` and ``cdc_event_stats`` partitions. It does not depend on the sensor being on.
  The 15 minutes leave Firehose time to deliver the day's last buffers.
"""

# No `from __future__ import annotations`: Dagster inspects the schedule function's signature at runtime.
from datetime import UTC, datetime, timedelta

import dagster as dg

from sales_cdc.assets.analytics import (
    DAILY_PARTITIONS,
    cdc_event_stats,
    daily_report,
    orders_current,
    sales_daily,
    sales_hourly,
)
from sales_cdc.assets.catalog import partition_repair, raw_orders_cdc
from sales_cdc.sensors.raw_objects import LAKE_WRITE_TAGS

CRAWL_CRON = "0 * * * *"
DAILY_REPORT_CRON = "15 0 * * *"

raw_cdc_crawl_job = dg.define_asset_job(
    "raw_cdc_crawl_job",
    selection=dg.AssetSelection.assets(raw_orders_cdc),
    description="One crawl of the raw CDC prefix: table schema, new columns, partitions.",
)

daily_report_job = dg.define_asset_job(
    "daily_report_job",
    selection=dg.AssetSelection.assets(
        partition_repair, orders_current, sales_daily, sales_hourly, cdc_event_stats, daily_report
    ),
    run_tags=LAKE_WRITE_TAGS,
    description="The daily report of one day, after refreshing the partitions of that day it reads.",
)

raw_cdc_crawl_schedule = dg.ScheduleDefinition(
    name="raw_cdc_crawl_schedule",
    job=raw_cdc_crawl_job,
    cron_schedule=CRAWL_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Hourly crawl of the raw CDC prefix (schema changes, partitions the sensor did not see).",
)


def report_day(scheduled: datetime | None) -> str:
    """The day a tick reports on: the UTC day before the scheduled time (now when not given)."""
    moment = (scheduled or datetime.now(UTC)).astimezone(UTC)
    return (moment.date() - timedelta(days=1)).isoformat()


@dg.schedule(
    name="daily_report_schedule",
    job=daily_report_job,
    cron_schedule=DAILY_REPORT_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="At 00:15 UTC: the previous day's report (and the refresh of that day's partitions).",
)
def daily_report_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Request the report of the day before the scheduled time."""
    day = report_day(context.scheduled_execution_time)
    if not DAILY_PARTITIONS.has_partition_key(day):
        return dg.SkipReason(
            f"{day} is not a daily partition (they start {DAILY_PARTITIONS.start.date().isoformat()}); "
            "set SALES_CDC_PARTITIONS_START earlier to report on it."
        )
    # The run key makes a re-evaluated tick (daemon restart) launch the report once.
    return dg.RunRequest(run_key=f"daily_report:{day}", partition_key=day)


SCHEDULES = [raw_cdc_crawl_schedule, daily_report_schedule]
SCHEDULE_JOBS = [raw_cdc_crawl_job, daily_report_job]

__all__ = [
    "SCHEDULES",
    "SCHEDULE_JOBS",
    "daily_report_job",
    "daily_report_schedule",
    "raw_cdc_crawl_job",
    "raw_cdc_crawl_schedule",
    "report_day",
]
