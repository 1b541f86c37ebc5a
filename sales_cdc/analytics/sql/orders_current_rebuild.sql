-- orders_current, full rebuild, step 1: the state of every order from the whole raw table, staged
-- as Parquet in a run-specific location (its query: orders_latest_changes.sql over every partition).
-- An order whose latest change is a REMOVE becomes a tombstone; every other order an upsert.
CREATE TABLE {database}.{table}
WITH (format = 'PARQUET', external_location = {location})
AS
SELECT
    CASE WHEN last_event_name = 'REMOVE' THEN 'tombstone' ELSE 'upsert' END AS merge_action,
    CASE WHEN last_event_name = 'REMOVE' THEN 'tombstone' ELSE 'insert' END AS merge_kind,
    order_id, customer_id, customer_name, product_id, product_name, category, quantity, unit_price,
    status, created_at, updated_at, last_event_id, last_event_name, last_sequence_number,
    last_event_time, order_date
FROM ({query}) AS latest
