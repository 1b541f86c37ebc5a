"""The health group's definitions: the raw table's health checks, their job and the alarms sensor."""

import dagster as dg

from sales_cdc.health.checks import HEALTH_CHECKS
from sales_cdc.health.jobs import pipeline_health_job
from sales_cdc.health.sensors import pipeline_alarms_sensor

health_defs = dg.Definitions(
    asset_checks=HEALTH_CHECKS, jobs=[pipeline_health_job], sensors=[pipeline_alarms_sensor]
)
