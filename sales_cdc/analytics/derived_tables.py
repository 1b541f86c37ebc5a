"""Shared machinery of the analytics assets: running SQL files, rewriting derived tables, metadata.

Derived tables live under ``s3://<bucket>/<derived_prefix><table>/`` and are registered in the Glue
catalog. ``orders_current``, ``sales_daily`` and ``sales_hourly`` are Apache Iceberg tables written
with MERGE (see :mod:`.orders_current` and :mod:`.sales`). ``cdc_event_stats`` is a Hive Parquet
table (:class:`DerivedTable`), created by Athena CTAS; Athena cannot overwrite one (CTAS wants an
empty location and INSERT INTO only appends), so a one-day refresh deletes that day's partition
folder, drops the partition and runs INSERT INTO for the day (CTAS when the table does not exist
yet). Re-running it gives the same rows: that is what makes a refresh idempotent.

Every statement goes through :class:`Statements`, which keeps the engine's statistics so each
materialization reports the bytes it scanned.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dagster import MetadataValue

from infra.lake import list_objects
from sales_cdc.analytics.queries import render
from sales_cdc.resources.aws import LakeResource
from sales_cdc.resources.query_engine import QueryEngineResource, QueryFailedError, QueryResult
from sales_cdc.sql_templates import RenderedQuery

PREVIEW_ROWS = 10


@dataclass
class Statements:
    """Runs SQL files on the query engine and keeps what each statement cost."""

    engine: QueryEngineResource
    database: str
    results: list[tuple[str, QueryResult]] = field(default_factory=list)

    def run(self, name: str, /, **values: object) -> QueryResult:
        """Render ``<name>.sql`` (``database`` is filled in) and run it."""
        return self.run_rendered(name, render(name, database=self.database, **values))

    def run_rendered(self, label: str, sql: RenderedQuery) -> QueryResult:
        """Run SQL rendered from a file; ``label`` names it in the statistics."""
        result = self.engine.execute(str(sql), database=self.database)
        self.results.append((label, result))
        return result

    @property
    def bytes_scanned(self) -> int:
        """Bytes scanned by every statement run so far (Athena's DataScannedInBytes)."""
        return sum(result.bytes_scanned for _, result in self.results)

    @property
    def elapsed_ms(self) -> float:
        """Engine time of every statement run so far."""
        return sum(result.elapsed_ms for _, result in self.results)

    def metadata(self) -> dict[str, MetadataValue]:
        """Statistics for a materialization: bytes scanned, statement count, and query ids."""
        return {
            "bytes_scanned": MetadataValue.int(self.bytes_scanned),
            "statements": MetadataValue.int(len(self.results)),
            "engine_ms": MetadataValue.float(round(self.elapsed_ms, 1)),
            "queries": MetadataValue.json(
                [
                    {"statement": label, "query_id": result.query_id, "bytes_scanned": result.bytes_scanned}
                    for label, result in self.results
                ]
            ),
        }


# ----------------------------------------------------------------------------------------- S3


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix`` (which must end in ``/``); returns how many were deleted."""
    if not prefix.endswith("/") or prefix == "/":
        # A prefix without its slash would also match siblings (order_date=2026-11-2 matches ...-21).
        raise ValueError(f"refusing to delete under {prefix!r}: a folder prefix ending in '/' is required")
    keys = [obj["Key"] for obj in list_objects(s3, bucket, prefix)]
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
        batch = keys[start : start + 1000]
        response = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
        )
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"could not delete {len(errors)} object(s) under s3://{bucket}/{prefix}, e.g. "
                f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}; check the bucket policy "
                "and retry the materialization"
            )
    return len(keys)


def read_json_object(s3: Any, bucket: str, key: str) -> Any | None:
    """The JSON document stored at ``key``, or None when there is none."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def write_json_object(s3: Any, bucket: str, key: str, document: Any) -> None:
    """Store ``document`` as JSON at ``key``."""
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, sort_keys=True, default=str).encode(),
        ContentType="application/json",
    )


def object_lines(data: bytes) -> list[bytes]:
    """Non-empty lines of an object, gunzipping it first when it is gzip (Firehose may compress)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            # A truncated object still holds complete lines before the damage.
            data = zlib.decompressobj(wbits=31).decompress(data)
    return [line for line in data.splitlines() if line.strip()]


# ----------------------------------------------------------------------------- derived tables


def table_exists(statements: Statements, name: str) -> bool:
    """Whether the catalog has table ``name`` in the statements' database (``SHOW TABLES``)."""
    result = statements.run("show_tables", table_pattern=name)
    return any(row and row[0] == name for row in result.rows)


def state_key(lake: LakeResource, name: str) -> str:
    """Key of a small JSON state document of the analytics assets (outside every table location)."""
    return f"{lake.derived_prefix}_state/{name}.json"


def rows_written(result: QueryResult) -> int:
    """The rows a CTAS or INSERT INTO wrote (its one answer row: Athena's UpdateCount), else 0."""
    if result.rows and result.rows[0] and isinstance(result.rows[0][0], int):
        return int(result.rows[0][0])
    return 0


@dataclass
class DerivedTable:
    """A derived Parquet table partitioned by one day column, rewritten one partition at a time."""

    name: str
    partition_column: str
    lake: LakeResource
    statements: Statements
    s3: Any
    _exists: bool = field(default=False, init=False, repr=False)

    @property
    def location(self) -> str:
        """``s3://bucket/derived/<name>/``."""
        return self.lake.derived_location(self.name)

    @property
    def prefix(self) -> str:
        """Key prefix of the table's files."""
        return f"{self.lake.derived_prefix}{self.name}/"

    def partition_prefix(self, day: str) -> str:
        """Key prefix of one partition's files (the Hive folder CTAS and INSERT INTO write)."""
        return f"{self.prefix}{self.partition_column}={day}/"

    def exists(self) -> bool:
        """Whether the catalog has the table (``SHOW TABLES`` on Athena and locally).

        Once seen, the table is assumed to stay for the life of this object (one run).
        """
        if not self._exists:
            self._exists = table_exists(self.statements, self.name)
        return self._exists

    def drop(self) -> int:
        """Drop the table and delete its files; returns the number of objects deleted."""
        self.statements.run("drop_table", table=self.name)
        self._exists = False
        return delete_prefix(self.s3, self.lake.bucket, self.prefix)

    def replace_partition(self, day: str, query: RenderedQuery) -> int:
        """Make partition ``day`` hold exactly the rows of ``query``; returns the rows written.

        ``query`` must select only rows of that day, with the partition column last.
        """
        if not self.exists():
            # First write: CTAS needs an empty location, and files without a table are orphans.
            delete_prefix(self.s3, self.lake.bucket, self.prefix)
            try:
                result = self.statements.run(
                    "create_partitioned_table",
                    table=self.name,
                    location=self.location,
                    partition_key=self.partition_column,
                    query=query,
                )
                self._exists = True
                return rows_written(result)
            except QueryFailedError:
                # Another run created the table in the meantime: fall through to the append path.
                if not self.exists():
                    raise
        delete_prefix(self.s3, self.lake.bucket, self.partition_prefix(day))
        self.statements.run(
            "drop_partition", table=self.name, partition_column=self.partition_column, day=day
        )
        return rows_written(self.statements.run("insert_into", table=self.name, query=query))

    def rows(self, day: str) -> QueryResult:
        """Every row of partition ``day``."""
        return self.statements.run(
            "partition_rows", table=self.name, partition_column=self.partition_column, day=day
        )

    def preview(self, day: str, limit: int = PREVIEW_ROWS) -> QueryResult:
        """The first rows of partition ``day``."""
        return self.statements.run(
            "preview", table=self.name, partition_column=self.partition_column, day=day, limit=limit
        )


def chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    """``items`` in consecutive lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# ----------------------------------------------------------------------------------- metadata


def plain(value: Any) -> Any:
    """A JSON- and markdown-friendly version of a query value (Decimal as text keeps it exact)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], limit: int = PREVIEW_ROWS) -> str:
    """A markdown table of the first ``limit`` rows (the UI renders it as a preview)."""
    rows = list(rows)
    if not columns:
        return "_no columns_"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:limit]:
        cells = ["" if value is None else str(plain(value)).replace("|", "\\|") for value in row]
        lines.append("| " + " | ".join(cells) + " |")
    if not rows:
        lines.append("| " + " | ".join("" for _ in columns) + " |")
        lines.append("\n_no rows_")
    elif len(rows) > limit:
        lines.append(f"\n_{len(rows) - limit} more row(s) not shown_")
    return "\n".join(lines)


def preview_metadata(result: QueryResult, limit: int = PREVIEW_ROWS) -> MetadataValue:
    """A markdown preview of a query result."""
    return MetadataValue.md(markdown_table(result.columns, result.rows, limit))


def table_metadata(
    table: DerivedTable, days: Sequence[str], rows_by_day: Mapping[str, int]
) -> dict[str, Any]:
    """Metadata every refresh of a daily table reports: rows, partitions touched, location."""
    total = sum(rows_by_day.values())
    return {
        "dagster/row_count": MetadataValue.int(total),
        "rows_written": MetadataValue.int(total),
        "rows_by_partition": MetadataValue.json(dict(rows_by_day)),
        "partitions_touched": MetadataValue.json([f"{table.partition_column}={day}" for day in days]),
        "table": MetadataValue.text(f"{table.lake.glue_database}.{table.name}"),
        "location": MetadataValue.path(table.location),
    }
