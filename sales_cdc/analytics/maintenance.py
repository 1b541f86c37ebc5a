"""``lake_maintenance_job``: compaction and snapshot expiry of the Iceberg tables, on a schedule.

Every refresh commits new files (copy-on-write: a MERGE rewrites the files of the partitions it
changes), and every commit keeps the previous snapshot for time travel. Over days that is many small
files and many snapshots. Once a day (``lake_maintenance_schedule``, 03:00 UTC, STOPPED by default
like every schedule) one op per table runs Athena's ``OPTIMIZE ... REWRITE DATA USING BIN_PACK`` (fewer,
larger files; same rows) and ``VACUUM`` (snapshots older than the table's
``vacuum_max_snapshot_age_seconds`` expire and their unreferenced files are deleted), locally the
embedded engine's pyiceberg equivalents. Each op runs in the pool of its table, so it never overlaps a
refresh of that table. A table that does not exist yet is skipped.
"""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at runtime.
import dagster as dg

from sales_cdc.analytics.derived_tables import Statements, table_exists
from sales_cdc.analytics.orders_current import ORDERS_CURRENT_POOL, ORDERS_CURRENT_TABLE, ORDERS_REMOVED_TABLE
from sales_cdc.analytics.sales import SALES_DAILY_TABLE, SALES_HOURLY_TABLE, summary_pool
from sales_cdc.resources.aws import LakeResource
from sales_cdc.resources.query_engine import QueryEngineResource

MAINTENANCE_CRON = "0 3 * * *"
# Each Iceberg table and the pool of the assets that write it.
ICEBERG_TABLES = {
    ORDERS_CURRENT_TABLE: ORDERS_CURRENT_POOL,
    ORDERS_REMOVED_TABLE: ORDERS_CURRENT_POOL,
    SALES_DAILY_TABLE: summary_pool(SALES_DAILY_TABLE),
    SALES_HOURLY_TABLE: summary_pool(SALES_HOURLY_TABLE),
}


def maintain_table(statements: Statements, table: str, log: dg.DagsterLogManager) -> dict[str, object]:
    """OPTIMIZE then VACUUM ``table``; returns what each reported (nothing when the table is missing)."""
    if not table_exists(statements, table):
        log.info(f"{table}: not created yet, nothing to maintain")
        return {}
    optimized = statements.run("optimize_table", table=table)
    vacuumed = statements.run("vacuum_table", table=table)
    # The local engine reports what it did (Athena's answer has no figures): files and snapshots.
    facts = {"optimize": _reported(optimized.extra), "vacuum": _reported(vacuumed.extra)}
    log.info(f"{table}: compacted and expired old snapshots ({facts})")
    return facts


def _reported(extra: dict[str, object]) -> dict[str, object]:
    return {
        key: value for key, value in extra.items() if key not in ("objects_read", "partitions_read", "notes")
    }


def maintenance_op(table: str, pool: str) -> dg.OpDefinition:
    """The op that maintains one Iceberg table, in that table's pool."""

    @dg.op(name=f"maintain_{table}", pool=pool, description=f"OPTIMIZE and VACUUM {table} (Iceberg).")
    def maintain(
        context: dg.OpExecutionContext, query_engine: QueryEngineResource, lake: LakeResource
    ) -> None:
        statements = Statements(query_engine, lake.glue_database)
        maintain_table(statements, table, context.log)

    return maintain


@dg.job(
    name="lake_maintenance_job",
    description="Compact small files and expire old snapshots of every Iceberg table (OPTIMIZE, VACUUM).",
)
def lake_maintenance_job() -> None:
    for table, pool in ICEBERG_TABLES.items():
        maintenance_op(table, pool)()


lake_maintenance_schedule = dg.ScheduleDefinition(
    name="lake_maintenance_schedule",
    job=lake_maintenance_job,
    cron_schedule=MAINTENANCE_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="At 03:00 UTC: OPTIMIZE and VACUUM every Iceberg table.",
)
