"""The local Athena: DuckDB executing Athena (Trino) SQL translated by sqlglot.

Tables and partitions come from the emulator's Glue catalog; data is read from the emulator's S3
through pyarrow (DuckDB's httpfs is not available offline) into Arrow tables that DuckDB scans.
Athena's semantics that matter to the application are kept:

- **Only registered partitions are visible.** A partitioned table reads exactly the partitions in
  the Glue catalog (each at its own ``Location``); a ``dt=`` folder in S3 that is not registered is
  invisible until ``ALTER TABLE ... ADD PARTITION`` or ``MSCK REPAIR TABLE`` registers it.
- **Partition pruning.** Conjuncts of ``WHERE`` clauses that constrain only partition columns are
  evaluated against the partition list before any object is read, including predicates on columns
  of CTEs / derived tables that pass a partition column through unchanged (not through ``LIMIT``,
  through aggregation only on grouping keys, through window functions only on their ``PARTITION
  BY`` keys, not to the nullable side of outer joins). The catalog is asked for the matching
  partitions only (Glue ``GetPartitions`` with an ``Expression``, as Athena does), then the exact
  predicate is evaluated on what it returns.
- **Bytes scanned** is the total size of the S3 objects a statement reads (every object of every
  selected partition, per table reference), like Athena's ``DataScannedInBytes`` for
  uncompressed-column formats; a Parquet object counts whole. Objects parsed once are cached per
  (key, ETag) for the life of the engine, which saves time, not scanned bytes. The workgroup's
  ``BytesScannedCutoffPerQuery`` is enforced.
- **Types** follow the Glue table: ``decimal(p,s)`` exact (JSON numbers are parsed from their
  text), ``timestamp`` (``YYYY-MM-DD HH:MM:SS.fff``, ISO-8601 or epoch millis in JSON), ``int``,
  ``bigint``, ``boolean``, ``double``, ``date``, ``string``, ``array``/``struct``/``map``; a column
  missing from an object is NULL; JSON keys match columns case-insensitively (OpenX SerDe),
  ``mapping.*`` and ``ignore.malformed.json`` SerDe parameters are honoured; gzip is detected from
  the content.
- **Trino semantics DuckDB does not share** are translated: integer division truncates, decimal
  division and ``avg(decimal)`` are exact with Trino's scale and HALF_UP rounding, ``sum`` of
  integers is ``bigint``, ``date_diff`` counts whole units, ``date_trunc`` / ``date_add`` (by days
  or more) of a date is a date, ``CAST(timestamp AS varchar)`` and ``to_iso8601`` have
  milliseconds, bare ``DECIMAL`` is ``decimal(38,0)`` and ``DECIMAL '1.50'`` is ``decimal(3,2)``,
  ``x AT TIME ZONE z`` / ``at_timezone`` read a timestamp as UTC (the session zone) and give the
  wall-clock time in ``z`` (a timestamp without zone, where Trino keeps the zone), NULLs sort last,
  unaliased result columns are named ``_col0``, ``_col1``... Division by zero fails as in Trino.
- **CTAS** ``WITH (format = 'PARQUET', external_location = 's3://...', partitioned_by =
  ARRAY['dt'], write_compression = 'SNAPPY')`` writes Parquet under the location in Hive folders
  and registers the table and its partitions; it fails like Athena when the location already holds
  objects, when the table exists, when partition columns are not the last columns, or when more
  than 100 partitions would be written. Without ``external_location`` it writes under the
  workgroup's output location (``tables/<query id>/``).
- **INSERT INTO** a Parquet table appends files to the partitions (registering new ones).
- **DROP TABLE [IF EXISTS]** removes only the catalog entry: Athena never deletes the data of an
  external table, and neither does this engine (a later CTAS to the same location fails until the
  objects are deleted).
- **MSCK REPAIR TABLE**, **ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (...) [LOCATION '...']
  [PARTITION ...]**, **ALTER TABLE t DROP [IF EXISTS] PARTITION (...)[, PARTITION (...)]**,
  **SHOW PARTITIONS**, **SHOW TABLES**, **DESCRIBE**, **CREATE DATABASE** are run against Glue.

Anything else (``CREATE EXTERNAL TABLE``, views, ``UPDATE``/``DELETE``/``MERGE``, ``UNLOAD``,
``EXPLAIN``, ``INSERT OVERWRITE``, non-Parquet CTAS, bucketing, Iceberg, catalogs other than
``awsdatacatalog``, ``FOR TIMESTAMP AS OF``, a function DuckDB does not have such as
``format_datetime``, ``with_timezone`` or ``map_agg``, a division whose operand types cannot be
determined...) fails with :class:`UnsupportedSqlError` or :class:`QueryFailedError` naming the
construct, before any data is written. Every database and table name and every partition value taken
from SQL is validated by :mod:`infra.lake` first, and so is every column name read from
the catalog.

Known differences that remain: approximate aggregates (``approx_percentile``, ``approx_distinct``)
use DuckDB's sketches, so their values may differ from Athena's within the usual error;
``approx_percentile`` with an array of percentiles over integers fails (DuckDB); query results are
not written to the workgroup's output location.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
import zlib
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq
import sqlglot
from botocore.exceptions import ClientError
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema

from infra.clients import LOCAL_CREDENTIALS, boto3_clients
from infra.lake import (
    HIVE_DEFAULT_PARTITION,
    INPUT_FORMAT_PARQUET,
    OUTPUT_FORMAT_PARQUET,
    SERDE_PARQUET,
    CatalogError,
    arrow_to_glue_type,
    as_folder,
    batch_create_partitions,
    batch_delete_partitions,
    get_partitions,
    glue_type_to_arrow,
    glue_type_to_sql,
    hive_escape,
    hive_unescape,
    is_hidden_key,
    list_objects,
    parse_s3_uri,
    partition_folder,
    partition_input,
    s3_uri,
    table_format,
    validate_column,
    validate_database,
    validate_partition_value,
    validate_s3_uri,
    validate_table,
)
from sales_cdc.resources.query_engine import QueryFailedError, QueryResult, UnsupportedSqlError

# Athena (Hive) refuses to write more partitions than this in one CTAS / INSERT INTO.
MAX_PARTITIONS_PER_WRITE = 100
# Above this many selected partitions under the table location, one listing of the table prefix is
# cheaper than one listing per partition.
LIST_TABLE_PREFIX_THRESHOLD = 64
_DEFAULT_CACHE_BYTES = 512 << 20
_PARQUET_COMPRESSION = {"SNAPPY": "snappy", "GZIP": "gzip", "ZSTD": "zstd", "LZ4": "lz4", "NONE": "none"}
_CTAS_PROPERTIES = {
    "format",
    "external_location",
    "partitioned_by",
    "write_compression",
    "parquet_compression",
    "table_type",
    "is_external",
    "bucketed_by",
    "bucket_count",
}
_NONDETERMINISTIC = (exp.Rand,) + tuple(
    cls for name in ("Random", "Uuid", "Randn") if (cls := getattr(exp, name, None)) is not None
)


# ----------------------------------------------------------------------------- catalog model
@dataclass(frozen=True)
class _Table:
    """A Glue table as the engine reads it."""

    database: str
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, Glue type)
    partition_keys: tuple[tuple[str, str], ...]
    location: str
    format: str  # json | parquet
    serde_parameters: Mapping[str, str]
    raw: Mapping[str, Any]

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def key_names(self) -> list[str]:
        return [name for name, _ in self.partition_keys]

    def arrow_fields(self) -> list[tuple[str, str, pa.DataType]]:
        return [(name, glue_type, glue_type_to_arrow(glue_type)) for name, glue_type in self.columns]


@dataclass(frozen=True)
class _Partition:
    values: tuple[str, ...]
    location: str


@dataclass
class _Context:
    """Per-statement state: id, tables resolved, bytes read, DuckDB views to drop afterwards."""

    query_id: str
    sql: str
    database: str
    tables: dict[tuple[str, str], _Table] = field(default_factory=dict)
    registered: list[str] = field(default_factory=list)
    bytes_scanned: int = 0
    objects_read: int = 0
    partitions_read: int = 0
    notes: list[str] = field(default_factory=list)

    def fail(self, reason: str) -> QueryFailedError:
        return QueryFailedError(reason, query_id=self.query_id, sql=self.sql)

    def unsupported(self, construct: str, hint: str = "") -> UnsupportedSqlError:
        return UnsupportedSqlError(construct, hint, query_id=self.query_id, sql=self.sql)


class _ObjectCache:
    """LRU of parsed S3 objects keyed by (bucket, key, ETag, schema); bounded by Arrow bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, pa.Table] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> pa.Table | None:
        with self._lock:
            table = self._items.get(key)
            if table is not None:
                self._items.move_to_end(key)
            return table

    def put(self, key: tuple, table: pa.Table) -> None:
        size = table.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = table
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes


class _DataError(Exception):
    """An object's content does not match the table (Athena's HIVE_BAD_DATA)."""


class _SlowPath(Exception):
    """The vectorised JSON reader cannot read an object exactly; use the row-by-row reader."""


# ----------------------------------------------------------------------------- the engine
class LocalAthena:
    """Athena SQL over the emulator's Glue catalog and S3, executed by DuckDB.

    One instance keeps one DuckDB connection and a cache of parsed objects; ``execute`` is
    serialised by a lock, so an instance may be shared between threads.
    """

    def __init__(
        self,
        endpoint_url: str | None,
        region: str = "us-east-1",
        credentials: Mapping[str, str] | None = None,
        workgroup: str | None = None,
        output_location: str | None = None,
        *,
        max_workers: int = 8,
        cache_max_bytes: int = _DEFAULT_CACHE_BYTES,
    ) -> None:
        """Connect to the emulator at ``endpoint_url``.

        ``workgroup`` supplies the output location (for CTAS without ``external_location``) and the
        scan cutoff when the workgroup has them; ``output_location`` overrides the former.
        """
        self.endpoint_url = endpoint_url
        self.region = region
        creds = credentials if credentials is not None else (LOCAL_CREDENTIALS if endpoint_url else None)
        clients = boto3_clients(endpoint_url, region, creds, services=("glue", "s3", "athena"))
        self.glue, self.s3, self._athena = clients["glue"], clients["s3"], clients["athena"]
        self.fs = _s3_filesystem(endpoint_url, region, creds)
        self.workgroup = workgroup
        self._output_location = output_location
        self._workgroup_loaded = False
        self._bytes_cutoff: int | None = None
        self._lock = threading.RLock()
        self._cache = _ObjectCache(cache_max_bytes)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="local-athena")
        self._con = duckdb.connect(":memory:")
        # Athena's session: UTC, NULLs last in either direction.
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET default_null_order = 'nulls_last'")
        # Unscaled result of an exact decimal division, rounded HALF_UP like Trino (see _decimal_divide).
        self._con.execute(
            "CREATE MACRO __trino_div_unscaled(ua, ub, m) AS "
            "sign(ua) * sign(ub) * ((2 * abs(ua) * m + abs(ub)) // (2 * abs(ub)))"
        )
        self._sequence = 0

    # ------------------------------------------------------------------ public API
    def execute(self, sql: str, database: str) -> QueryResult:
        """Run one Athena statement with ``database`` as the default database.

        Raises InvalidIdentifierError for a bad name (nothing runs), UnsupportedSqlError for a
        construct the engine cannot run and QueryFailedError when the statement fails.
        """
        validate_database(database)
        query_id = str(uuid.uuid4())
        started = time.perf_counter()
        ctx = _Context(query_id=query_id, sql=sql, database=database)
        with self._lock:
            try:
                columns, rows, statement_type = self._dispatch(ctx)
            except QueryFailedError:
                raise
            except duckdb.Error as exc:
                raise ctx.fail(_duckdb_reason(exc)) from exc
            except (CatalogError, _DataError) as exc:
                raise ctx.fail(str(exc)) from exc
            except pa.ArrowException as exc:
                raise ctx.fail(f"reading or writing data failed: {type(exc).__name__}: {exc}") from exc
            except SqlglotError as exc:
                raise ctx.fail(f"SYNTAX_ERROR: {exc}") from exc
            except ClientError as exc:
                raise ctx.fail(f"AWS API call failed: {exc}") from exc
            finally:
                for name in ctx.registered:
                    self._con.unregister(name)
        return QueryResult(
            columns=columns,
            rows=rows,
            bytes_scanned=ctx.bytes_scanned,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            query_id=query_id,
            statement_type=statement_type,
            extra={
                "objects_read": ctx.objects_read,
                "partitions_read": ctx.partitions_read,
                "notes": list(ctx.notes),
            },
        )

    def close(self) -> None:
        """Release the DuckDB connection and the reader threads."""
        with self._lock:
            self._pool.shutdown(wait=True)
            self._con.close()

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, ctx: _Context) -> tuple[list[str], list[tuple], str]:
        tokens = _tokenize(ctx.sql)
        if not tokens or all(t.kind == "SYMBOL" and t.text == ";" for t in tokens):
            raise ctx.fail("SYNTAX_ERROR: the statement is empty")
        utility = self._utility(ctx, tokens)
        if utility is not None:
            return utility
        try:
            statements = [s for s in sqlglot.parse(ctx.sql, read="athena") if s is not None]
        except ParseError as exc:
            raise ctx.fail(f"SYNTAX_ERROR: {exc.errors[0]['description'] if exc.errors else exc}") from exc
        if len(statements) != 1:
            raise ctx.fail(
                f"Athena runs one statement per query; got {len(statements)}. Run them one by one."
            )
        statement = statements[0]
        if isinstance(statement, exp.Query):
            columns, rows = self._select(ctx, statement)
            return columns, rows, "DML"
        if isinstance(statement, exp.Create):
            return self._create(ctx, statement)
        if isinstance(statement, exp.Insert):
            return self._insert(ctx, statement)
        if isinstance(statement, exp.Drop):
            return self._drop(ctx, statement)
        if isinstance(statement, exp.Command):
            raise ctx.unsupported(f"{str(statement.this).upper()} statement", _SUPPORTED_HINT)
        raise ctx.unsupported(f"{type(statement).__name__.upper()} statement", _SUPPORTED_HINT)

    def _utility(self, ctx: _Context, tokens: list[_Tok]) -> tuple[list[str], list[tuple], str] | None:
        """Hive DDL and SHOW statements (sqlglot leaves them unparsed): run them from their tokens."""
        words = [t.text.upper() if t.kind == "WORD" else "" for t in tokens[:4]]
        head = words + [""] * (4 - len(words))
        stream = _TokenStream(ctx, tokens)
        if head[:3] == ["MSCK", "REPAIR", "TABLE"]:
            stream.skip(3)
            return self._msck_repair(ctx, stream)
        if head[:2] == ["ALTER", "TABLE"]:
            stream.skip(2)
            return self._alter_table(ctx, stream)
        if head[:2] == ["SHOW", "PARTITIONS"]:
            stream.skip(2)
            return self._show_partitions(ctx, stream)
        if head[:2] == ["SHOW", "TABLES"]:
            stream.skip(2)
            return self._show_tables(ctx, stream)
        if head[:2] in (["SHOW", "DATABASES"], ["SHOW", "SCHEMAS"]):
            stream.skip(2)
            stream.end()
            names = sorted(
                db["Name"]
                for page in self.glue.get_paginator("get_databases").paginate()
                for db in page["DatabaseList"]
            )
            return ["database_name"], [(name,) for name in names], "UTILITY"
        if head[:2] == ["SHOW", "COLUMNS"] or head[0] in ("DESCRIBE", "DESC"):
            stream.skip(2 if head[0] == "SHOW" else 1)
            if head[0] == "SHOW":
                stream.accept("IN") or stream.accept("FROM")
            return self._describe(ctx, stream)
        if head[0] == "SHOW":
            raise ctx.unsupported(f"SHOW {head[1]}".strip(), _SUPPORTED_HINT)
        if head[:2] == ["CREATE", "EXTERNAL"]:
            raise ctx.unsupported(
                "CREATE EXTERNAL TABLE",
                "the raw table is created by the crawler and derived tables by CTAS "
                "(CREATE TABLE ... WITH (...) AS SELECT)",
            )
        if head[0] in (
            "UPDATE",
            "DELETE",
            "MERGE",
            "UNLOAD",
            "EXPLAIN",
            "VACUUM",
            "OPTIMIZE",
            "PREPARE",
            "EXECUTE",
        ):
            raise ctx.unsupported(f"{head[0]} statement", _SUPPORTED_HINT)
        return None

    # ------------------------------------------------------------------ catalog access
    def _table(self, ctx: _Context, database: str, name: str) -> _Table:
        key = (database, name)
        if key in ctx.tables:
            return ctx.tables[key]
        raw = self._get_glue_table(database, name)
        if raw is None:
            raise ctx.fail(f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{database}.{name}' does not exist")
        table = self._table_from_glue(raw, database, name)
        ctx.tables[key] = table
        return table

    def _get_glue_table(self, database: str, name: str) -> dict[str, Any] | None:
        try:
            return self.glue.get_table(DatabaseName=database, Name=name)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                return None
            raise

    @staticmethod
    def _table_from_glue(raw: Mapping[str, Any], database: str, name: str) -> _Table:
        sd = raw.get("StorageDescriptor") or {}
        columns = tuple((validate_column(c["Name"].lower()), c["Type"]) for c in sd.get("Columns") or [])
        keys = tuple(
            (validate_column(k["Name"].lower()), k.get("Type", "string"))
            for k in raw.get("PartitionKeys") or []
        )
        location = sd.get("Location") or ""
        if not location:
            raise CatalogError(f"table {database}.{name} has no Location in the Glue catalog")
        return _Table(
            database=database,
            name=name,
            columns=columns,
            partition_keys=keys,
            location=location,
            format=table_format({**raw, "DatabaseName": database, "Name": name}),
            serde_parameters=dict((sd.get("SerdeInfo") or {}).get("Parameters") or {}),
            raw=raw,
        )

    def _partitions(self, table: _Table, expression: str | None = None) -> list[_Partition]:
        partitions = []
        for item in get_partitions(self.glue, table.database, table.name, expression):
            values = tuple(item["Values"])
            location = (item.get("StorageDescriptor") or {}).get("Location") or (
                as_folder(table.location) + partition_folder(table.key_names, values)
            )
            partitions.append(_Partition(values, location))
        return sorted(partitions, key=lambda p: p.values)

    def _workgroup_settings(self) -> None:
        if self._workgroup_loaded or not self.workgroup:
            return
        self._workgroup_loaded = True
        try:
            config = (
                self._athena.get_work_group(WorkGroup=self.workgroup)["WorkGroup"].get("Configuration") or {}
            )
        except ClientError:
            return
        if self._output_location is None:
            self._output_location = (config.get("ResultConfiguration") or {}).get("OutputLocation")
        cutoff = config.get("BytesScannedCutoffPerQuery")
        self._bytes_cutoff = int(cutoff) if cutoff else None

    def _resolve_table_ref(self, ctx: _Context, table: exp.Table) -> tuple[str, str]:
        """Validated (database, table) of a table reference, lower-cased like Athena."""
        catalog = table.catalog
        if catalog and catalog.lower() != "awsdatacatalog":
            raise ctx.unsupported(
                f"catalog {catalog!r}", "only the Glue catalog (awsdatacatalog) is available"
            )
        database = validate_database((table.db or ctx.database).lower())
        name = validate_table(table.name.lower())
        return database, name

    # ------------------------------------------------------------------ SELECT
    def _select(self, ctx: _Context, query: exp.Query) -> tuple[list[str], list[tuple]]:
        sql = self._prepare(ctx, query, require_names=False)
        cursor = self._con.execute(sql)
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()

    def _query_arrow(self, ctx: _Context, query: exp.Query, *, require_names: bool) -> pa.Table:
        sql = self._prepare(ctx, query, require_names=require_names)
        return self._con.sql(sql).to_arrow_table()

    def _prepare(self, ctx: _Context, query: exp.Query, *, require_names: bool) -> str:
        """Resolve tables, prune and load partitions, translate to DuckDB SQL."""
        cte_names = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
        for table in list(query.find_all(exp.Table)):
            if not table.name or isinstance(table.this, exp.Func):
                continue
            if not table.args.get("db") and table.name.lower() in cte_names:
                continue
            for unsupported_arg in ("version", "sample", "when"):
                if table.args.get(unsupported_arg):
                    raise ctx.unsupported(f"{unsupported_arg.upper()} clause on table {table.name}")
            database, name = self._resolve_table_ref(ctx, table)
            table.set("catalog", None)
            table.set("db", exp.to_identifier(database))
            table.set("this", exp.to_identifier(name))
            self._table(ctx, database, name)
        if require_names:
            _check_named_outputs(ctx, query)
        # Athena names unaliased expressions _col<position>; name them before qualification invents names.
        _name_outputs(query)

        schema = MappingSchema(
            {
                database: {
                    table.name: {
                        column: glue_type_to_sql(glue_type)
                        for column, glue_type in (*table.columns, *table.partition_keys)
                    }
                    for (db, _), table in ctx.tables.items()
                    if db == database
                }
                for database in {db for db, _ in ctx.tables}
            },
            dialect="trino",
        )
        uses_path = any(column.name.lower() == "$path" for column in query.find_all(exp.Column))
        try:
            prepared = qualify(
                query.copy(),
                schema=schema,
                dialect="trino",
                db=ctx.database,
                validate_qualify_columns=False,
                quote_identifiers=False,
                identify=False,
            )
        except Exception as exc:  # noqa: BLE001 - qualification is an aid; DuckDB reports real errors
            ctx.notes.append(f"qualification skipped: {exc}")
            prepared = query
        try:
            annotate_types(prepared, schema=schema, dialect="trino")
        except Exception as exc:  # noqa: BLE001
            ctx.notes.append(f"type annotation skipped: {exc}")
        try:
            pushdown = _pushdown_predicates(prepared)
        except Exception as exc:  # noqa: BLE001 - without pruning the result is the same, only slower
            ctx.notes.append(f"partition pruning skipped: {exc}")
            pushdown = {}
        resolver = _projection_resolver(prepared)

        for table in list(prepared.find_all(exp.Table)):
            if not table.args.get("db") or isinstance(table.this, exp.Func):
                continue
            definition = ctx.tables.get((table.db, table.name))
            if definition is None:
                continue
            partitions = self._select_partitions(ctx, definition, pushdown.get(id(table)))
            data = self._scan(ctx, definition, partitions, with_path=uses_path)
            self._sequence += 1
            view = f"__athena_scan_{self._sequence}"
            self._con.register(view, data)
            ctx.registered.append(view)
            alias = table.alias or table.name
            table.replace(
                exp.Table(
                    this=exp.to_identifier(view, quoted=True),
                    alias=exp.TableAlias(this=exp.to_identifier(alias)),
                )
            )
        _apply_trino_semantics(ctx, prepared, resolver)
        _name_outputs(prepared)
        try:
            return prepared.sql(dialect="duckdb", identify=True, unsupported_level=ErrorLevel.RAISE)
        except UnsupportedError as exc:
            raise ctx.unsupported(f"construct ({exc})") from exc

    # ------------------------------------------------------------------ partitions and scans
    def _select_partitions(
        self, ctx: _Context, table: _Table, alternatives: list[list[exp.Expression]] | None
    ) -> list[_Partition] | None:
        """The registered partitions a table reference needs (None for an unpartitioned table)."""
        if not table.partition_keys:
            return None
        predicate = _partition_predicate(alternatives, table.key_names)
        if predicate is None:
            return self._partitions(table)
        # Let the catalog narrow the list first, as Athena does (GetPartitions with an expression):
        # listing every partition of a long-lived table is the slow part. The exact predicate is still
        # evaluated below, so a loose catalog filter costs time, never correctness.
        expression = _glue_expression(predicate, dict(table.partition_keys))
        partitions: list[_Partition] | None = None
        if expression:
            try:
                partitions = self._partitions(table, expression)
            except ClientError as exc:
                ctx.notes.append(f"catalog partition filter {expression!r} refused ({exc}); listing all")
        if partitions is None:
            partitions = self._partitions(table)
        if not partitions:
            return partitions
        try:
            return self._evaluate_partition_predicate(table, partitions, predicate)
        except Exception as exc:  # noqa: BLE001 - reading every partition is correct, only slower
            ctx.notes.append(f"partition predicate not evaluated ({exc}); all partitions read")
            return partitions

    def _evaluate_partition_predicate(
        self, table: _Table, partitions: Sequence[_Partition], predicate: exp.Expression
    ) -> list[_Partition]:
        arrays = {}
        for index, (key, glue_type) in enumerate(table.partition_keys):
            values = [
                None if p.values[index] == HIVE_DEFAULT_PARTITION else p.values[index] for p in partitions
            ]
            arrays[key] = pc.cast(pa.array(values, pa.string()), glue_type_to_arrow(glue_type))
        arrays["__partition_index"] = pa.array(range(len(partitions)), pa.int64())
        self._sequence += 1
        view = f"__athena_partitions_{self._sequence}"
        self._con.register(view, pa.table(arrays))
        try:
            where = predicate.sql(dialect="duckdb", identify=True, unsupported_level=ErrorLevel.RAISE)
            rows = self._con.execute(f'SELECT "__partition_index" FROM "{view}" WHERE {where}').fetchall()
        finally:
            self._con.unregister(view)
        return [partitions[row[0]] for row in sorted(rows)]

    def _scan(
        self, ctx: _Context, table: _Table, partitions: list[_Partition] | None, *, with_path: bool
    ) -> pa.Table:
        """Read a table's objects (of the given partitions) into one Arrow table typed per Glue."""
        fields = table.arrow_fields()
        if partitions is None:
            locations = [(table.location, ())]
        else:
            locations = [(p.location, p.values) for p in partitions]
            ctx.partitions_read += len(partitions)
        listed = self._list_locations([loc for loc, _ in locations], table.location)
        tasks: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []
        for location, values in locations:
            bucket, _ = parse_s3_uri(location)
            tasks.extend((bucket, obj, values) for obj in listed[location])
        total = sum(int(obj["Size"]) for _, obj, _ in tasks)
        self._workgroup_settings()
        if self._bytes_cutoff is not None and ctx.bytes_scanned + total > self._bytes_cutoff:
            raise ctx.fail(
                f"Query cancelled! Bytes scanned limit was exceeded: reading {table.qualified} needs "
                f"{ctx.bytes_scanned + total} bytes, the workgroup {self.workgroup} allows "
                f"{self._bytes_cutoff}"
            )
        schema_key = (table.format, tuple(fields), tuple(sorted(table.serde_parameters.items())))

        def read(task: tuple[str, dict[str, Any], tuple[str, ...]]) -> pa.Table:
            bucket, obj, values = task
            data = self._read_object(table, fields, schema_key, bucket, obj)
            return _with_partition_columns(
                data, table, values, s3_uri(bucket, obj["Key"]) if with_path else None
            )

        pieces = list(self._pool.map(read, tasks)) if len(tasks) > 1 else [read(t) for t in tasks]
        ctx.bytes_scanned += total
        ctx.objects_read += len(tasks)
        if not pieces:
            empty = pa.table({name: pa.array([], arrow_type) for name, _, arrow_type in fields})
            return _with_partition_columns(
                empty, table, tuple("" for _ in table.partition_keys), "" if with_path else None
            )
        return pa.concat_tables(pieces)

    def _list_locations(
        self, locations: Sequence[str], table_location: str
    ) -> dict[str, list[dict[str, Any]]]:
        """Visible objects under each location, listing the table prefix once when that is cheaper."""
        result: dict[str, list[dict[str, Any]]] = {location: [] for location in locations}
        table_bucket, table_prefix = parse_s3_uri(table_location)
        table_prefix = as_folder(table_prefix)
        under: dict[str, str] = {}
        separate: list[str] = []
        for location in dict.fromkeys(locations):
            bucket, prefix = parse_s3_uri(location)
            prefix = as_folder(prefix)
            if bucket == table_bucket and prefix.startswith(table_prefix) and prefix != table_prefix:
                under[prefix] = location
            else:
                separate.append(location)
        if len(under) > LIST_TABLE_PREFIX_THRESHOLD:
            for obj in list_objects(self.s3, table_bucket, table_prefix):
                key = obj["Key"]
                # Every partition folder that is an ancestor of the key reads it (reads are recursive).
                for cut in (i for i, ch in enumerate(key) if ch == "/" and i >= len(table_prefix)):
                    location = under.get(key[: cut + 1])
                    if location is not None and not is_hidden_key(key[cut + 1 :]):
                        result[location].append(obj)
        else:
            separate.extend(under.values())

        def list_one(location: str) -> tuple[str, list[dict[str, Any]]]:
            bucket, prefix = parse_s3_uri(location)
            prefix = as_folder(prefix)
            return location, [
                o for o in list_objects(self.s3, bucket, prefix) if not is_hidden_key(o["Key"][len(prefix) :])
            ]

        for location, objects in self._pool.map(list_one, separate):
            result[location] = objects
        return result

    def _read_object(
        self,
        table: _Table,
        fields: list[tuple[str, str, pa.DataType]],
        schema_key: tuple,
        bucket: str,
        obj: Mapping[str, Any],
    ) -> pa.Table:
        key = obj["Key"]
        cache_key = (bucket, key, obj.get("ETag"), schema_key)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        where = s3_uri(bucket, key)
        try:
            with self.fs.open_input_stream(f"{bucket}/{key}", compression=None) as stream:
                raw = stream.read()
        except OSError as exc:  # e.g. deleted between listing and reading, as on Athena
            raise _DataError(f"HIVE_CANNOT_OPEN_SPLIT: Error opening {where}: {exc}") from exc
        if table.format == "parquet":
            data = _parse_parquet(raw, fields, where)
        else:
            data = _parse_json(raw, fields, table.serde_parameters, where)
        self._cache.put(cache_key, data)
        return data

    # ------------------------------------------------------------------ CTAS / INSERT / DROP / CREATE
    def _create(self, ctx: _Context, create: exp.Create) -> tuple[list[str], list[tuple], str]:
        kind = (create.args.get("kind") or "").upper()
        if kind in ("SCHEMA", "DATABASE"):
            name = validate_database(create.this.name.lower())
            try:
                self.glue.create_database(DatabaseInput={"Name": name})
            except ClientError as exc:
                if exc.response.get("Error", {}).get(
                    "Code"
                ) != "AlreadyExistsException" or not create.args.get("exists"):
                    raise ctx.fail(f"Database {name} already exists") from exc
            return [], [], "DDL"
        if kind != "TABLE":
            raise ctx.unsupported(f"CREATE {kind}", _SUPPORTED_HINT)
        if create.expression is None:
            raise ctx.unsupported(
                "CREATE TABLE without AS SELECT", "use CTAS: CREATE TABLE t WITH (...) AS SELECT ..."
            )
        if not isinstance(create.this, exp.Table):
            raise ctx.unsupported("a column list in CTAS", "name the columns with aliases in the SELECT")
        return self._ctas(ctx, create)

    def _ctas(self, ctx: _Context, create: exp.Create) -> tuple[list[str], list[tuple], str]:
        database, name = self._resolve_table_ref(ctx, create.this)
        props = _ctas_properties(ctx, create)
        fmt = str(props.get("format", "PARQUET")).upper()
        if fmt != "PARQUET":
            raise ctx.unsupported(f"CTAS format = '{fmt}'", "the local engine writes format = 'PARQUET'")
        if str(props.get("table_type", "HIVE")).upper() != "HIVE":
            raise ctx.unsupported(
                f"CTAS table_type = '{props['table_type']}'", "use Hive tables (the default)"
            )
        if "bucketed_by" in props or "bucket_count" in props:
            raise ctx.unsupported("CTAS bucketing (bucketed_by / bucket_count)")
        compression_name = str(
            props.get("write_compression") or props.get("parquet_compression") or "SNAPPY"
        ).upper()
        if compression_name not in _PARQUET_COMPRESSION:
            raise ctx.unsupported(
                f"Parquet compression '{compression_name}'", f"use one of {sorted(_PARQUET_COMPRESSION)}"
            )
        partitioned_by = props.get("partitioned_by", [])
        if not isinstance(partitioned_by, list):
            raise ctx.fail("partitioned_by must be an ARRAY['column', ...]")
        partitioned_by = [validate_column(str(c).lower()) for c in partitioned_by]

        if self._get_glue_table(database, name) is not None:
            if create.args.get("exists"):
                return ["rows"], [(0,)], "DDL"
            raise ctx.fail(f"Table '{database}.{name}' already exists (AlreadyExistsException)")
        self._workgroup_settings()
        location = props.get("external_location")
        if location is None:
            if not self._output_location:
                raise ctx.fail(
                    "CTAS without external_location writes under the workgroup's output location, and "
                    "none is "
                    "configured; add external_location = 's3://...' or configure the workgroup"
                )
            location = as_folder(self._output_location) + f"tables/{ctx.query_id}/"
        location = as_folder(validate_s3_uri(str(location)))
        bucket, prefix = parse_s3_uri(location)
        if self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0):
            raise ctx.fail(
                f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{database}.{name}' already exists: "
                f"{location}. Athena's CTAS needs an empty location: delete the objects "
                "(DROP TABLE keeps them) "
                "or choose another location"
            )

        data = self._query_arrow(ctx, create.expression, require_names=True)
        names = [n.lower() for n in data.column_names]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ctx.fail(f"Column name '{duplicates[0]}' specified more than once")
        for column in names:
            validate_column(column)
        data = data.rename_columns(names)
        if partitioned_by:
            if names[-len(partitioned_by) :] != partitioned_by:
                raise ctx.fail(
                    f"HIVE_COLUMN_ORDER_MISMATCH: partition columns {partitioned_by} must be the last "
                    "columns of "
                    f"the SELECT, in the same order as partitioned_by; the SELECT has {names}"
                )
            if len(partitioned_by) == len(names):
                raise ctx.fail("a CTAS table needs at least one column that is not a partition column")
        data = _normalise_for_write(data)
        data_columns = names[: len(names) - len(partitioned_by)]
        columns = [
            {"Name": c, "Type": arrow_to_glue_type(data.schema.field(c).type, c)} for c in data_columns
        ]
        keys = [{"Name": c, "Type": arrow_to_glue_type(data.schema.field(c).type, c)} for c in partitioned_by]
        written = self._write_parquet(
            ctx,
            data,
            data_columns,
            partitioned_by,
            _PARQUET_COMPRESSION[compression_name],
            lambda values: None,
            location,
        )
        table_input = _parquet_table_input(name, location, columns, keys, compression_name)
        self.glue.create_table(DatabaseName=database, TableInput=table_input)
        if keys:
            inputs = [partition_input(table_input, values, loc) for values, loc in written]
            errors = batch_create_partitions(self.glue, database, name, inputs)
            if errors:
                raise ctx.fail(f"registering partitions of {database}.{name} failed: {'; '.join(errors[:3])}")
        return ["rows"], [(data.num_rows,)], "DDL"

    def _insert(self, ctx: _Context, insert: exp.Insert) -> tuple[list[str], list[tuple], str]:
        if insert.args.get("overwrite"):
            raise ctx.unsupported("INSERT OVERWRITE", "Athena has no INSERT OVERWRITE for Hive tables either")
        target = insert.this
        column_list: list[str] | None = None
        if isinstance(target, exp.Schema):
            column_list = [validate_column(c.name.lower()) for c in target.expressions]
            target = target.this
        if not isinstance(target, exp.Table):
            raise ctx.unsupported(f"INSERT INTO {target.sql('trino')}")
        database, name = self._resolve_table_ref(ctx, target)
        table = self._table(ctx, database, name)
        if table.format != "parquet":
            raise ctx.unsupported(
                f"INSERT INTO the {table.format} table {table.qualified}",
                "the local engine inserts into Parquet tables (made by CTAS)",
            )
        query = insert.expression
        if not isinstance(query, exp.Query):
            query = exp.select("*").from_(
                exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier("v")))
            )
        data = self._query_arrow(ctx, query, require_names=False)
        all_columns = [*table.columns, *table.partition_keys]
        target_names = [c for c, _ in all_columns]
        if column_list is not None:
            unknown = [c for c in column_list if c not in target_names]
            if unknown:
                raise ctx.fail(
                    f"Insert column name does not exist in target table {table.qualified}: {unknown[0]}"
                )
            sources = column_list
        else:
            sources = target_names
        if data.num_columns != len(sources):
            raise ctx.fail(
                f"Insert query has {data.num_columns} column(s) but {table.qualified} expects {len(sources)} "
                f"({', '.join(sources)})"
            )
        by_name = dict(zip(sources, data.columns, strict=True))
        arrays = []
        for column, glue_type in all_columns:
            arrow_type = glue_type_to_arrow(glue_type)
            source = by_name.get(column)
            if source is None:
                arrays.append(pa.nulls(data.num_rows, arrow_type))
                continue
            try:
                arrays.append(source.cast(arrow_type) if source.type != arrow_type else source)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ctx.fail(
                    f"Insert query has mismatched column types: {column} is {source.type} in the query and "
                    f"{glue_type} in {table.qualified} ({exc})"
                ) from exc
        rows = pa.table(arrays, names=target_names)
        existing = {p.values: p.location for p in self._partitions(table)} if table.partition_keys else {}
        written = self._write_parquet(
            ctx,
            rows,
            [c for c, _ in table.columns],
            table.key_names,
            _PARQUET_COMPRESSION.get(
                str(table.raw.get("Parameters", {}).get("parquet.compression", "SNAPPY")).upper(), "snappy"
            ),
            existing.get,
            as_folder(table.location),
        )
        new = [(values, loc) for values, loc in written if values not in existing]
        if new:
            inputs = [partition_input(table.raw, values, loc) for values, loc in new]
            errors = batch_create_partitions(self.glue, database, name, inputs)
            if errors:
                raise ctx.fail(f"registering partitions of {table.qualified} failed: {'; '.join(errors[:3])}")
        return ["rows"], [(rows.num_rows,)], "DML"

    def _write_parquet(
        self,
        ctx: _Context,
        data: pa.Table,
        data_columns: Sequence[str],
        partition_columns: Sequence[str],
        compression: str,
        location_of: Callable[[tuple[str, ...]], str | None],
        base_location: str,
    ) -> list[tuple[tuple[str, ...], str]]:
        """Write rows as Parquet (one object per partition); returns (partition values, location)."""
        if not partition_columns:
            if data.num_rows:
                bucket, prefix = parse_s3_uri(base_location)
                self._put_parquet(
                    data.select(list(data_columns)),
                    bucket,
                    as_folder(prefix) + f"{ctx.query_id}_00000.parquet",
                    compression,
                )
            return []
        groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
        texts = [[_partition_text(v) for v in data.column(c).to_pylist()] for c in partition_columns]
        for row, values in enumerate(zip(*texts, strict=True)):
            groups[tuple(values)].append(row)
        if len(groups) > MAX_PARTITIONS_PER_WRITE:
            raise ctx.fail(
                f"HIVE_TOO_MANY_OPEN_PARTITIONS: the statement would write {len(groups)} partitions; "
                "Athena writes "
                f"at most {MAX_PARTITIONS_PER_WRITE} per CTAS or INSERT INTO - split it by partition ranges"
            )
        written = []
        body = data.select(list(data_columns))
        for number, (values, rows) in enumerate(sorted(groups.items())):
            location = location_of(values) or as_folder(base_location) + partition_folder(
                partition_columns, values
            )
            bucket, prefix = parse_s3_uri(location)
            part = body.take(pa.array(rows, pa.int64()))
            self._put_parquet(
                part, bucket, as_folder(prefix) + f"{ctx.query_id}_{number:05d}.parquet", compression
            )
            written.append((values, as_folder(location)))
        return written

    def _put_parquet(self, data: pa.Table, bucket: str, key: str, compression: str) -> None:
        pq.write_table(data, f"{bucket}/{key}", filesystem=self.fs, compression=compression)

    def _drop(self, ctx: _Context, drop: exp.Drop) -> tuple[list[str], list[tuple], str]:
        kind = (drop.args.get("kind") or "").upper()
        if kind not in ("TABLE",):
            raise ctx.unsupported(f"DROP {kind}", _SUPPORTED_HINT)
        tables = drop.args.get("tables") or [drop.this]
        for table in tables:
            database, name = self._resolve_table_ref(ctx, table)
            # Athena drops the catalog entry of an external table and keeps its data; so does this engine.
            try:
                self.glue.delete_table(DatabaseName=database, Name=name)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                    raise
                if not drop.args.get("exists"):
                    raise ctx.fail(f"Table not found {database}.{name} (SemanticException)") from exc
        return [], [], "DDL"

    # ------------------------------------------------------------------ partition DDL and SHOW
    def _msck_repair(self, ctx: _Context, stream: _TokenStream) -> tuple[list[str], list[tuple], str]:
        database, name = stream.table_name()
        stream.end()
        table = self._table(ctx, database, name)
        if not table.partition_keys:
            return ["result"], [(f"Table {name} is not partitioned; nothing to repair",)], "DDL"
        bucket, prefix = parse_s3_uri(table.location)
        prefix = as_folder(prefix)
        keys = table.key_names
        found: dict[tuple[str, ...], str] = {}
        for obj in list_objects(self.s3, bucket, prefix):
            relative = obj["Key"][len(prefix) :]
            if is_hidden_key(relative):
                continue
            parts = relative.split("/")[:-1]
            if len(parts) < len(keys):
                continue
            values = []
            for key, part in zip(keys, parts, strict=False):
                folder_key, sep, value = part.partition("=")
                if not sep or folder_key.lower() != key:
                    break
                values.append(hive_unescape(value))
            else:
                found.setdefault(tuple(values), prefix + "".join(p + "/" for p in parts[: len(keys)]))
        existing = {p.values for p in self._partitions(table)}
        missing = sorted(v for v in found if v not in existing)
        if missing:
            inputs = [partition_input(table.raw, values, s3_uri(bucket, found[values])) for values in missing]
            errors = batch_create_partitions(self.glue, database, name, inputs)
            if errors:
                raise ctx.fail(f"MSCK REPAIR TABLE {table.qualified} failed: {'; '.join(errors[:3])}")
        specs = [partition_folder(keys, values).rstrip("/") for values in missing]
        rows = []
        if specs:
            rows.append(("Partitions not in metastore:\t" + "\t".join(f"{name}:{s}" for s in specs),))
            rows.extend((f"Repair: Added partition to metastore {name}:{s}",) for s in specs)
        return ["result"], rows, "DDL"

    def _alter_table(self, ctx: _Context, stream: _TokenStream) -> tuple[list[str], list[tuple], str]:
        database, name = stream.table_name()
        action = stream.word()
        if action not in ("ADD", "DROP"):
            raise ctx.unsupported(f"ALTER TABLE ... {action}", "the local engine runs ADD/DROP PARTITION")
        if_clause = stream.accept("IF")
        if if_clause:
            if action == "ADD":
                stream.expect("NOT")
            stream.expect("EXISTS")
        if stream.peek_word() != "PARTITION":
            raise ctx.unsupported(
                f"ALTER TABLE ... {action} {stream.peek_word()}", "only partitions can be added or dropped"
            )
        specs: list[tuple[dict[str, str], str | None]] = []
        while stream.accept("PARTITION"):
            spec = stream.partition_spec()
            location = None
            if action == "ADD" and stream.accept("LOCATION"):
                location = as_folder(validate_s3_uri(stream.string()))
            specs.append((spec, location))
            if action == "DROP":
                stream.accept(",")
        stream.end()
        table = self._table(ctx, database, name)
        keys = table.key_names
        for spec, _ in specs:
            for key, value in spec.items():
                if key not in keys:
                    raise ctx.fail(
                        f"partition key {key!r} is not a partition column of {table.qualified} ({keys})"
                    )
                validate_partition_value(key, value)
        existing = {p.values: p for p in self._partitions(table)}
        if action == "ADD":
            inputs = []
            for spec, location in specs:
                if set(spec) != set(keys):
                    raise ctx.fail(
                        f"ADD PARTITION needs a value for every partition key {keys}; got {list(spec)}"
                    )
                values = tuple(spec[k] for k in keys)
                if values in existing or any(values == tuple(i["Values"]) for i in inputs):
                    if if_clause:
                        continue
                    raise ctx.fail(
                        f"Partition already exists: {partition_folder(keys, values).rstrip('/')} "
                        "(AlreadyExistsException)"
                    )
                location = location or as_folder(table.location) + partition_folder(keys, values)
                inputs.append(partition_input(table.raw, values, location))
            errors = batch_create_partitions(self.glue, database, name, inputs)
            if errors:
                raise ctx.fail(f"ALTER TABLE {table.qualified} ADD PARTITION failed: {'; '.join(errors[:3])}")
        else:
            doomed: list[tuple[str, ...]] = []
            for spec, _ in specs:
                matches = [v for v in existing if all(v[keys.index(k)] == value for k, value in spec.items())]
                if not matches and not if_clause:
                    raise ctx.fail(f"Partition not found: {spec} in {table.qualified}")
                doomed.extend(m for m in matches if m not in doomed)
            errors = batch_delete_partitions(self.glue, database, name, doomed)
            if errors:
                raise ctx.fail(
                    f"ALTER TABLE {table.qualified} DROP PARTITION failed: {'; '.join(errors[:3])}"
                )
        return [], [], "DDL"

    def _show_partitions(self, ctx: _Context, stream: _TokenStream) -> tuple[list[str], list[tuple], str]:
        database, name = stream.table_name()
        stream.end()
        table = self._table(ctx, database, name)
        if not table.partition_keys:
            raise ctx.fail(f"Table {table.qualified} is not partitioned")
        rows = [
            ("/".join(f"{k}={hive_escape(v)}" for k, v in zip(table.key_names, p.values, strict=True)),)
            for p in self._partitions(table)
        ]
        return ["partition"], rows, "UTILITY"

    def _show_tables(self, ctx: _Context, stream: _TokenStream) -> tuple[list[str], list[tuple], str]:
        database = ctx.database
        if stream.accept("IN") or stream.accept("FROM"):
            database = validate_database(stream.word().lower())
        pattern = stream.string() if stream.peek_kind() == "STRING" else None
        stream.end()
        names = []
        for page in self.glue.get_paginator("get_tables").paginate(DatabaseName=database):
            names.extend(t["Name"] for t in page.get("TableList", []))
        if pattern is not None:
            regex = re.compile("|".join(p.replace("*", ".*") for p in pattern.split("|")), re.IGNORECASE)
            names = [n for n in names if regex.fullmatch(n)]
        return ["tab_name"], [(n,) for n in sorted(names)], "UTILITY"

    def _describe(self, ctx: _Context, stream: _TokenStream) -> tuple[list[str], list[tuple], str]:
        database, name = stream.table_name()
        stream.end()
        table = self._table(ctx, database, name)
        rows = [(c, t, "") for c, t in table.columns]
        rows += [(k, t, "partition key") for k, t in table.partition_keys]
        return ["col_name", "data_type", "comment"], rows, "UTILITY"


_SUPPORTED_HINT = (
    "it runs SELECT/WITH, CREATE TABLE ... WITH (format='PARQUET', ...) AS SELECT, INSERT INTO, "
    "DROP TABLE, MSCK REPAIR TABLE, ALTER TABLE ADD/DROP PARTITION, SHOW PARTITIONS/TABLES/DATABASES, "
    "DESCRIBE and CREATE DATABASE"
)


# ----------------------------------------------------------------------------- token parsing (DDL)
@dataclass(frozen=True)
class _Tok:
    kind: str  # WORD | IDENT (quoted identifier) | STRING | NUMBER | SYMBOL | OTHER
    text: str


_TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>\s+|--[^\n]*|/\*.*?\*/)
    |'(?P<string>(?:[^']|'')*)'
    |`(?P<backtick>[^`]*)`
    |"(?P<quoted>(?:[^"]|"")*)"
    |(?P<number>\d+(?:\.\d+)?)
    |(?P<word>[A-Za-z_$][A-Za-z0-9_$]*)
    |(?P<symbol>[(),=.;*])
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokenize(sql: str) -> list[_Tok]:
    """Tokens of a Hive DDL statement; characters outside its simple grammar become OTHER tokens
    (which the DDL parser refuses, while other statements go on to sqlglot)."""
    tokens: list[_Tok] = []
    position = 0
    while position < len(sql):
        match = _TOKEN_PATTERN.match(sql, position)
        if match is None:
            tokens.append(_Tok("OTHER", sql[position]))
            position += 1
            continue
        position = match.end()
        kind = match.lastgroup
        if kind == "space":
            continue
        if kind == "string":
            tokens.append(_Tok("STRING", match.group("string").replace("''", "'")))
        elif kind in ("backtick", "quoted"):
            tokens.append(_Tok("IDENT", match.group(kind).replace('""', '"')))
        elif kind == "number":
            tokens.append(_Tok("NUMBER", match.group("number")))
        elif kind == "word":
            tokens.append(_Tok("WORD", match.group("word")))
        else:
            tokens.append(_Tok("SYMBOL", match.group("symbol")))
    return tokens


class _TokenStream:
    """A cursor over the tokens of the Hive DDL statements sqlglot leaves unparsed."""

    def __init__(self, ctx: _Context, tokens: list[_Tok]) -> None:
        self.ctx = ctx
        self.tokens = tokens
        self.index = 0

    def skip(self, count: int) -> None:
        self.index += count

    def _current(self) -> _Tok | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def peek_word(self) -> str:
        token = self._current()
        if token is None:
            return ""
        return token.text.upper() if token.kind == "WORD" else token.text

    def peek_kind(self) -> str | None:
        token = self._current()
        return token.kind if token else None

    def accept(self, word: str) -> bool:
        token = self._current()
        if token is not None and token.kind in ("WORD", "SYMBOL") and token.text.upper() == word:
            self.index += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.accept(word):
            raise self.ctx.fail(f"SYNTAX_ERROR: expected {word} but found {self.peek_word() or 'the end'!r}")

    def word(self) -> str:
        token = self._current()
        if token is None or token.kind not in ("WORD", "IDENT"):
            raise self.ctx.fail(
                f"SYNTAX_ERROR: expected a keyword but found {self.peek_word() or 'the end'!r}"
            )
        self.index += 1
        return token.text.upper() if token.kind == "WORD" else token.text

    def name(self) -> str:
        token = self._current()
        if token is None or token.kind not in ("WORD", "IDENT"):
            raise self.ctx.fail(f"SYNTAX_ERROR: expected a name but found {self.peek_word() or 'the end'!r}")
        self.index += 1
        return token.text.lower()

    def table_name(self) -> tuple[str, str]:
        parts = [self.name()]
        while self.accept("."):
            parts.append(self.name())
        if len(parts) == 3:
            if parts[0] != "awsdatacatalog":
                raise self.ctx.unsupported(f"catalog {parts[0]!r}", "only the Glue catalog is available")
            parts = parts[1:]
        if len(parts) == 2:
            return validate_database(parts[0]), validate_table(parts[1])
        if len(parts) == 1:
            return validate_database(self.ctx.database), validate_table(parts[0])
        raise self.ctx.fail(f"SYNTAX_ERROR: {'.'.join(parts)} is not a table name")

    def string(self) -> str:
        token = self._current()
        if token is None or token.kind != "STRING":
            raise self.ctx.fail(
                f"SYNTAX_ERROR: expected a quoted string but found {self.peek_word() or 'the end'!r}"
            )
        self.index += 1
        return token.text

    def value(self) -> str:
        token = self._current()
        if token is None or token.kind not in ("STRING", "NUMBER"):
            raise self.ctx.fail(
                f"SYNTAX_ERROR: expected a partition value but found {self.peek_word() or 'the end'!r}"
            )
        self.index += 1
        return token.text

    def partition_spec(self) -> dict[str, str]:
        self.expect("(")
        spec: dict[str, str] = {}
        while True:
            key = validate_column(self.name())
            self.expect("=")
            spec[key] = self.value()
            if not self.accept(","):
                break
        self.expect(")")
        return spec

    def end(self) -> None:
        while self.accept(";"):
            pass
        if self._current() is not None:
            raise self.ctx.fail(f"SYNTAX_ERROR: unexpected {self.peek_word()!r}")


# ----------------------------------------------------------------------------- partition pruning
def _pushdown_predicates(root_expression: exp.Expression) -> dict[int, list[list[exp.Expression]] | None]:
    """For each physical table node (by id): alternatives (OR) of conjunct lists (AND) over its
    columns that every row the query needs from it satisfies; None means no restriction known."""
    root = build_scope(root_expression)
    if root is None:
        return {}
    scopes = list(root.traverse())
    uses: dict[int, list[tuple[Scope, str]]] = defaultdict(list)
    for scope in scopes:
        for alias, (_, source) in scope.selected_sources.items():
            if isinstance(source, Scope):
                uses[id(source)].append((scope, alias))
    needed: dict[int, list[list[exp.Expression]] | None] = {}
    for scope in reversed(scopes):  # parents before children
        needed[id(scope)] = _needed_rows(scope, uses, needed)
    result: dict[int, list[list[exp.Expression]] | None] = {}
    for scope in scopes:
        for alias, (node, source) in scope.selected_sources.items():
            if isinstance(source, exp.Table):
                result[id(node)] = _source_alternatives(scope, alias, needed.get(id(scope)))
    return result


def _needed_rows(scope: Scope, uses: Mapping[int, list[tuple[Scope, str]]], needed: Mapping[int, Any]) -> Any:
    """Predicates over a CTE's / derived table's output columns that all rows its users need satisfy."""
    if not (scope.is_cte or scope.is_derived_table) or not uses.get(id(scope)):
        return None
    alternatives: list[list[exp.Expression]] = []
    for parent, alias in uses[id(scope)]:
        if not isinstance(parent.expression, exp.Select):
            return None
        found = _source_alternatives(parent, alias, needed.get(id(parent)))
        if found is None:
            return None
        alternatives.extend(found)
        if len(alternatives) > 32:
            return None
    return alternatives


def _source_alternatives(scope: Scope, alias: str, scope_needed: Any) -> list[list[exp.Expression]] | None:
    """Alternatives of conjuncts over source ``alias``'s columns, for the rows ``scope`` needs."""
    select = scope.expression
    if not isinstance(select, exp.Select) or not _filterable_source(select, alias):
        return None
    own = _conjuncts_on(scope, select, alias)
    if scope_needed is None:
        return [own] if own else None
    alternatives = []
    for alternative in scope_needed:
        mapped = [m for c in alternative if (m := _map_through(scope, select, alias, c)) is not None]
        combined = own + mapped
        if not combined:
            return None
        alternatives.append(combined)
    return alternatives or None


def _filterable_source(select: exp.Select, alias: str) -> bool:
    """False when a WHERE filter must not be pushed to ``alias`` (nullable side of an outer join)."""
    joins = select.args.get("joins") or []
    for join in joins:
        side = (join.side or "").upper()
        if side in ("FULL", "RIGHT") and not _join_alias(join) == alias:
            return False
        if side == "FULL":
            return False
        if side == "LEFT" and _join_alias(join) == alias:
            return False
        if side == "RIGHT" and _join_alias(join) != alias:
            return False
    return True


def _join_alias(join: exp.Join) -> str:
    return join.this.alias_or_name


def _split_and(expression: exp.Expression) -> list[exp.Expression]:
    if isinstance(expression, exp.And):
        return _split_and(expression.left) + _split_and(expression.right)
    if isinstance(expression, exp.Paren) and isinstance(expression.this, exp.And):
        return _split_and(expression.this)
    return [expression]


def _usable_predicate(expression: exp.Expression) -> bool:
    if expression.find(
        exp.Query, exp.Subquery, exp.AggFunc, exp.Window, exp.Placeholder, exp.Parameter, *_NONDETERMINISTIC
    ):
        return False
    return expression.find(exp.Column) is not None


def _column_source(scope: Scope, column: exp.Column) -> str | None:
    if column.table:
        return column.table
    sources = list(scope.selected_sources)
    return sources[0] if len(sources) == 1 else None


def _conjuncts_on(scope: Scope, select: exp.Select, alias: str) -> list[exp.Expression]:
    """WHERE conjuncts of ``select`` that reference only ``alias``, with unqualified columns."""
    where = select.args.get("where")
    if where is None:
        return []
    found = []
    for conjunct in _split_and(where.this):
        if not _usable_predicate(conjunct):
            continue
        if all(_column_source(scope, column) == alias for column in conjunct.find_all(exp.Column)):
            found.append(_unqualified(conjunct))
    return found


def _unqualified(expression: exp.Expression) -> exp.Expression:
    copy = expression.copy()
    for column in copy.find_all(exp.Column):
        column.set("table", None)
        column.set("db", None)
        column.set("catalog", None)
    return copy


def _map_through(
    scope: Scope, select: exp.Select, alias: str, predicate: exp.Expression
) -> exp.Expression | None:
    """Rewrite a predicate over ``select``'s output columns into one over source ``alias``'s columns,
    if every column passes through ``select`` unchanged and filtering commutes with ``select``."""
    if select.args.get("limit") or select.args.get("offset") or select.args.get("fetch"):
        return None
    outputs: dict[str, exp.Expression] = {}
    has_star = False
    for projection in select.expressions:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            has_star = True
            continue
        outputs.setdefault(projection.alias_or_name.lower(), projection.unalias())
    mapping: dict[str, str] = {}
    for column in predicate.find_all(exp.Column):
        name = column.name.lower()
        source = outputs.get(name)
        if source is None:
            if has_star and len(scope.selected_sources) == 1 and alias in scope.selected_sources:
                source = exp.column(name, table=alias)
            else:
                return None
        if not isinstance(source, exp.Column) or _column_source(scope, source) != alias:
            return None
        if not _commutes_with_filter(select, source):
            return None
        mapping[name] = source.name
    rewritten = predicate.copy()
    for column in rewritten.find_all(exp.Column):
        column.set("this", exp.to_identifier(mapping[column.name.lower()]))
    return rewritten


def _commutes_with_filter(select: exp.Select, column: exp.Column) -> bool:
    """True if filtering rows on ``column`` before ``select`` gives the rows it would give after."""
    text = column.sql()
    name = column.name
    group = select.args.get("group")
    if group is not None:
        if any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets")):
            return False
        keys = {e.sql() for e in group.expressions} | {
            e.name for e in group.expressions if isinstance(e, exp.Column)
        }
        if text not in keys and name not in keys:
            return False
    elif select.args.get("having") or any(
        agg.find_ancestor(exp.Window) is None
        for proj in select.expressions
        for agg in proj.find_all(exp.AggFunc)
    ):
        return False
    for window in select.find_all(exp.Window):
        if window.find_ancestor(exp.Select) is not select:
            continue
        partition = {e.sql() for e in window.args.get("partition_by") or []}
        partition |= {e.name for e in window.args.get("partition_by") or [] if isinstance(e, exp.Column)}
        if text not in partition and name not in partition:
            return False
    return not select.args.get("qualify")


_GLUE_COMPARISONS = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_FLIPPED = {"=": "=", "<>": "<>", ">": "<", ">=": "<=", "<": ">", "<=": ">="}
_GLUE_LITERAL = re.compile(r"[A-Za-z0-9_.:+\- ]{0,255}")


def _glue_expression(predicate: exp.Expression, key_types: Mapping[str, str]) -> str | None:
    """A Glue GetPartitions expression admitting at least the partitions ``predicate`` admits.

    Only comparisons of a string partition key with string literals are translated; anything else
    is dropped from an AND (loosening it) or gives up (under OR / NOT), so the answer is a superset.
    """
    text, _ = _glue_part(predicate, key_types)
    return text


def _glue_part(node: exp.Expression, key_types: Mapping[str, str]) -> tuple[str | None, bool]:
    """(expression or None, exact?) for one predicate node."""
    if isinstance(node, exp.Paren):
        return _glue_part(node.this, key_types)
    if isinstance(node, exp.And):
        parts = [_glue_part(side, key_types) for side in (node.left, node.right)]
        kept = [text for text, _ in parts if text]
        exact = all(text and is_exact for text, is_exact in parts)
        return (" AND ".join(f"({text})" for text in kept) or None), exact
    if isinstance(node, exp.Or):
        parts = [_glue_part(side, key_types) for side in (node.left, node.right)]
        if not all(text for text, _ in parts):
            return None, False
        return " OR ".join(f"({text})" for text, _ in parts), all(is_exact for _, is_exact in parts)
    if isinstance(node, exp.Not):
        text, is_exact = _glue_part(node.this, key_types)
        return (f"NOT ({text})", True) if text and is_exact else (None, False)

    def key_of(column: exp.Expression) -> str | None:
        if isinstance(column, exp.Column) and key_types.get(column.name.lower(), "").lower() == "string":
            return column.name.lower()
        return None

    def literal(value: exp.Expression) -> str | None:
        if isinstance(value, exp.Literal) and value.is_string and _GLUE_LITERAL.fullmatch(value.this):
            return f"'{value.this}'"
        return None

    for kind, operator in _GLUE_COMPARISONS.items():
        if isinstance(node, kind):
            left_key, right_value = key_of(node.left), literal(node.right)
            if left_key and right_value:
                return f"{left_key} {operator} {right_value}", True
            right_key, left_value = key_of(node.right), literal(node.left)
            if right_key and left_value:
                return f"{right_key} {_FLIPPED[operator]} {left_value}", True
            return None, False
    if isinstance(node, exp.In) and not node.args.get("query"):
        key = key_of(node.this)
        values = [literal(v) for v in node.expressions]
        if key and values and all(values):
            return f"{key} IN ({', '.join(values)})", True
        return None, False
    if isinstance(node, exp.Between):
        key, low, high = key_of(node.this), literal(node.args["low"]), literal(node.args["high"])
        if key and low and high:
            return f"{key} BETWEEN {low} AND {high}", True
    return None, False


def _partition_predicate(
    alternatives: list[list[exp.Expression]] | None, keys: Sequence[str]
) -> exp.Expression | None:
    """OR of ANDs of the conjuncts that constrain only partition keys; None if some alternative has none."""
    if not alternatives:
        return None
    key_set = set(keys)
    ors = []
    for alternative in alternatives:
        kept = [
            c
            for c in alternative
            if all(col.name.lower() in key_set for col in c.find_all(exp.Column)) and not c.find(exp.Div)
        ]
        if not kept:
            return None
        ors.append(exp.and_(*[exp.Paren(this=c.copy()) for c in kept]))
    return exp.or_(*[exp.Paren(this=o) for o in ors]) if len(ors) > 1 else ors[0]


# ----------------------------------------------------------------------------- Trino semantics
def _projection_resolver(root_expression: exp.Expression) -> dict[int, exp.Expression]:
    """For columns that read a CTE / derived table output: the projection expression behind them."""
    resolved: dict[int, exp.Expression] = {}
    try:
        root = build_scope(root_expression)
    except Exception:  # noqa: BLE001 - types then come from annotations only
        return resolved
    if root is None:
        return resolved
    for scope in root.traverse():
        for column in scope.columns:
            source = scope.sources.get(column.table) if column.table else None
            if isinstance(source, Scope) and isinstance(source.expression, exp.Select):
                for projection in source.expression.expressions:
                    if projection.alias_or_name.lower() == column.name.lower():
                        resolved[id(column)] = projection.unalias()
                        break
    return resolved


_INT_PRECISION = {
    exp.DType.TINYINT: 3,
    exp.DType.SMALLINT: 5,
    exp.DType.INT: 10,
    exp.DType.BIGINT: 19,
}
_FLOAT_TYPES = {exp.DType.DOUBLE, exp.DType.FLOAT}
NumericType = tuple[str, int, int]  # (int | decimal | float, precision, scale)


def _from_data_type(data_type: exp.DataType | None) -> NumericType | None:
    if data_type is None:
        return None
    kind = data_type.this
    if kind in _INT_PRECISION:
        return ("int", _INT_PRECISION[kind], 0)
    if kind in _FLOAT_TYPES:
        return ("float", 0, 0)
    if kind == exp.DType.DECIMAL:
        params = [int(p.name) for p in data_type.expressions if p.name.isdigit()]
        if len(params) == 2:
            return ("decimal", params[0], params[1])
        if len(params) == 1:
            return ("decimal", params[0], 0)
        return None
    return None


def _numeric_type(
    node: exp.Expression, resolver: Mapping[int, exp.Expression], depth: int = 0
) -> NumericType | None:
    """Trino's numeric type of an expression, as far as it can be told statically (None: unknown)."""
    if depth > 50:
        return None

    def sub(child: exp.Expression | None) -> NumericType | None:
        return _numeric_type(child, resolver, depth + 1) if child is not None else None

    if isinstance(node, (exp.Paren, exp.Neg)):
        return sub(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        text = node.this
        if re.fullmatch(r"\d+", text):
            return ("int", 10 if int(text) < 2**31 else 19, 0)
        match = re.fullmatch(r"(\d*)\.(\d*)", text)
        if match:
            whole, fraction = match.groups()
            return ("decimal", max(1, len(whole.lstrip("0")) + len(fraction)), len(fraction))
        return ("float", 0, 0)
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return _from_data_type(node.to)
    if isinstance(node, exp.Column) and id(node) in resolver:
        return sub(resolver[id(node)])
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.IntDiv)):
        left, right = sub(node.left), sub(node.right)
        if left is None or right is None:
            return None
        if "float" in (left[0], right[0]):
            return ("float", 0, 0)
        if left[0] == right[0] == "int":
            return ("int", max(left[1], right[1]), 0)
        (pl, sl), (pr, sr) = left[1:], right[1:]
        if isinstance(node, (exp.Add, exp.Sub)):
            scale = max(sl, sr)
            return ("decimal", min(38, max(pl - sl, pr - sr) + scale + 1), scale)
        if isinstance(node, exp.Mul):
            return ("decimal", min(38, pl + pr), sl + sr)
        if isinstance(node, exp.Div):
            return ("decimal", min(38, pl + sr + max(0, sr - sl)), max(sl, sr))
        return ("decimal", min(38, min(pl - sl, pr - sr) + max(sl, sr)), max(sl, sr))
    if isinstance(node, exp.Count):
        return ("int", 19, 0)
    if isinstance(node, exp.Sum):
        inner = sub(node.this)
        if inner is None:
            return None
        return {"int": ("int", 19, 0), "decimal": ("decimal", 38, inner[2]), "float": inner}[inner[0]]
    if isinstance(node, exp.Avg):
        inner = sub(node.this)
        if inner is None:
            return None
        return inner if inner[0] == "decimal" else ("float", 0, 0)
    if isinstance(node, exp.Distinct) and node.expressions:
        return sub(node.expressions[0])
    if isinstance(node, (exp.Min, exp.Max, exp.Abs, exp.AnyValue, exp.Round, exp.Window, exp.Filter)):
        return sub(node.this)
    if isinstance(node, (exp.Coalesce, exp.Greatest, exp.Least, exp.Case, exp.If, exp.Nullif)):
        branches: list[exp.Expression] = []
        if isinstance(node, exp.Case):
            branches = [i.args["true"] for i in node.args.get("ifs") or []]
            if node.args.get("default") is not None:
                branches.append(node.args["default"])
        elif isinstance(node, exp.If):
            branches = [node.args.get("true"), node.args.get("false")]
        elif isinstance(node, exp.Nullif):
            branches = [node.this]
        else:
            branches = [node.this, *node.expressions]
        kinds = [sub(b) for b in branches if b is not None and not isinstance(b, exp.Null)]
        if not kinds or any(k is None for k in kinds):
            return None
        if any(k[0] == "float" for k in kinds):
            return ("float", 0, 0)
        if all(k[0] == "int" for k in kinds):
            return ("int", max(k[1] for k in kinds), 0)
        scale = max(k[2] for k in kinds)
        return ("decimal", min(38, max(k[1] - k[2] for k in kinds) + scale), scale)
    annotated = node.type if isinstance(node.type, exp.DataType) else None
    if annotated is not None and annotated.this not in (exp.DType.UNKNOWN, exp.DType.NULL):
        if annotated.this == exp.DType.DECIMAL and not isinstance(node, exp.Column):
            return None  # sqlglot's decimal inference is not Trino's; only trust catalog columns
        return _from_data_type(annotated) or ("other", 0, 0)
    return None


def _decimal_divide(
    left: exp.Expression, right: exp.Expression, lt: NumericType, rt: NumericType, result: NumericType
) -> exp.Expression:
    """Exact Trino decimal division: unscaled integers, HALF_UP rounding, result DECIMAL(p, s)."""
    (_, _, sl), (_, _, sr), (_, precision, scale) = lt, rt, result

    def unscaled(operand: exp.Expression, operand_scale: int) -> exp.Expression:
        value = exp.Paren(this=operand)
        if operand_scale:
            value = exp.Mul(this=value, expression=exp.Literal.number(10**operand_scale))
        return exp.cast(value, "HUGEINT")

    multiplier = exp.cast(exp.Literal.number(10 ** (scale - sl + sr)), "HUGEINT")
    quotient = exp.Anonymous(
        this="__trino_div_unscaled", expressions=[unscaled(left, sl), unscaled(right, sr), multiplier]
    )
    value: exp.Expression = exp.cast(quotient, "DECIMAL(38, 0)")
    if scale:
        unit = exp.cast(exp.Literal.string("0." + "0" * (scale - 1) + "1"), f"DECIMAL({scale + 1}, {scale})")
        value = exp.Mul(this=value, expression=unit)
    return exp.cast(value, f"DECIMAL({max(precision, scale, 1)}, {scale})")


def _wrapping_aggregate(node: exp.Expression) -> exp.Expression:
    """The aggregate call with its FILTER and OVER wrappers (what replaces it must replace them)."""
    host = node
    while isinstance(host.parent, (exp.Filter, exp.Window)) and host.parent.this is host:
        host = host.parent
    return host


def _apply_trino_semantics(
    ctx: _Context, root: exp.Expression, resolver: Mapping[int, exp.Expression]
) -> None:
    """Rewrite the constructs whose DuckDB meaning differs from Trino's (see the module docstring)."""
    # DECIMAL without precision is decimal(38, 0) in Trino (DuckDB: 18, 3); DECIMAL '1.50' is decimal(3, 2).
    for node in list(root.find_all(exp.Cast, exp.TryCast)):
        target = node.to
        if target.this == exp.DType.DECIMAL and not target.expressions:
            text = node.this.this if isinstance(node.this, exp.Literal) and node.this.is_string else None
            match = re.fullmatch(r"\s*[+-]?(\d*)(?:\.(\d*))?\s*", text or "")
            if match and (match.group(1) or match.group(2)):
                whole, fraction = match.group(1).lstrip("0"), match.group(2) or ""
                precision, scale = max(1, len(whole) + len(fraction)), len(fraction)
            else:
                precision, scale = 38, 0
            node.set("to", exp.DataType.build(f"DECIMAL({precision}, {scale})"))
    # avg(decimal) is decimal(p, s) in Trino and DOUBLE in DuckDB: exact sum / count instead.
    for avg in list(root.find_all(exp.Avg)):
        kind = _numeric_type(avg.this, resolver)
        if kind is None or kind[0] != "decimal":
            continue
        host = _wrapping_aggregate(avg)

        def rebuilt(
            function: type[exp.AggFunc], host: exp.Expression = host, avg: exp.Avg = avg
        ) -> exp.Expression:
            if host is avg:
                return function(this=avg.this.copy())
            copy = host.copy()
            copy.find(exp.Avg).replace(function(this=avg.this.copy()))
            return copy

        total, count = rebuilt(exp.Sum), rebuilt(exp.Count)
        divisor = exp.Nullif(this=count, expression=exp.Literal.number(0))
        host.replace(_decimal_divide(total, divisor, ("decimal", 38, kind[2]), ("int", 19, 0), kind))
    # Typed division: integer division truncates, decimal division is exact, the rest is DOUBLE.
    while True:
        division = next((d for d in root.find_all(exp.Div) if d.args.get("typed")), None)
        if division is None:
            break
        left, right = _numeric_type(division.left, resolver), _numeric_type(division.right, resolver)
        if left is None or right is None or "other" in (left[0], right[0]):
            raise ctx.unsupported(
                f"the division `{division.sql('trino')}` (its operand types could not be determined, "
                "so integer, "
                "decimal or floating-point division cannot be chosen)",
                "CAST an operand to BIGINT, DECIMAL(p, s) or DOUBLE",
            )
        if "float" in (left[0], right[0]):
            division.set("typed", False)
        elif left[0] == right[0] == "int":
            division.replace(exp.IntDiv(this=division.left, expression=division.right))
        else:
            result = _numeric_type(division, resolver) or ("decimal", 38, max(left[2], right[2]))
            division.replace(_decimal_divide(division.left, division.right, left, right, result))
    # sum(integer) is BIGINT in Trino, HUGEINT in DuckDB.
    for total in list(root.find_all(exp.Sum)):
        kind = _numeric_type(total.this, resolver)
        if kind is not None and kind[0] == "int" and total.parent is not None:
            host = _wrapping_aggregate(total)
            host.replace(exp.cast(host.copy(), "BIGINT"))
    # AT TIME ZONE reads a timestamp in the session zone (UTC) in Trino, in the target zone in DuckDB.
    for node in list(root.find_all(exp.Anonymous)):
        if node.name.upper() == "AT_TIMEZONE" and len(node.expressions) == 2:
            node.replace(exp.AtTimeZone(this=node.expressions[0].copy(), zone=node.expressions[1].copy()))
    for node in list(root.find_all(exp.AtTimeZone)):
        node.set("this", exp.cast(node.this.copy(), "TIMESTAMPTZ"))
    # date_trunc / date_add of a DATE (by days or more) is a DATE in Trino, a TIMESTAMP in DuckDB.
    for node in list(root.find_all(exp.DateTrunc, exp.TimestampTrunc, exp.DateAdd, exp.DateSub)):
        operand = node.this
        unit = node.args.get("unit")
        unit_name = (unit.name if unit is not None else "DAY").upper()
        if (
            isinstance(operand.type, exp.DataType)
            and operand.type.this == exp.DType.DATE
            and unit_name in ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR")
        ):
            node.replace(exp.cast(node.copy(), "DATE"))
    # date_diff counts whole units in Trino; DuckDB's date_diff counts boundaries, its date_sub whole units.
    for node in list(root.find_all(exp.DateDiff)):
        unit = node.args.get("unit")
        unit_name = (unit.name if unit is not None else "DAY").upper()
        node.replace(
            exp.Anonymous(
                this="DATE_SUB",
                expressions=[exp.Literal.string(unit_name), node.expression.copy(), node.this.copy()],
            )
        )
    # to_iso8601 of a timestamp / date (Trino's text, milliseconds for timestamp(3)).
    for node in list(root.find_all(exp.Anonymous)):
        if node.name.upper() == "TO_ISO8601" and len(node.expressions) == 1:
            operand = node.expressions[0]
            kind = operand.type.this if isinstance(operand.type, exp.DataType) else None
            if kind == exp.DType.DATE:
                pattern = "%Y-%m-%d"
            elif kind == exp.DType.TIMESTAMP:
                pattern = "%Y-%m-%dT%H:%M:%S.%g"
            else:
                continue
            node.replace(
                exp.Anonymous(this="STRFTIME", expressions=[operand.copy(), exp.Literal.string(pattern)])
            )
    # CAST(timestamp AS varchar) keeps milliseconds in Trino (timestamp(3)).
    for node in list(root.find_all(exp.Cast)):
        target = node.to
        operand = node.this
        if (
            target.this in (exp.DType.VARCHAR, exp.DType.TEXT, exp.DType.CHAR)
            and isinstance(operand.type, exp.DataType)
            and operand.type.this == exp.DType.TIMESTAMP
        ):
            node.replace(
                exp.Anonymous(
                    this="STRFTIME", expressions=[operand.copy(), exp.Literal.string("%Y-%m-%d %H:%M:%S.%g")]
                )
            )


def _outermost_select(query: exp.Expression) -> exp.Select | None:
    node = query
    while isinstance(node, (exp.SetOperation, exp.Subquery)):
        node = node.this
    return node if isinstance(node, exp.Select) else None


def _name_outputs(query: exp.Expression) -> None:
    """Name result columns like Athena: unaliased expressions are ``_col<position>``."""
    select = _outermost_select(query)
    if select is None:
        return
    for position, projection in enumerate(select.expressions):
        if isinstance(projection, exp.Alias):
            if re.fullmatch(r"_col_\d+", projection.alias):
                projection.set("alias", exp.to_identifier(f"_col{position}"))
        elif not isinstance(projection, (exp.Column, exp.Star, exp.Dot)):
            projection.replace(exp.alias_(projection.copy(), f"_col{position}"))


def _check_named_outputs(ctx: _Context, query: exp.Expression) -> None:
    select = _outermost_select(query)
    if select is None:
        return
    for position, projection in enumerate(select.expressions, start=1):
        if not isinstance(projection, (exp.Alias, exp.Column, exp.Star, exp.Dot)):
            raise ctx.fail(
                f"Column name not specified at position {position} ({projection.sql('trino')}); "
                "CTAS needs a name for every column: add AS <name>"
            )


# ----------------------------------------------------------------------------- readers
def _maybe_gunzip(raw: bytes, where: str) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        # Firehose may concatenate gzip members; decompress them all.
        out, data = [], raw
        while data:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out.append(decompressor.decompress(data))
            out.append(decompressor.flush())
            data = decompressor.unused_data
            if data[:2] != b"\x1f\x8b":
                break
        return b"".join(out)
    except zlib.error as exc:
        raise _DataError(f"HIVE_BAD_DATA: {where} is not valid gzip ({exc})") from exc


def _parse_json(
    raw: bytes, fields: list[tuple[str, str, pa.DataType]], serde: Mapping[str, str], where: str
) -> pa.Table:
    """Rows of a newline-delimited JSON object, typed per the table (OpenX JSON SerDe semantics)."""
    data = _maybe_gunzip(raw, where)
    mapping = {
        k[len("mapping.") :].lower(): v.lower() for k, v in serde.items() if k.lower().startswith("mapping.")
    }
    if not data.strip():
        return pa.table({name: pa.array([], arrow_type) for name, _, arrow_type in fields})
    if not mapping:
        try:
            return _parse_json_fast(data, fields)
        except (_SlowPath, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
    ignore_malformed = str(serde.get("ignore.malformed.json", "false")).lower() == "true"
    return _parse_json_rows(data, fields, mapping, ignore_malformed, where)


def _parse_json_fast(data: bytes, fields: list[tuple[str, str, pa.DataType]]) -> pa.Table:
    """pyarrow's vectorised reader, used when it reads the object exactly (else _SlowPath)."""
    schema = pa.schema([pa.field(name, arrow_type) for name, _, arrow_type in fields])
    table = pajson.read_json(
        io.BytesIO(data),
        read_options=pajson.ReadOptions(use_threads=False, block_size=max(1 << 20, len(data) + 1)),
        parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
    )
    wanted = {name for name, _, _ in fields}
    if any(n not in wanted and n.lower() in wanted for n in table.column_names):
        raise _SlowPath("keys differ from column names only by case")
    columns = []
    for name, _, arrow_type in fields:
        if name in table.column_names:
            column = table.column(name)
            columns.append(column if column.type == arrow_type else column.cast(arrow_type))
        else:
            columns.append(pa.nulls(table.num_rows, arrow_type))
    return pa.table(columns, names=[name for name, _, _ in fields])


def _parse_json_rows(
    data: bytes,
    fields: list[tuple[str, str, pa.DataType]],
    mapping: Mapping[str, str],
    ignore_malformed: bool,
    where: str,
) -> pa.Table:
    """Row-by-row reader: exact decimals from their text, Hive's conversions, clear errors."""
    rows: list[tuple[int, dict[str, Any]]] = []
    for line_number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            if ignore_malformed:
                rows.append((line_number, {}))
                continue
            raise _DataError(
                f"HIVE_CURSOR_ERROR: Row is not a valid JSON Object - {exc} ({where} line {line_number}); "
                "fix the object or set the SerDe parameter ignore.malformed.json = 'true'"
            ) from exc
        if not isinstance(value, dict):
            if ignore_malformed:
                rows.append((line_number, {}))
                continue
            raise _DataError(f"HIVE_CURSOR_ERROR: Row is not a JSON object ({where} line {line_number})")
        rows.append((line_number, {str(k).lower(): v for k, v in value.items()}))
    arrays = []
    for name, glue_type, arrow_type in fields:
        key = mapping.get(name, name)
        values = []
        for line_number, row in rows:
            try:
                values.append(_convert(row.get(key), arrow_type))
            except (ValueError, TypeError, InvalidOperation, OverflowError) as exc:
                raise _DataError(
                    f"HIVE_BAD_DATA: Error parsing field value {row.get(key)!r} for column {name} of type "
                    f"{glue_type} ({where} line {line_number}): {exc}"
                ) from exc
        arrays.append(pa.array(values, type=arrow_type))
    return pa.table(arrays, names=[name for name, _, _ in fields])


_TIMESTAMP_TEXT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?"
)
_INTEGER_TEXT = re.compile(r"[+-]?\d+")


def _convert(value: Any, arrow_type: pa.DataType) -> Any:
    """One JSON value as the Python value of a Glue column type (Hive's conversions)."""
    if value is None:
        return None
    if pa.types.is_string(arrow_type):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value, default=str, separators=(",", ":"))
        return str(value)
    if pa.types.is_integer(arrow_type):
        if isinstance(value, bool):
            raise TypeError("a boolean is not an integer")
        if isinstance(value, str):
            if not _INTEGER_TEXT.fullmatch(value.strip()):
                raise ValueError("not an integer")
            value = int(value.strip())
        if isinstance(value, Decimal):
            if value != value.to_integral_value():
                raise ValueError("not an integer")
            value = int(value)
        bits = arrow_type.bit_width
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise OverflowError(f"out of range for {arrow_type}")
        return int(value)
    if pa.types.is_floating(arrow_type):
        if isinstance(value, bool):
            raise TypeError("a boolean is not a number")
        return float(value)
    if pa.types.is_decimal(arrow_type):
        if isinstance(value, bool):
            raise TypeError("a boolean is not a number")
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        quantized = number.quantize(Decimal(1).scaleb(-arrow_type.scale), rounding=ROUND_HALF_UP)
        # Hive: a value that does not fit the precision reads as NULL.
        return quantized if len(quantized.as_tuple().digits) <= arrow_type.precision else None
    if pa.types.is_boolean(arrow_type):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError("not a boolean")
    if pa.types.is_timestamp(arrow_type):
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return datetime(1970, 1, 1) + timedelta(milliseconds=int(value))
        return _parse_timestamp(str(value))
    if pa.types.is_date32(arrow_type):
        return date.fromisoformat(str(value)[:10])
    if pa.types.is_list(arrow_type):
        if not isinstance(value, list):
            raise TypeError("not a JSON array")
        return [_convert(item, arrow_type.value_type) for item in value]
    if pa.types.is_map(arrow_type):
        if not isinstance(value, dict):
            raise TypeError("not a JSON object")
        return [
            (_convert(k, arrow_type.key_type), _convert(v, arrow_type.item_type)) for k, v in value.items()
        ]
    if pa.types.is_struct(arrow_type):
        if not isinstance(value, dict):
            raise TypeError("not a JSON object")
        lowered = {str(k).lower(): v for k, v in value.items()}
        return {
            arrow_type.field(i).name: _convert(
                lowered.get(arrow_type.field(i).name), arrow_type.field(i).type
            )
            for i in range(arrow_type.num_fields)
        }
    raise TypeError(f"unsupported column type {arrow_type}")


def _parse_timestamp(text: str) -> datetime:
    match = _TIMESTAMP_TEXT.fullmatch(text.strip())
    if not match:
        raise ValueError("not a timestamp (expected YYYY-MM-DD HH:MM:SS[.fff])")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0").ljust(6, "0")[:6])
    moment = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micros
    )
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        moment = (moment - sign * offset).replace(tzinfo=None)
    return moment


def _parse_parquet(raw: bytes, fields: list[tuple[str, str, pa.DataType]], where: str) -> pa.Table:
    """A Parquet object's columns by name (case-insensitive), cast to the table's types."""
    try:
        table = pq.read_table(io.BytesIO(raw))
    except (pa.ArrowInvalid, OSError) as exc:
        raise _DataError(f"HIVE_CANNOT_OPEN_SPLIT: {where} is not a readable Parquet file ({exc})") from exc
    by_name = {name.lower(): name for name in table.column_names}
    columns = []
    for name, glue_type, arrow_type in fields:
        source = by_name.get(name)
        if source is None:
            columns.append(pa.nulls(table.num_rows, arrow_type))
            continue
        column = table.column(source)
        if column.type != arrow_type:
            try:
                column = column.cast(arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise _DataError(
                    f"HIVE_BAD_DATA: column {name} is {column.type} in {where} but {glue_type} in the table "
                    f"({exc})"
                ) from exc
        columns.append(column)
    return pa.table(columns, names=[name for name, _, _ in fields])


def _with_partition_columns(
    data: pa.Table, table: _Table, values: tuple[str, ...], path: str | None
) -> pa.Table:
    """Append the partition key columns (and ``$path``) with their constant values."""
    rows = data.num_rows
    for (key, glue_type), value in zip(table.partition_keys, values, strict=True):
        arrow_type = glue_type_to_arrow(glue_type)
        if value == HIVE_DEFAULT_PARTITION or rows == 0:
            column = pa.nulls(rows, arrow_type)
        else:
            column = pc.cast(pa.repeat(pa.scalar(value, pa.string()), rows), arrow_type)
        data = data.append_column(key, column)
    if path is not None:
        data = data.append_column("$path", pa.repeat(pa.scalar(path, pa.string()), rows))
    return data


def _normalise_for_write(data: pa.Table) -> pa.Table:
    """Types Hive/Glue can declare: plain strings, NULL-typed columns as strings."""
    fields = []
    for column_field in data.schema:
        arrow_type = column_field.type
        if (
            pa.types.is_large_string(arrow_type)
            or arrow_to_glue_type(arrow_type, column_field.name) == "string"
        ):
            arrow_type = pa.string()
        fields.append(pa.field(column_field.name, arrow_type))
    return data.cast(pa.schema(fields)) if pa.schema(fields) != data.schema else data


def _partition_text(value: Any) -> str:
    """A partition value as Hive writes it into a folder name."""
    if value is None:
        return HIVE_DEFAULT_PARTITION
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _ctas_properties(ctx: _Context, create: exp.Create) -> dict[str, Any]:
    """CTAS ``WITH (...)`` properties as Python values; unknown properties are refused."""
    properties: dict[str, Any] = {}
    for prop in (create.args.get("properties") or exp.Properties(expressions=[])).expressions:
        if isinstance(prop, exp.FileFormatProperty):
            name, value = "format", prop.this
        elif isinstance(prop, exp.PartitionedByProperty):
            name, value = "partitioned_by", prop.this
        elif isinstance(prop, exp.Property):
            name, value = prop.name.lower(), prop.args.get("value")
        elif isinstance(prop, exp.LocationProperty):
            name, value = "location", prop.this
        else:
            raise ctx.unsupported(f"CTAS property {prop.sql('athena')}")
        if name not in _CTAS_PROPERTIES:
            raise ctx.unsupported(
                f"CTAS property {name!r}",
                f"supported: {', '.join(sorted(_CTAS_PROPERTIES - {'bucketed_by', 'bucket_count'}))}",
            )
        properties[name] = _property_value(ctx, name, value)
    return properties


def _property_value(ctx: _Context, name: str, value: exp.Expression | None) -> Any:
    if isinstance(value, exp.Array) or isinstance(value, exp.Tuple) or isinstance(value, exp.Schema):
        return [_property_value(ctx, name, item) for item in value.expressions]
    if isinstance(value, exp.Literal):
        return value.this if value.is_string else int(value.this)
    if isinstance(value, (exp.Var, exp.Identifier, exp.Column)):
        return value.name
    if isinstance(value, exp.Boolean):
        return bool(value.this)
    raise ctx.fail(
        f"CTAS property {name} has a value the local engine cannot read: "
        f"{value.sql('athena') if value else None}"
    )


def _parquet_table_input(
    name: str, location: str, columns: list[dict[str, str]], keys: list[dict[str, str]], compression: str
) -> dict[str, Any]:
    """A TableInput like the one Athena's CTAS registers for a Parquet table."""
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "classification": "parquet",
            "has_encrypted_data": "false",
            "parquet.compression": compression,
        },
        "StorageDescriptor": {
            "Columns": columns,
            "Location": location,
            "InputFormat": INPUT_FORMAT_PARQUET,
            "OutputFormat": OUTPUT_FORMAT_PARQUET,
            "Compressed": False,
            "NumberOfBuckets": -1,
            "SerdeInfo": {"SerializationLibrary": SERDE_PARQUET, "Parameters": {"serialization.format": "1"}},
            "StoredAsSubDirectories": False,
        },
        "PartitionKeys": keys,
    }


def _s3_filesystem(
    endpoint_url: str | None, region: str, credentials: Mapping[str, str] | None
) -> pafs.S3FileSystem:
    kwargs: dict[str, Any] = {"region": region}
    if credentials:
        kwargs["access_key"] = credentials.get("aws_access_key_id")
        kwargs["secret_key"] = credentials.get("aws_secret_access_key")
        if credentials.get("aws_session_token"):
            kwargs["session_token"] = credentials["aws_session_token"]
    if endpoint_url:
        parsed = urlparse(endpoint_url)
        kwargs["endpoint_override"] = parsed.netloc
        kwargs["scheme"] = parsed.scheme or "http"
    return pafs.S3FileSystem(**kwargs)


def _duckdb_reason(exc: duckdb.Error) -> str:
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


__all__ = ["MAX_PARTITIONS_PER_WRITE", "LocalAthena"]
