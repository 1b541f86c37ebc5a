-- orders_current, step 3: the staged state of some order dates, as partitions of the published
-- table (used as the query of a CTAS for the first batch and of INSERT INTO for the others).
-- The staging table has exactly the published columns, order_date (the partition column) last.
SELECT *
FROM {database}.{source_table}
WHERE order_date IN ({days})
