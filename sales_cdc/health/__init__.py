"""The health group: the pipeline's CloudWatch alarms and the arrival of raw data, as asset checks on the
raw CDC table and a sensor that reports alarms going off. The same code reads the emulator's CloudWatch
locally and CloudWatch on AWS."""

from sales_cdc.health.checks import HEALTH_CHECKS, pipeline_alarms_ok, raw_objects_fresh

__all__ = ["HEALTH_CHECKS", "pipeline_alarms_ok", "raw_objects_fresh"]
