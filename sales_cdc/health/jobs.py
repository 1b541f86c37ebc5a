"""Jobs of the health group: the health checks of the raw CDC table, without materializing it."""

import dagster as dg

from sales_cdc.health.checks import pipeline_alarms_ok, raw_objects_fresh

pipeline_health_job = dg.define_asset_job(
    "pipeline_health_job",
    selection=dg.AssetSelection.checks(pipeline_alarms_ok, raw_objects_fresh),
    description="Reads the pipeline's alarms and the newest raw object; launched when an alarm goes off.",
)
