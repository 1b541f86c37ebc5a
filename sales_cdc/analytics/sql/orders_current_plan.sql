-- What a staged refresh of orders_current will do, per order date: how many rows it inserts,
-- updates and deletes there, and how many tombstones it records (small: reads the staging table).
SELECT merge_kind, order_date, count(*) AS changes
FROM {database}.{source_table}
GROUP BY merge_kind, order_date
ORDER BY order_date, merge_kind
