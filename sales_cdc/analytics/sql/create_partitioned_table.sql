-- Create a derived table as Parquet under its own prefix, partitioned by one column (the last one
-- of the query), from a query rendered from another file. Athena requires an empty location.
CREATE TABLE {database}.{table}
WITH (format = 'PARQUET', external_location = {location}, partitioned_by = ARRAY[{partition_key}])
AS
{query}
