-- orders_current, step 4: what the sales summaries of each order date are computed from (status,
-- product, quantity and money per order date and hour). The asset hashes these rows per date and
-- compares them with the previous run's hashes to report which order dates changed, so exactly those
-- sales_daily and sales_hourly partitions need a refresh.
SELECT
    order_date,
    hour(coalesce(created_at, last_event_time)) AS order_hour,
    category,
    product_id,
    product_name,
    status,
    count(*) AS orders,
    sum(quantity) AS units,
    sum(quantity * unit_price) AS order_value
FROM {database}.{table}
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 4, 5, 6
