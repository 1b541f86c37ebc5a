-- orders_current, step 1: the current state of every order, computed from every registered
-- partition of the raw CDC table and written to a run-specific staging location.
--
-- Exactly once by construction, whatever the delivery did:
--   1. deliveries: at-least-once hops deliver some changes more than once; copies share event_id,
--      so one copy per event_id is kept (the first to arrive, ties broken by partition hour).
--   2. latest: per order, the change with the greatest DynamoDB stream sequence number wins.
--      Sequence numbers are decimal strings of up to 40 digits, beyond BIGINT and exact DOUBLE,
--      so they are compared as text left-padded with zeros to 40 characters. Ties (not expected
--      from DynamoDB) fall to the later event time, then the greater event_id, so every run
--      picks the same row.
--   3. an order whose latest change is a REMOVE is deleted and left out.
-- order_date is the UTC day the order was created: the day sales_daily reports it under. An
-- item without createdAt falls back to the time of its latest change.
CREATE TABLE {database}.{table}
WITH (format = 'PARQUET', external_location = {location})
AS
WITH deliveries AS (
    SELECT
        event_id, event_name, sequence_number, event_time, order_id, customer_id, customer_name,
        product_id, product_name, category, quantity, unit_price, status, created_at, updated_at,
        row_number() OVER (PARTITION BY event_id ORDER BY arrival_time ASC, "hour" ASC) AS delivery_number
    FROM {database}.{raw_table}
),
changes AS (
    SELECT * FROM deliveries WHERE delivery_number = 1
),
latest AS (
    SELECT
        changes.*,
        row_number() OVER (
            PARTITION BY order_id
            ORDER BY lpad(sequence_number, 40, '0') DESC, event_time DESC, event_id DESC
        ) AS change_number
    FROM changes
)
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
    event_id AS last_event_id,
    event_name AS last_event_name,
    sequence_number AS last_sequence_number,
    event_time AS last_event_time,
    date_format(coalesce(created_at, event_time), '%Y-%m-%d') AS order_date
FROM latest
WHERE change_number = 1 AND event_name <> 'REMOVE'
