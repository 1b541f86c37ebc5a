-- orders_current as an Apache Iceberg table (format v2) registered in the Glue catalog: the current
-- state of every order, partitioned by order_date (the UTC day the order was created). Every refresh
-- changes it with MERGE INTO, one commit per statement, so a reader sees one snapshot or the next.
-- Created once; IF NOT EXISTS makes every refresh safe to start with it.
CREATE TABLE IF NOT EXISTS {database}.{table} (
    order_id string,
    customer_id string,
    customer_name string,
    product_id string,
    product_name string,
    category string,
    quantity int,
    unit_price decimal(18,2),
    status string,
    created_at timestamp,
    updated_at timestamp,
    last_event_id string,
    last_event_name string,
    last_sequence_number string,
    last_event_time timestamp,
    order_date string
)
PARTITIONED BY (order_date)
LOCATION {location}
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd')
