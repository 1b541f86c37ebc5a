"""The sales-cdc code location: one ``Definitions``, assembled here and nowhere else.

The deployment (``$SALES_CDC_DEPLOYMENT``: ``local`` by default, or ``aws``) picks the resource
implementations, the executor and whether the raw objects sensor starts on its own; assets, checks,
sensors and schedules are the same in both.

- local: the in-process executor (a run's steps are short queries; one process per step costs more
  than the steps), and the raw objects sensor RUNNING so the laptop pipeline refreshes by itself.
- aws: Dagster's default executor, and the sensor STOPPED until someone turns it on in the UI
  (Automation → raw_objects_sensor): on AWS every refresh runs Athena queries that cost money.

The location loads even when the deployment is not ready (emulator down, stack not provisioned): the
affected resources then fail at use with the settings error (see :func:`build_resources`).
"""

import dagster as dg

from sales_cdc.assets.analytics import ANALYTICS_ASSETS, ANALYTICS_CHECKS
from sales_cdc.assets.catalog import CATALOG_ASSETS
from sales_cdc.assets.ingest import INGEST_ASSETS
from sales_cdc.resources import build_resources
from sales_cdc.schedules import SCHEDULE_JOBS, SCHEDULES
from sales_cdc.sensors import build_sensors, cdc_refresh_job
from sales_cdc.settings import deployment_name

DEPLOYMENT = deployment_name()

EXECUTOR_BY_DEPLOYMENT = {"local": dg.in_process_executor, "aws": None}  # None: Dagster's default
SENSOR_STATUS_BY_DEPLOYMENT = {"local": dg.DefaultSensorStatus.RUNNING, "aws": dg.DefaultSensorStatus.STOPPED}

defs = dg.Definitions(
    assets=[*INGEST_ASSETS, *CATALOG_ASSETS, *ANALYTICS_ASSETS],
    asset_checks=ANALYTICS_CHECKS,
    jobs=[cdc_refresh_job, *SCHEDULE_JOBS],
    sensors=build_sensors(SENSOR_STATUS_BY_DEPLOYMENT[DEPLOYMENT]),
    schedules=SCHEDULES,
    resources=build_resources(DEPLOYMENT),
    executor=EXECUTOR_BY_DEPLOYMENT[DEPLOYMENT],
)
