-- Forget a table in the catalog. Athena leaves the data in S3: the asset deletes the prefix itself.
DROP TABLE IF EXISTS {database}.{table}
