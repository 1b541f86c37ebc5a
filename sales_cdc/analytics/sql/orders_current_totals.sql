-- Summary figures of the published orders_current, for its materialization metadata.
SELECT
    count(*) AS orders,
    count(DISTINCT order_date) AS order_dates,
    min(order_date) AS first_order_date,
    max(order_date) AS last_order_date,
    max(last_event_time) AS newest_event_time
FROM {database}.{table}
