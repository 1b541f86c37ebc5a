-- The latest change of every order among the raw rows of the query it is given (raw_rows_of_hours.sql: the
-- partitions that received objects since the last refresh; raw_rows.sql: every partition).
--   1. deliveries: at-least-once hops deliver some changes more than once; copies share event_id,
--      so one copy per event_id is kept (the first to arrive, ties broken by partition hour).
--   2. latest: per order, the change with the greatest DynamoDB stream sequence number wins.
--      Sequence numbers are decimal strings of up to 40 digits, beyond BIGINT and exact DOUBLE,
--      so they are compared as text left-padded with zeros to 40 characters (sort_key). Ties (not
--      expected from DynamoDB) fall to the later event time, then the greater event_id.
-- order_date is the UTC day the order was created: the day sales_daily reports it under. An item
-- without createdAt falls back to the time of the change.
SELECT
    order_id, customer_id, customer_name, product_id, product_name, category, quantity, unit_price,
    status, created_at, updated_at,
    event_id AS last_event_id,
    event_name AS last_event_name,
    sequence_number AS last_sequence_number,
    event_time AS last_event_time,
    date_format(coalesce(created_at, event_time), '%Y-%m-%d') AS order_date,
    sort_key
FROM (
    SELECT
        changes.*,
        lpad(sequence_number, 40, '0') AS sort_key,
        row_number() OVER (
            PARTITION BY order_id
            ORDER BY lpad(sequence_number, 40, '0') DESC, event_time DESC, event_id DESC
        ) AS change_number
    FROM (
        SELECT
            raw_rows.*,
            row_number() OVER (PARTITION BY event_id ORDER BY arrival_time ASC, "hour" ASC) AS delivery_number
        FROM ({query}) AS raw_rows
    ) AS changes
    WHERE delivery_number = 1
) AS latest
WHERE change_number = 1
