-- Replace some order dates of sales_hourly (at most 100 per statement) with their fresh figures
-- (the query: sales_hourly.sql for the same dates) in one MERGE, one Iceberg commit; see
-- sales_daily_replace.sql for how the marker rows work.
MERGE INTO {database}.{table} AS target
USING (
    SELECT
        false AS is_marker, order_hour, orders_created, orders, units, revenue,
        cancelled_or_returned_orders, order_date
    FROM ({query}) AS fresh
    UNION ALL
    SELECT
        true AS is_marker, CAST(NULL AS bigint), CAST(NULL AS bigint), CAST(NULL AS bigint),
        CAST(NULL AS bigint), CAST(NULL AS decimal(18, 2)), CAST(NULL AS bigint), marker.order_date
    FROM UNNEST(ARRAY[{days}]) AS marker (order_date)
) AS fresh_day
ON fresh_day.is_marker AND target.order_date = fresh_day.order_date
WHEN MATCHED THEN DELETE
WHEN NOT MATCHED AND NOT fresh_day.is_marker
    THEN INSERT (order_hour, orders_created, orders, units, revenue, cancelled_or_returned_orders, order_date)
    VALUES (
        fresh_day.order_hour, fresh_day.orders_created, fresh_day.orders, fresh_day.units,
        fresh_day.revenue, fresh_day.cancelled_or_returned_orders, fresh_day.order_date
    )
