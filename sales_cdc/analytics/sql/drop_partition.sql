-- Forget one day's partition of a derived table before rewriting it (the asset deletes its files).
ALTER TABLE {database}.{table} DROP IF EXISTS PARTITION ({partition_column} = {day})
