-- sales_daily for some order dates: orders created those days (UTC), in their current state, from the
-- orders_current partitions of those dates (orders_current is partitioned by order_date, so this
-- reads only those partitions).
--
-- Revenue recognition follows orders_current: an order counts towards orders, units and revenue
-- while its current status is PLACED, PAID, SHIPPED or DELIVERED. CANCELLED and RETURNED orders are
-- counted in their own columns and contribute no revenue; deleted orders are not in orders_current
-- at all. A later cancellation or return therefore moves the order out of the revenue of its
-- creation day when that day is refreshed. Money is exact: DECIMAL throughout.
SELECT
    category,
    product_id,
    product_name,
    CAST(count_if(status IN ('PLACED', 'PAID', 'SHIPPED', 'DELIVERED')) AS BIGINT) AS orders,
    CAST(coalesce(sum(CASE WHEN status IN ('PLACED', 'PAID', 'SHIPPED', 'DELIVERED') THEN quantity END), 0)
        AS BIGINT) AS units,
    CAST(coalesce(sum(CASE WHEN status IN ('PLACED', 'PAID', 'SHIPPED', 'DELIVERED')
        THEN quantity * unit_price END), 0) AS DECIMAL(18, 2)) AS revenue,
    CAST(count_if(status = 'CANCELLED') AS BIGINT) AS cancelled_orders,
    CAST(count_if(status = 'RETURNED') AS BIGINT) AS returned_orders,
    order_date
FROM {database}.{source_table}
WHERE order_date IN ({days})
GROUP BY order_date, category, product_id, product_name
