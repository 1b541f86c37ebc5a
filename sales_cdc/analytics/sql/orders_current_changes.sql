-- orders_current, incremental refresh, step 1: what the merge has to do, staged as Parquet in a
-- run-specific location. Its query is the latest change per order among the new raw partitions
-- (orders_latest_changes.sql). Each change is compared with everything known of its order: its row
-- in orders_current (read by order_id: any order date) and its tombstone in orders_removed.
--   upsert     the change is newer than everything known: the order's row at the change's
--              order_date is updated (merge_kind 'update') or inserted ('insert').
--   delete     a row of the order that the change supersedes and that must go: the change is a
--              REMOVE, or the order now belongs to another order_date (a move: delete + insert).
--   tombstone  a REMOVE newer than everything known: recorded in orders_removed.
-- A late, older change matches none of these (it is older than what is stored), so re-reading
-- partitions, duplicate deliveries and out-of-order arrivals change nothing.
CREATE TABLE {database}.{table}
WITH (format = 'PARQUET', external_location = {location})
AS
WITH incoming AS (
    {query}
),
stored AS (
    SELECT current.order_id, current.order_date, lpad(current.last_sequence_number, 40, '0') AS sort_key
    FROM {database}.orders_current AS current
    WHERE current.order_id IN (SELECT order_id FROM incoming)
),
known AS (
    SELECT order_id, max(sort_key) AS sort_key
    FROM (
        SELECT order_id, sort_key FROM stored
        UNION ALL
        SELECT removed.order_id, lpad(removed.last_sequence_number, 40, '0') AS sort_key
        FROM {database}.orders_removed AS removed
        WHERE removed.order_id IN (SELECT order_id FROM incoming)
    ) AS everything
    GROUP BY order_id
),
newer AS (
    SELECT incoming.*
    FROM incoming
    LEFT JOIN known ON known.order_id = incoming.order_id
    WHERE known.sort_key IS NULL OR incoming.sort_key > known.sort_key
)
SELECT
    'upsert' AS merge_action,
    CASE WHEN same_day.order_id IS NULL THEN 'insert' ELSE 'update' END AS merge_kind,
    newer.order_id, newer.customer_id, newer.customer_name, newer.product_id, newer.product_name,
    newer.category, newer.quantity, newer.unit_price, newer.status, newer.created_at, newer.updated_at,
    newer.last_event_id, newer.last_event_name, newer.last_sequence_number, newer.last_event_time,
    newer.order_date
FROM newer
LEFT JOIN stored AS same_day ON same_day.order_id = newer.order_id AND same_day.order_date = newer.order_date
WHERE newer.last_event_name <> 'REMOVE'
UNION ALL
SELECT
    'delete' AS merge_action,
    'delete' AS merge_kind,
    incoming.order_id, incoming.customer_id, incoming.customer_name, incoming.product_id,
    incoming.product_name, incoming.category, incoming.quantity, incoming.unit_price, incoming.status,
    incoming.created_at, incoming.updated_at, incoming.last_event_id, incoming.last_event_name,
    incoming.last_sequence_number, incoming.last_event_time,
    stored.order_date
FROM incoming
JOIN stored ON stored.order_id = incoming.order_id
WHERE incoming.sort_key > stored.sort_key
    AND (incoming.last_event_name = 'REMOVE' OR stored.order_date <> incoming.order_date)
UNION ALL
SELECT
    'tombstone' AS merge_action,
    'tombstone' AS merge_kind,
    newer.order_id, newer.customer_id, newer.customer_name, newer.product_id, newer.product_name,
    newer.category, newer.quantity, newer.unit_price, newer.status, newer.created_at, newer.updated_at,
    newer.last_event_id, newer.last_event_name, newer.last_sequence_number, newer.last_event_time,
    newer.order_date
FROM newer
WHERE newer.last_event_name = 'REMOVE'
