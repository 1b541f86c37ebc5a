"""The daily report schedule: ``daily_report_schedule`` (00:15 UTC), the previous UTC day's report.

It launches ``daily_report_job`` for that day, which first refreshes what the report reads for the day,
so it does not depend on the raw objects sensor being on. The 15 minutes leave Firehose time to
deliver the day's last buffers. STOPPED by default, locally and on AWS: on AWS every refresh runs
Athena queries that cost money, so it should run because someone turned it on (Automation).
"""

# No `from __future__ import annotations`: Dagster inspects the schedule function's signature at runtime.
from datetime import UTC, datetime, timedelta

import dagster as dg

from sales_cdc.analytics.daily_partitions import DAILY_PARTITIONS
from sales_cdc.analytics.jobs import daily_report_job

DAILY_REPORT_CRON = "15 0 * * *"


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
