-- The current snapshot of an Iceberg table (Athena's "<table>$snapshots" metadata table): the id a
-- refresh committed, for its materialization metadata and for time travel (FOR VERSION AS OF).
SELECT snapshot_id, committed_at
FROM {database}."{table}$snapshots"
ORDER BY committed_at DESC
LIMIT 1
