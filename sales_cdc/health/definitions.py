"""The health group's definitions: the raw table's health checks, their job and the alarms sensor; the
lake identity checks of every lake-writing asset and the sensor that notices a lost or reset lake."""

import dagster as dg

from sales_cdc.health.checks import HEALTH_CHECKS
from sales_cdc.health.jobs import pipeline_health_job
from sales_cdc.health.lake_checks import LAKE_CHECKS
from sales_cdc.health.lake_sensor import lake_identity_sensor
from sales_cdc.health.sensors import pipeline_alarms_sensor

health_defs = dg.Definitions(
    asset_checks=[*HEALTH_CHECKS, *LAKE_CHECKS],
    jobs=[pipeline_health_job],
    sensors=[pipeline_alarms_sensor, lake_identity_sensor],
)
