-- The registered partitions of a table, as key=value paths.
SHOW PARTITIONS {database}.{table}
