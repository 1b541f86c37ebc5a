-- The order dates a table holds (a full rebuild replaces these too, so dates that lost every order
-- end empty). On Iceberg this reads the partition column only.
SELECT DISTINCT order_date
FROM {database}.{table}
ORDER BY order_date
