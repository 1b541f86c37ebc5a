-- orders_current, step 2: the order dates present in the staged state, to publish them in batches
-- (Athena writes at most 100 partitions per CTAS or INSERT INTO statement).
SELECT DISTINCT order_date
FROM {database}.{source_table}
ORDER BY order_date
