"""The health group: the pipeline's CloudWatch alarms and the arrival of raw data, as asset checks on the
raw CDC table and a sensor that reports alarms going off (``checks.py``, ``sensors.py``), and the lake's
identity, so Dagster never shows history over a lost or reset lake without saying so
(``lake_reset.py``, ``lake_checks.py``, ``lake_sensor.py``; the marker itself is
:mod:`sales_cdc.lake_identity`, which every lake-writing asset records).
"""
