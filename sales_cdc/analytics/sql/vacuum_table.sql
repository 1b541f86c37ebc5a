-- Expire an Iceberg table's snapshots older than its vacuum_max_snapshot_age_seconds property
-- (Athena's default: 5 days, how far back time travel then reaches) and delete the files no
-- remaining snapshot uses.
VACUUM {database}.{table}
