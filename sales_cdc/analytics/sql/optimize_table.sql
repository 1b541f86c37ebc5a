-- Compact an Iceberg table's small files (Athena: rewrites files into fewer, larger ones; rows and
-- their values stay; one commit).
OPTIMIZE {database}.{table} REWRITE DATA USING BIN_PACK
