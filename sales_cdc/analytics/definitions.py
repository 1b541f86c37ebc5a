"""The analytics group's definitions: summaries and their checks, the refresh and report jobs, the raw
objects sensor that launches refreshes, the daily report schedule and the Iceberg maintenance job and
schedule.

The sensor's default status is the deployment's choice (on locally, off on AWS), so the group's
definitions are built by a function that takes it.
"""

import dagster as dg

from sales_cdc.analytics import ANALYTICS_ASSETS, ANALYTICS_CHECKS
from sales_cdc.analytics.daily_partitions import DAILY_PARTITIONS
from sales_cdc.analytics.jobs import REFRESH_TARGETS, cdc_refresh_job, daily_report_job
from sales_cdc.analytics.maintenance import lake_maintenance_job, lake_maintenance_schedule
from sales_cdc.analytics.raw_objects_sensor import build_raw_objects_sensor
from sales_cdc.analytics.schedules import daily_report_schedule


def build_sensors(default_status: dg.DefaultSensorStatus) -> list[dg.SensorDefinition]:
    """The sensors of the group, with the default status the deployment calls for."""
    return [
        build_raw_objects_sensor(
            job=cdc_refresh_job,
            targets=REFRESH_TARGETS,
            is_daily_partition=DAILY_PARTITIONS.has_partition_key,
            default_status=default_status,
        )
    ]


def analytics_defs(sensor_status: dg.DefaultSensorStatus) -> dg.Definitions:
    """The group's definitions, the raw objects sensor starting as ``sensor_status`` says."""
    return dg.Definitions(
        assets=ANALYTICS_ASSETS,
        asset_checks=ANALYTICS_CHECKS,
        jobs=[cdc_refresh_job, daily_report_job, lake_maintenance_job],
        sensors=build_sensors(sensor_status),
        schedules=[daily_report_schedule, lake_maintenance_schedule],
    )
