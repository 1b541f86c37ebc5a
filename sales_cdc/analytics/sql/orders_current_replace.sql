-- orders_current, full rebuild, step 2: replace some order dates (at most 100: Athena's partition
-- limit per statement) with the staged state in one MERGE (one Iceberg commit). One marker row per
-- date matches every stored row of that date, which is deleted; the staged rows match nothing and
-- are inserted. Dates that no longer hold any order are passed too, so they end empty.
MERGE INTO {database}.{table} AS target
USING (
    SELECT
        false AS is_marker, order_id, customer_id, customer_name, product_id, product_name, category,
        quantity, unit_price, status, created_at, updated_at, last_event_id, last_event_name,
        last_sequence_number, last_event_time, order_date
    FROM {database}.{source_table}
    WHERE merge_action = 'upsert' AND order_date IN ({days})
    UNION ALL
    SELECT
        true AS is_marker, CAST(NULL AS varchar), CAST(NULL AS varchar), CAST(NULL AS varchar),
        CAST(NULL AS varchar), CAST(NULL AS varchar), CAST(NULL AS varchar), CAST(NULL AS integer),
        CAST(NULL AS decimal(18, 2)), CAST(NULL AS varchar), CAST(NULL AS timestamp),
        CAST(NULL AS timestamp), CAST(NULL AS varchar), CAST(NULL AS varchar), CAST(NULL AS varchar),
        CAST(NULL AS timestamp), marker.order_date
    FROM UNNEST(ARRAY[{days}]) AS marker (order_date)
) AS change
ON change.is_marker AND target.order_date = change.order_date
WHEN MATCHED THEN DELETE
WHEN NOT MATCHED AND NOT change.is_marker
    THEN INSERT (
        order_id, customer_id, customer_name, product_id, product_name, category, quantity, unit_price,
        status, created_at, updated_at, last_event_id, last_event_name, last_sequence_number,
        last_event_time, order_date
    ) VALUES (
        change.order_id, change.customer_id, change.customer_name, change.product_id,
        change.product_name, change.category, change.quantity, change.unit_price, change.status,
        change.created_at, change.updated_at, change.last_event_id, change.last_event_name,
        change.last_sequence_number, change.last_event_time, change.order_date
    )
