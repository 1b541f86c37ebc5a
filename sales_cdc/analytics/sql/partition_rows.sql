-- Every row of one partition of a derived table (small summaries: the daily report reads these).
SELECT *
FROM {database}.{table}
WHERE {partition_column} = {day}
