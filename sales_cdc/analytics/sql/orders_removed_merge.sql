-- orders_removed, step 3 of a refresh: record the staged tombstones (deleted orders) in one MERGE.
-- Runs after orders_current's merges: if a refresh stops in between, the next one stages the same
-- tombstones again (they are not yet here), so nothing is lost or applied twice.
MERGE INTO {database}.{table} AS target
USING (
    SELECT order_id, last_event_id, last_sequence_number, last_event_time, order_date
    FROM {database}.{source_table}
    WHERE merge_action = 'tombstone'
) AS change
ON target.order_id = change.order_id
WHEN MATCHED AND lpad(change.last_sequence_number, 40, '0') > lpad(target.last_sequence_number, 40, '0')
    THEN UPDATE SET
        last_event_id = change.last_event_id,
        last_sequence_number = change.last_sequence_number,
        last_event_time = change.last_event_time,
        order_date = change.order_date
WHEN NOT MATCHED
    THEN INSERT (order_id, last_event_id, last_sequence_number, last_event_time, order_date)
    VALUES (change.order_id, change.last_event_id, change.last_sequence_number, change.last_event_time,
        change.order_date)
