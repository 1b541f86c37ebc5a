"""The ``analytics`` asset group: summary tables of the CDC data, their checks, and the daily report.

Graph: ``partition_repair`` (catalog) -> ``orders_current`` -> ``sales_daily``, ``sales_hourly`` ->
``daily_report``; ``partition_repair`` -> ``cdc_event_stats`` -> ``daily_report``.

- ``orders_current`` (Iceberg, partitioned by order date, not a Dagster-partitioned asset): current
  state of every order, merged from the raw partitions that received new objects; its metadata
  ``changed_order_dates`` lists the order dates whose sales changed.
- ``sales_daily``, ``sales_hourly`` (Iceberg; daily, day = order date): one ``orders_current``
  partition each, a day replaced in one commit.
- ``cdc_event_stats`` (daily, day = event day = raw ``dt``): one raw partition each.
- ``daily_report`` (daily, day = order date): figures, top products and a chart of one day.

Also here: the asset checks (``checks.py``), the jobs (``jobs.py``), the raw objects sensor that
launches refreshes (``raw_objects_sensor.py``, planning in ``refresh_plan.py``, the SQS queue in
``object_created_queue.py``), the daily report schedule (``schedules.py``), the Iceberg maintenance
job (``maintenance.py``) and the group's ``definitions.py``. The SQL is in
``sales_cdc/analytics/sql/``; the resources used are ``query_engine``, ``lake``, ``s3``, ``sqs``,
``glue`` and (reconciliation) ``dynamodb``.
"""

from __future__ import annotations

from sales_cdc.analytics.cdc_event_stats import cdc_event_stats
from sales_cdc.analytics.checks import ANALYTICS_CHECKS
from sales_cdc.analytics.daily_partitions import DAILY_PARTITIONS
from sales_cdc.analytics.daily_report import daily_report
from sales_cdc.analytics.orders_current import orders_current
from sales_cdc.analytics.sales import sales_daily, sales_hourly

ANALYTICS_ASSETS = [orders_current, sales_daily, sales_hourly, cdc_event_stats, daily_report]

__all__ = [
    "ANALYTICS_ASSETS",
    "ANALYTICS_CHECKS",
    "DAILY_PARTITIONS",
    "cdc_event_stats",
    "daily_report",
    "orders_current",
    "sales_daily",
    "sales_hourly",
]
