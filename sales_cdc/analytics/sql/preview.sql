-- The first rows of one partition of a derived table, for the materialization's preview.
SELECT *
FROM {database}.{table}
WHERE {partition_column} = {day}
LIMIT {limit}
