-- Rows per partition of some days of a derived table (for the refresh's metadata).
SELECT {partition_column} AS day, count(*) AS row_count
FROM {database}.{table}
WHERE {partition_column} IN ({days})
GROUP BY {partition_column}
