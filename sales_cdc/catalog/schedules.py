"""The periodic crawl: ``raw_cdc_crawl_schedule`` (hourly, minute 0, UTC).

It crawls the raw prefix so the table follows the data's schema (new columns) and registers any
partition the raw objects sensor did not see. STOPPED by default, locally and on AWS; turn it on in
the UI (Automation). Why: the sensor already keeps the catalog current (it crawls when the raw table
is missing and repairs partitions as objects arrive), and on AWS every crawl costs money: a schedule
should run because someone decided it should.
"""

import dagster as dg

from sales_cdc.catalog.jobs import raw_cdc_crawl_job

CRAWL_CRON = "0 * * * *"

raw_cdc_crawl_schedule = dg.ScheduleDefinition(
    name="raw_cdc_crawl_schedule",
    job=raw_cdc_crawl_job,
    cron_schedule=CRAWL_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Hourly crawl of the raw CDC prefix (schema changes, partitions the sensor did not see).",
)
