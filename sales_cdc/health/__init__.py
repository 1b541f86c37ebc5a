"""The health group: the pipeline's CloudWatch alarms and the arrival of raw data, as asset checks on the
raw CDC table and a sensor that reports alarms going off (``checks.py``, ``sensors.py``), and the lake's
identity, so Dagster never shows history over a lost or reset lake without saying so
(``lake_identity.py``, ``lake_reset.py``, ``lake_checks.py``, ``lake_sensor.py``).

Nothing is imported here: the analytics and catalog assets import ``lake_identity`` and ``missing_tables``,
and the health checks import the analytics checks, so an eager import would be circular.
"""
