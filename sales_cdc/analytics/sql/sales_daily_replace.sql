-- Replace some order dates of sales_daily (at most 100: Athena's partition limit per statement)
-- with their fresh figures (the query: sales_daily.sql for the same dates) in one MERGE, one Iceberg
-- commit: a reader sees the old figures of a day or the new ones, never none or both. One marker
-- row per date matches every stored row of that date (deleted); fresh rows match nothing
-- (inserted). Two refreshes of a day leave one copy.
MERGE INTO {database}.{table} AS target
USING (
    SELECT
        false AS is_marker, category, product_id, product_name, orders, units, revenue,
        cancelled_orders, returned_orders, order_date
    FROM ({query}) AS fresh
    UNION ALL
    SELECT
        true AS is_marker, CAST(NULL AS varchar), CAST(NULL AS varchar), CAST(NULL AS varchar),
        CAST(NULL AS bigint), CAST(NULL AS bigint), CAST(NULL AS decimal(18, 2)), CAST(NULL AS bigint),
        CAST(NULL AS bigint), marker.order_date
    FROM UNNEST(ARRAY[{days}]) AS marker (order_date)
) AS fresh_day
ON fresh_day.is_marker AND target.order_date = fresh_day.order_date
WHEN MATCHED THEN DELETE
WHEN NOT MATCHED AND NOT fresh_day.is_marker
    THEN INSERT (
        category, product_id, product_name, orders, units, revenue, cancelled_orders, returned_orders,
        order_date
    ) VALUES (
        fresh_day.category, fresh_day.product_id, fresh_day.product_name, fresh_day.orders,
        fresh_day.units, fresh_day.revenue, fresh_day.cancelled_orders, fresh_day.returned_orders,
        fresh_day.order_date
    )
