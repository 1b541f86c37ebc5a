"""One statement's state while it runs, and the result the engine returns for it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from local_aws.athena.errors import LocalQueryError, UnsupportedSqlError

if TYPE_CHECKING:
    from local_aws.athena.catalog import Table

# What a statement returns before timing is added: column names, rows, Athena's statement type.
Outcome = tuple[list[str], list[tuple], str]

# Names of the Arrow tables registered in DuckDB for one statement; unique per process.
_view_numbers = itertools.count(1)


def view_name(kind: str) -> str:
    """A fresh DuckDB view name, e.g. ``__athena_scan_7``."""
    return f"__athena_{kind}_{next(_view_numbers)}"


@dataclass
class Statement:
    """Per-statement state: id, tables resolved, bytes read, DuckDB views to drop afterwards."""

    query_id: str
    sql: str
    database: str
    tables: dict[tuple[str, str], Table] = field(default_factory=dict)
    registered: list[str] = field(default_factory=list)
    temp_tables: list[str] = field(default_factory=list)  # DuckDB temporary tables to drop afterwards
    metadata_tables: dict[tuple[str, str], Any] = field(default_factory=dict)  # Iceberg ``t$snapshots`` rows
    extra: dict[str, Any] = field(default_factory=dict)  # what a write reports (Iceberg counts, snapshot)
    bytes_scanned: int = 0
    objects_read: int = 0
    partitions_read: int = 0
    notes: list[str] = field(default_factory=list)

    def fail(self, reason: str) -> LocalQueryError:
        """The error for this statement failing with Athena's ``reason``."""
        return LocalQueryError(reason, query_id=self.query_id, sql=self.sql)

    def unsupported(self, construct: str, hint: str = "") -> UnsupportedSqlError:
        """The error for this statement using a construct the engine cannot run."""
        return UnsupportedSqlError(construct, hint, query_id=self.query_id, sql=self.sql)


@dataclass(frozen=True)
class LocalQueryResult:
    """Rows and Athena's statistics of one statement.

    ``bytes_scanned`` is the size of the S3 objects read (Athena's ``DataScannedInBytes``);
    ``statement_type`` is ``DDL``, ``DML`` or ``UTILITY``; ``extra`` holds ``objects_read``,
    ``partitions_read`` and ``notes`` (what the engine could not optimise).
    """

    columns: list[str]
    rows: list[tuple]
    bytes_scanned: int
    elapsed_ms: float
    query_id: str
    statement_type: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def scalar(self) -> Any:
        """The value of a one-row, one-column result; ValueError for any other shape."""
        if (len(self.rows), len(self.columns)) != (1, 1):
            raise ValueError(f"query {self.query_id} returned {len(self.rows)} row(s) of {self.columns}")
        return self.rows[0][0]
