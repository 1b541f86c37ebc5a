-- sales_daily as an Apache Iceberg table in the Glue catalog, partitioned by order_date. A refresh
-- replaces its days with one MERGE (sales_daily_replace.sql), so a day is never missing or doubled.
CREATE TABLE IF NOT EXISTS {database}.{table} (
    category string,
    product_id string,
    product_name string,
    orders bigint,
    units bigint,
    revenue decimal(18,2),
    cancelled_orders bigint,
    returned_orders bigint,
    order_date string
)
PARTITIONED BY (order_date)
LOCATION {location}
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd')
