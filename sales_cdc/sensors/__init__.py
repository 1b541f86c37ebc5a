"""Sensors, and the refresh job the raw objects sensor launches.

``cdc_refresh_job`` holds everything a refresh may touch: the crawl (only while the raw table does
not exist), partition repair, and the analytics summaries except the daily report (the report has its
own schedule). It is partitioned like the daily summaries; each sensor run selects the assets and the
day (or range of days) it needs: see :mod:`sales_cdc.sensors.raw_objects`.
"""

import dagster as dg

from sales_cdc.assets.analytics import (
    DAILY_PARTITIONS,
    cdc_event_stats,
    orders_current,
    sales_daily,
    sales_hourly,
)
from sales_cdc.assets.catalog import partition_repair, raw_orders_cdc
from sales_cdc.sensors.raw_objects import (
    LAKE_WRITE_TAGS,
    SENSOR_NAME,
    RefreshTargets,
    build_raw_objects_sensor,
)

REFRESH_JOB_NAME = "cdc_refresh_job"

REFRESH_TARGETS = RefreshTargets(
    job_name=REFRESH_JOB_NAME,
    repair=partition_repair.key,
    bootstrap=[raw_orders_cdc.key],
    current=[orders_current.key],
    event_day=[cdc_event_stats.key],
    order_date=[sales_daily.key, sales_hourly.key],
    changes_source=orders_current.key,
)

cdc_refresh_job = dg.define_asset_job(
    REFRESH_JOB_NAME,
    selection=dg.AssetSelection.assets(
        raw_orders_cdc, partition_repair, orders_current, cdc_event_stats, sales_daily, sales_hourly
    ),
    run_tags=LAKE_WRITE_TAGS,
    description="Partition repair and refresh of the summaries for new raw objects (launched by "
    f"{SENSOR_NAME}; each run selects the assets and days it needs).",
)


def build_sensors(default_status: dg.DefaultSensorStatus) -> list[dg.SensorDefinition]:
    """The sensors of the code location, with the default status the deployment calls for."""
    return [
        build_raw_objects_sensor(
            job=cdc_refresh_job,
            targets=REFRESH_TARGETS,
            is_daily_partition=DAILY_PARTITIONS.has_partition_key,
            default_status=default_status,
        )
    ]


__all__ = ["REFRESH_JOB_NAME", "REFRESH_TARGETS", "SENSOR_NAME", "build_sensors", "cdc_refresh_job"]
