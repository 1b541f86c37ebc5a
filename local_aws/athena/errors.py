"""The local Athena's own errors: what a statement that failed or was refused raises.

The engine never raises the application's types (the embedded AWS does not import the application);
``sales_cdc.resources.query_engine`` translates these into its ``QueryFailedError`` and
``UnsupportedSqlError``.
"""

from __future__ import annotations

import duckdb

# What a refusal suggests instead: every kind of statement the engine runs.
SUPPORTED_HINT = (
    "it runs SELECT/WITH, CREATE TABLE ... WITH (format='PARQUET', ...) AS SELECT, INSERT INTO, "
    "CREATE TABLE (...) TBLPROPERTIES ('table_type'='ICEBERG'), MERGE INTO / DELETE FROM / OPTIMIZE / VACUUM "
    "on Iceberg tables, DROP TABLE, MSCK REPAIR TABLE, ALTER TABLE ADD/DROP PARTITION, "
    "SHOW PARTITIONS/TABLES/DATABASES, "
    "DESCRIBE and CREATE DATABASE"
)


class LocalQueryError(RuntimeError):
    """A statement failed; ``reason`` is Athena's explanation (its StateChangeReason)."""

    def __init__(self, reason: str, *, query_id: str | None = None, sql: str | None = None) -> None:
        self.reason = reason
        self.query_id = query_id
        self.sql = sql
        super().__init__(f"{reason} (query {query_id})" if query_id else reason)


class UnsupportedSqlError(LocalQueryError):
    """The engine cannot run a construct; ``construct`` names it and ``hint`` what to do. Nothing ran."""

    def __init__(
        self, construct: str, hint: str = "", *, query_id: str | None = None, sql: str | None = None
    ) -> None:
        self.construct = construct
        self.hint = hint
        reason = f"{construct} is not supported by the local Athena engine"
        super().__init__(f"{reason}; {hint}" if hint else reason, query_id=query_id, sql=sql)


class DataError(Exception):
    """An object's content does not match the table (Athena's HIVE_BAD_DATA)."""


def duckdb_reason(exc: duckdb.Error) -> str:
    """DuckDB's message, with the Athena error name a reader would search for."""
    text = str(exc).strip()
    if isinstance(exc, duckdb.CatalogException) and "Function" in text:
        return f"FUNCTION_NOT_FOUND: {text} (the function has no DuckDB equivalent in the local engine)"
    if isinstance(exc, duckdb.BinderException):
        return f"SEMANTIC_ERROR: {text}"
    if isinstance(
        exc, (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.OutOfRangeException)
    ):
        return f"INVALID_CAST_ARGUMENT / NUMERIC_VALUE_OUT_OF_RANGE: {text}"
    if isinstance(exc, duckdb.ParserException):
        return f"SYNTAX_ERROR: {text}"
    return text
