-- orders_current, step 3: the staged state of some order dates, as partitions of the published
-- table (used as the query of a CTAS for the first batch and of INSERT INTO for the others).
SELECT
    order_id,
    customer_id,
    customer_name,
    product_id,
    product_name,
    category,
    quantity,
    unit_price,
    status,
    created_at,
    updated_at,
    last_event_id,
    last_event_name,
    last_sequence_number,
    last_event_time,
    order_date
FROM {database}.{source_table}
WHERE order_date IN ({days})
