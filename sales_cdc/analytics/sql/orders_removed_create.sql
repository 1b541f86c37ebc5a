-- orders_removed (Iceberg): one row per deleted order, its REMOVE change. It keeps a late, older
-- change of a deleted order (a redelivered INSERT or MODIFY) from bringing the order back: an
-- incoming change applies only when it is newer than everything known of the order, here included.
-- A re-insert (a newer sequence number) applies as usual and the order is current again.
CREATE TABLE IF NOT EXISTS {database}.{table} (
    order_id string,
    last_event_id string,
    last_sequence_number string,
    last_event_time timestamp,
    order_date string
)
LOCATION {location}
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd')
