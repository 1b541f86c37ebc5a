-- Append the rows of a query rendered from another file to a derived table; Athena writes new
-- files under the partition folders and registers new partitions.
INSERT INTO {database}.{table}
{query}
