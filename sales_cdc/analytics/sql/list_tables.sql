-- Every table of the database (to find the staging tables a killed run left behind).
SHOW TABLES IN {database}
