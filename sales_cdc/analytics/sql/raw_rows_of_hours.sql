-- The columns of the raw CDC rows of some partitions (dt/hour pairs written 'YYYY-MM-DD/HH'): the
-- partitions that received objects since the last refresh. Only those partitions are read.
SELECT
    event_id, event_name, sequence_number, event_time, arrival_time, "hour", order_id, customer_id,
    customer_name, product_id, product_name, category, quantity, unit_price, status, created_at, updated_at
FROM {database}.{raw_table}
WHERE dt IN ({days}) AND concat(dt, '/', "hour") IN ({hours})
