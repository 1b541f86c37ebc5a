"""Asset checks on a table that does not exist fail with what to do, never with a stack trace.

A table is missing when the lake was reset (or lost) or its asset was never materialized; the engine
then answers ``TABLE_NOT_FOUND`` (Athena and the local engine alike), or ``SCHEMA_NOT_FOUND`` when even
the Glue database is gone. :func:`unless_table_missing` turns that answer into a failed check result
naming the table and the asset to materialize; any other failure is the check's own and propagates.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from sales_cdc.resources.query_engine import QueryFailedError

MISSING_TABLE_CODES = ("TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND")


def is_table_missing(exc: BaseException) -> bool:
    """Whether a query failed because its table (or database) does not exist."""
    return isinstance(exc, QueryFailedError) and any(code in exc.reason for code in MISSING_TABLE_CODES)


def missing_table_result(database: str, table: str, asset: str, reason: str) -> dg.AssetCheckResult:
    """The failed check result of a check whose table ``database.table`` does not exist."""
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"table missing: {database}.{table} (lake reset or not yet materialized): materialize {asset}"
        ),
        metadata={
            "missing_table": dg.MetadataValue.text(f"{database}.{table}"),
            "materialize": dg.MetadataValue.text(asset),
            "engine_reason": dg.MetadataValue.text(reason),
        },
    )


def unless_table_missing(
    check: Callable[[], dg.AssetCheckResult], *, database: str, table: str, asset: str
) -> dg.AssetCheckResult:
    """Run ``check``; when its query finds no table, the failed result of :func:`missing_table_result`."""
    try:
        return check()
    except QueryFailedError as exc:
        if not is_table_missing(exc):
            raise
        return missing_table_result(database, table, asset, exc.reason)
