"""Jobs of the analytics group: the refresh the raw objects sensor launches, and the daily report.

``cdc_refresh_job`` holds everything a refresh may touch: the crawl (only while the raw table does
not exist), partition repair, the analytics summaries and the daily report (refreshed with the
``sales_daily`` partitions of the order dates that changed, so a report never shows old figures
after new data for its day). It is partitioned like the daily summaries; each sensor run selects the
assets and the day (or range of days) it needs: see :mod:`sales_cdc.analytics.raw_objects_sensor`.

``daily_report_job`` refreshes what the report of one day reads (partition repair of the day,
``orders_current``, the day's ``sales_daily``, ``sales_hourly`` and ``cdc_event_stats`` partitions),
then builds the report. Both are tagged :data:`LAKE_WRITE_TAGS`: they rewrite lake tables.
"""

import dagster as dg

from sales_cdc.analytics.cdc_event_stats import cdc_event_stats
from sales_cdc.analytics.daily_report import daily_report
from sales_cdc.analytics.orders_current import orders_current
from sales_cdc.analytics.refresh_plan import LAKE_WRITE_TAGS, SENSOR_NAME, RefreshTargets
from sales_cdc.analytics.sales import sales_daily, sales_hourly
from sales_cdc.catalog import partition_repair, raw_orders_cdc

REFRESH_JOB_NAME = "cdc_refresh_job"

REFRESH_TARGETS = RefreshTargets(
    job_name=REFRESH_JOB_NAME,
    repair=partition_repair.key,
    bootstrap=[raw_orders_cdc.key],
    current=[orders_current.key],
    event_day=[cdc_event_stats.key],
    order_date=[sales_daily.key, sales_hourly.key, daily_report.key],
    changes_source=orders_current.key,
)

cdc_refresh_job = dg.define_asset_job(
    REFRESH_JOB_NAME,
    selection=dg.AssetSelection.assets(
        raw_orders_cdc,
        partition_repair,
        orders_current,
        cdc_event_stats,
        sales_daily,
        sales_hourly,
        daily_report,
    ),
    run_tags=LAKE_WRITE_TAGS,
    description="Partition repair and refresh of the summaries for new raw objects (launched by "
    f"{SENSOR_NAME}; each run selects the assets and days it needs).",
)

daily_report_job = dg.define_asset_job(
    "daily_report_job",
    selection=dg.AssetSelection.assets(
        partition_repair, orders_current, sales_daily, sales_hourly, cdc_event_stats, daily_report
    ),
    run_tags=LAKE_WRITE_TAGS,
    description="The daily report of one day, after refreshing the partitions of that day it reads.",
)
