-- sales_hourly for some order dates: the intraday trend, per UTC hour the orders were created in,
-- with the same counting rules as sales_daily (its hours add up to the day's sales_daily totals).
-- Reads those orders_current partitions; refreshing today's partition is the near-real-time update.
SELECT
    hour(coalesce(created_at, last_event_time)) AS order_hour,
    count(*) AS orders_created,
    CAST(count_if(status IN ('PLACED', 'PAID', 'SHIPPED', 'DELIVERED')) AS BIGINT) AS orders,
    CAST(coalesce(sum(CASE WHEN status IN ('PLACED', 'PAID', 'SHIPPED', 'DELIVERED') THEN quantity END), 0)
        AS BIGINT) AS units,
    CAST(coalesce(sum(CASE WHEN status IN ('PLACED', 'PAID', 'SHIPPED', 'DELIVERED')
        THEN quantity * unit_price END), 0) AS DECIMAL(18, 2)) AS revenue,
    CAST(count_if(status IN ('CANCELLED', 'RETURNED')) AS BIGINT) AS cancelled_or_returned_orders,
    order_date
FROM {database}.{source_table}
WHERE order_date IN ({days})
GROUP BY order_date, hour(coalesce(created_at, last_event_time))
