-- The columns of every raw CDC row that the current state of an order is computed from.
SELECT
    event_id, event_name, sequence_number, event_time, arrival_time, "hour", order_id, customer_id,
    customer_name, product_id, product_name, category, quantity, unit_price, status, created_at, updated_at
FROM {database}.{raw_table}
