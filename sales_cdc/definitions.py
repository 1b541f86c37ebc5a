"""The sales-cdc code location: the domains' ``Definitions`` (ingest, catalog, analytics, health) merged with
the deployment's resources and executor; nothing else happens here.

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

# The domains' modules, not their Definitions objects: Dagster refuses a code location module that
# holds more than one Definitions object at module scope.
from sales_cdc.analytics import definitions as analytics
from sales_cdc.catalog import definitions as catalog
from sales_cdc.health import definitions as health
from sales_cdc.ingest import definitions as ingest
from sales_cdc.resources import build_resources
from sales_cdc.settings import deployment_name

DEPLOYMENT = deployment_name()

EXECUTOR_BY_DEPLOYMENT = {"local": dg.in_process_executor, "aws": None}  # None: Dagster's default
SENSOR_STATUS_BY_DEPLOYMENT = {"local": dg.DefaultSensorStatus.RUNNING, "aws": dg.DefaultSensorStatus.STOPPED}

defs = dg.Definitions.merge(
    ingest.ingest_defs,
    catalog.catalog_defs,
    health.health_defs,
    analytics.analytics_defs(SENSOR_STATUS_BY_DEPLOYMENT[DEPLOYMENT]),
    dg.Definitions(resources=build_resources(DEPLOYMENT), executor=EXECUTOR_BY_DEPLOYMENT[DEPLOYMENT]),
)
