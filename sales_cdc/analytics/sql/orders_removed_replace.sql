-- orders_removed, full rebuild: replace every tombstone with the staged ones in one MERGE. The one
-- marker row matches every stored tombstone (deleted); the staged tombstones match nothing
-- (inserted).
MERGE INTO {database}.{table} AS target
USING (
    SELECT false AS is_marker, order_id, last_event_id, last_sequence_number, last_event_time, order_date
    FROM {database}.{source_table}
    WHERE merge_action = 'tombstone'
    UNION ALL
    SELECT true, CAST(NULL AS varchar), CAST(NULL AS varchar), CAST(NULL AS varchar),
        CAST(NULL AS timestamp), CAST(NULL AS varchar)
) AS change
ON change.is_marker
WHEN MATCHED THEN DELETE
WHEN NOT MATCHED AND NOT change.is_marker
    THEN INSERT (order_id, last_event_id, last_sequence_number, last_event_time, order_date)
    VALUES (change.order_id, change.last_event_id, change.last_sequence_number, change.last_event_time,
        change.order_date)
