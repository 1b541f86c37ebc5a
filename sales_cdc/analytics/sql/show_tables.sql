-- Whether a table exists: the tables of the database whose name matches exactly.
SHOW TABLES IN {database} {table_pattern}
