-- orders_current, incremental refresh, step 2: apply the staged changes of some order dates in
-- one MERGE (one Iceberg commit; Athena writes at most 100 partitions per statement, so the
-- caller passes at most 100 dates). The ON clause names the partition, so a changed order's row
-- is found in the order_date it is stored under; an order that moves has a delete row for its old
-- date and an upsert row for its new one. The sequence-number conditions are checked again here,
-- against the row as it is at commit time: a MERGE that runs twice (a retried or repeated refresh)
-- changes nothing the second time.
MERGE INTO {database}.{table} AS target
USING (
    SELECT *
    FROM {database}.{source_table}
    WHERE merge_action IN ('upsert', 'delete') AND order_date IN ({days})
) AS change
ON target.order_id = change.order_id AND target.order_date = change.order_date
WHEN MATCHED AND change.merge_action = 'delete'
    AND lpad(change.last_sequence_number, 40, '0') > lpad(target.last_sequence_number, 40, '0')
    THEN DELETE
WHEN MATCHED AND change.merge_action = 'upsert'
    AND lpad(change.last_sequence_number, 40, '0') > lpad(target.last_sequence_number, 40, '0')
    THEN UPDATE SET
        customer_id = change.customer_id,
        customer_name = change.customer_name,
        product_id = change.product_id,
        product_name = change.product_name,
        category = change.category,
        quantity = change.quantity,
        unit_price = change.unit_price,
        status = change.status,
        created_at = change.created_at,
        updated_at = change.updated_at,
        last_event_id = change.last_event_id,
        last_event_name = change.last_event_name,
        last_sequence_number = change.last_sequence_number,
        last_event_time = change.last_event_time
WHEN NOT MATCHED AND change.merge_action = 'upsert'
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
