"""LocalAthena: one Athena statement at a time, routed to the part of the engine that runs it.

Queries are qualified and type-annotated by sqlglot (Trino dialect), their tables replaced by the
Arrow data of the partitions they need (:mod:`.pruning`, :mod:`.readers`), and run by DuckDB as SQL
written by the :class:`~local_aws.athena.dialect.AthenaOnDuckDB` dialect. CTAS and INSERT INTO go to
:mod:`.writers`, Hive DDL and catalog statements to :mod:`.ddl`. See ``README.md`` beside this file
for the semantics kept and the known differences.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pyarrow as pa
import sqlglot
from botocore.exceptions import ClientError
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from infra.clients import LOCAL_CREDENTIALS, boto3_clients
from infra.lake import CatalogError, glue_type_to_sql, validate_database
from local_aws.athena.catalog import GlueCatalog, Workgroup, resolve_table_ref
from local_aws.athena.coercion import type_mismatch
from local_aws.athena.ddl import HiveDdl, tokenize
from local_aws.athena.dialect import DECIMAL_DIVISION_MACRO, AthenaOnDuckDB
from local_aws.athena.errors import (
    SUPPORTED_HINT,
    DataError,
    LocalQueryError,
    UnsupportedSqlError,
    duckdb_reason,
)
from local_aws.athena.iceberg import IcebergTables, create_is_iceberg
from local_aws.athena.iceberg_merge import IcebergWriter
from local_aws.athena.iceberg_statements import metadata_table, run_maintenance
from local_aws.athena.pruning import pushdown_predicates, select_partitions
from local_aws.athena.readers import DEFAULT_CACHE_BYTES, TableReader, s3_filesystem
from local_aws.athena.semantics import missing_function
from local_aws.athena.statement import LocalQueryResult, Outcome, Statement, view_name
from local_aws.athena.types import register_typeof
from local_aws.athena.writers import TableWriter


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
        cache_max_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        """Connect to the emulator at ``endpoint_url``.

        ``workgroup`` supplies the output location (for CTAS without ``external_location``) and the
        scan cutoff when the workgroup has them; ``output_location`` overrides the former.
        """
        self.endpoint_url = endpoint_url
        self.region = region
        creds = credentials if credentials is not None else (LOCAL_CREDENTIALS if endpoint_url else None)
        clients = boto3_clients(endpoint_url, region, creds, services=("glue", "s3", "athena"))
        self.glue, self.s3 = clients["glue"], clients["s3"]
        self.fs = s3_filesystem(endpoint_url, region, creds)
        self.workgroup = Workgroup(clients["athena"], workgroup, output_location)
        self.catalog = GlueCatalog(self.glue)
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="local-athena")
        self._reader = TableReader(self.s3, self.fs, self._pool, self.workgroup, cache_max_bytes)
        self._writer = TableWriter(self.catalog, self.s3, self.fs, self.workgroup, self._query_arrow)
        self._con = duckdb.connect(":memory:")
        self.iceberg = IcebergTables(endpoint_url, region, creds, self.s3)
        self._iceberg_writer = IcebergWriter(self.iceberg, self.catalog, self._con, self._query_arrow)
        self._ddl = HiveDdl(self.catalog, self.s3, self.iceberg)
        # Athena's session: UTC, NULLs last in either direction.
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET default_null_order = 'nulls_last'")
        self._con.execute(DECIMAL_DIVISION_MACRO)
        register_typeof(self._con)

    def execute(self, sql: str, database: str) -> LocalQueryResult:
        """Run one Athena statement with ``database`` as the default database.

        Raises InvalidIdentifierError for a bad name (nothing runs), UnsupportedSqlError for a
        construct the engine cannot run and LocalQueryError when the statement fails.
        """
        validate_database(database)
        query_id = str(uuid.uuid4())
        started = time.perf_counter()
        statement = Statement(query_id=query_id, sql=sql, database=database)
        with self._lock:
            try:
                columns, rows, statement_type = self._dispatch(statement)
            except LocalQueryError:
                raise
            except duckdb.Error as exc:
                missing = missing_function(str(exc)) if isinstance(exc, duckdb.CatalogException) else None
                if missing is not None:  # a Trino function the local engine has no equivalent of
                    raise statement.unsupported(
                        f"FUNCTION_NOT_FOUND: the function {missing}()", "use another Athena function"
                    ) from exc
                raise statement.fail(duckdb_reason(exc)) from exc
            except (CatalogError, DataError) as exc:
                raise statement.fail(str(exc)) from exc
            except pa.ArrowException as exc:
                raise statement.fail(f"reading or writing data failed: {type(exc).__name__}: {exc}") from exc
            except SqlglotError as exc:
                raise statement.fail(f"SYNTAX_ERROR: {exc}") from exc
            except ClientError as exc:
                raise statement.fail(f"AWS API call failed: {exc}") from exc
            finally:
                for name in statement.registered:
                    self._con.unregister(name)
                for name in statement.temp_tables:
                    self._con.execute(f'DROP TABLE IF EXISTS "{name}"')
        return LocalQueryResult(
            columns=columns,
            rows=rows,
            bytes_scanned=statement.bytes_scanned,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            query_id=query_id,
            statement_type=statement_type,
            extra={
                "objects_read": statement.objects_read,
                "partitions_read": statement.partitions_read,
                "notes": list(statement.notes),
                **statement.extra,
            },
        )

    def close(self) -> None:
        """Release the DuckDB connection and the reader threads."""
        with self._lock:
            self._pool.shutdown(wait=True)
            self._con.close()

    def _dispatch(self, statement: Statement) -> Outcome:
        tokens = tokenize(statement.sql)
        if not tokens or all(t.kind == "SYMBOL" and t.text == ";" for t in tokens):
            raise statement.fail("SYNTAX_ERROR: the statement is empty")
        if tokens[0].kind == "WORD" and tokens[0].text.upper() in ("OPTIMIZE", "VACUUM"):
            return run_maintenance(statement, self.catalog, self.iceberg)
        utility = self._ddl.run(statement, tokens)
        if utility is not None:
            return utility
        try:
            parsed = [s for s in sqlglot.parse(statement.sql, read="athena") if s is not None]
        except ParseError as exc:
            raise statement.fail(
                f"SYNTAX_ERROR: {exc.errors[0]['description'] if exc.errors else exc}"
            ) from exc
        if len(parsed) != 1:
            raise statement.fail(
                f"Athena runs one statement per query; got {len(parsed)}. Run them one by one."
            )
        tree = parsed[0]
        if isinstance(tree, exp.Query):
            cursor = self._con.execute(self._prepare(statement, tree, require_names=False))
            return [d[0] for d in cursor.description], cursor.fetchall(), "DML"
        if isinstance(tree, exp.Create):
            return self._create(statement, tree)
        if isinstance(tree, exp.Insert):
            return self._insert(statement, tree)
        if isinstance(tree, exp.Merge):
            return self._iceberg_writer.merge(statement, tree)
        if isinstance(tree, exp.Delete):
            return self._iceberg_writer.delete(statement, tree)
        if isinstance(tree, exp.Drop):
            return self._ddl.drop(statement, tree)
        if isinstance(tree, exp.Command):
            raise statement.unsupported(f"{str(tree.this).upper()} statement", SUPPORTED_HINT)
        raise statement.unsupported(f"{type(tree).__name__.upper()} statement", SUPPORTED_HINT)

    def _create(self, statement: Statement, create: exp.Create) -> Outcome:
        kind = (create.args.get("kind") or "").upper()
        if kind in ("SCHEMA", "DATABASE"):
            return self._ddl.create_database(statement, create)
        if kind != "TABLE":
            raise statement.unsupported(f"CREATE {kind}", SUPPORTED_HINT)
        if create.expression is None and isinstance(create.this, exp.Schema) and create_is_iceberg(create):
            return self.iceberg.create(statement, create, self.catalog)
        if create.expression is None:
            raise statement.unsupported(
                "CREATE TABLE without AS SELECT", "use CTAS: CREATE TABLE t WITH (...) AS SELECT ..."
            )
        if not isinstance(create.this, exp.Table):
            raise statement.unsupported(
                "a column list in CTAS", "name the columns with aliases in the SELECT"
            )
        return self._writer.ctas(statement, create)

    def _insert(self, statement: Statement, insert: exp.Insert) -> Outcome:
        """INSERT INTO: Iceberg tables through pyiceberg, Parquet tables through the table writer."""
        target = insert.this.this if isinstance(insert.this, exp.Schema) else insert.this
        if isinstance(target, exp.Table) and not insert.args.get("overwrite"):
            database, name = resolve_table_ref(statement, target)
            table = self.catalog.table(statement, database, name)
            if table.is_iceberg:
                columns = (
                    [c.name.lower() for c in insert.this.expressions]
                    if isinstance(insert.this, exp.Schema)
                    else None
                )
                return self._iceberg_writer.insert(statement, table, insert, columns)
        return self._writer.insert(statement, insert)

    def _query_arrow(self, statement: Statement, query: exp.Query, require_names: bool) -> pa.Table:
        """The rows of a query of ``statement`` as Arrow (what CTAS and INSERT INTO write)."""
        return self._con.sql(self._prepare(statement, query, require_names=require_names)).to_arrow_table()

    def _prepare(self, statement: Statement, query: exp.Query, *, require_names: bool) -> str:
        """Resolve tables, prune and load partitions, translate to DuckDB SQL."""
        cte_names = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
        for table in list(query.find_all(exp.Table)):
            if not table.name or isinstance(table.this, exp.Func):
                continue
            if not table.args.get("db") and table.name.lower() in cte_names:
                continue
            for unsupported_arg in ("sample", "when"):
                if table.args.get(unsupported_arg):
                    raise statement.unsupported(f"{unsupported_arg.upper()} clause on table {table.name}")
            if "$" in table.name:  # an Iceberg metadata table, e.g. "t$snapshots"
                database, name = metadata_table(statement, self.catalog, self.iceberg, table)
            else:
                database, name = resolve_table_ref(statement, table)
            table.set("catalog", None)
            table.set("db", exp.to_identifier(database))
            table.set("this", exp.to_identifier(name))
            definition = self.catalog.table(statement, database, name)
            if table.args.get("version") and not definition.is_iceberg:
                raise statement.unsupported(
                    f"time travel (FOR ... AS OF) on the Hive table {definition.qualified}",
                    "only Iceberg tables keep snapshots to travel to",
                )
        if require_names:
            _check_named_outputs(statement, query)
        # Athena names unaliased expressions _col<position>; name them before qualification invents names.
        _name_outputs(query)

        schema = MappingSchema(
            {
                database: {
                    table.name: {
                        column: glue_type_to_sql(glue_type)
                        for column, glue_type in (*table.columns, *table.partition_keys)
                    }
                    for (db, _), table in statement.tables.items()
                    if db == database
                }
                for database in {db for db, _ in statement.tables}
            },
            dialect="trino",
        )
        uses_path = any(column.name.lower() == "$path" for column in query.find_all(exp.Column))
        try:
            prepared = qualify(
                query.copy(),
                schema=schema,
                dialect="trino",
                db=statement.database,
                validate_qualify_columns=False,
                quote_identifiers=False,
                identify=False,
            )
            qualified = True
        except Exception as exc:  # noqa: BLE001 - qualification is an aid; DuckDB reports real errors
            statement.notes.append(f"qualification skipped: {exc}")
            prepared = query
            qualified = False
        try:
            annotate_types(prepared, schema=schema, dialect="trino")
        except Exception as exc:  # noqa: BLE001
            statement.notes.append(f"type annotation skipped: {exc}")
        else:
            mismatch = type_mismatch(prepared)  # Athena's coercion rules, before anything is read
            if mismatch is not None:
                raise statement.fail(mismatch)
        try:
            pushdown = pushdown_predicates(prepared)
        except Exception as exc:  # noqa: BLE001 - without pruning the result is the same, only slower
            statement.notes.append(f"partition pruning skipped: {exc}")
            pushdown = {}

        for table in list(prepared.find_all(exp.Table)):
            if not table.args.get("db") or isinstance(table.this, exp.Func):
                continue
            definition = statement.tables.get((table.db, table.name))
            if definition is None:
                continue
            if (table.db, table.name) in statement.metadata_tables:
                data = statement.metadata_tables[(table.db, table.name)]
            elif definition.is_iceberg:
                if uses_path:
                    raise statement.unsupported(f'"$path" of the Iceberg table {definition.qualified}')
                data = self.iceberg.scan(
                    statement,
                    self._con,
                    definition,
                    pushdown.get(id(table)),
                    table.args.get("version"),
                    columns_read(prepared, table) if qualified else None,
                )
            else:
                partitions = select_partitions(
                    statement, self.catalog, self._con, definition, pushdown.get(id(table))
                )
                data = self._reader.scan(statement, definition, partitions, with_path=uses_path)
            view = view_name("scan")
            self._con.register(view, data)
            statement.registered.append(view)
            alias = table.alias or table.name
            table.replace(
                exp.Table(
                    this=exp.to_identifier(view, quoted=True),
                    alias=exp.TableAlias(this=exp.to_identifier(alias)),
                )
            )
        _name_outputs(prepared)
        try:
            return prepared.sql(dialect=AthenaOnDuckDB, identify=True, unsupported_level=ErrorLevel.RAISE)
        except UnsupportedSqlError as exc:  # raised by a Trino rewrite, which knows no statement
            raise statement.unsupported(exc.construct, exc.hint) from exc
        except UnsupportedError as exc:
            raise statement.unsupported(f"construct ({exc})") from exc


def columns_read(query: exp.Expression, table: exp.Table) -> set[str] | None:
    """The columns a qualified query reads from ``table`` (by its alias), or None when it cannot be told
    (a star the qualification did not expand). An alias used in several scopes gives their union."""
    if any(not isinstance(star.parent, exp.Count) for star in query.find_all(exp.Star)):
        return None
    alias = table.alias_or_name
    return {column.name.lower() for column in query.find_all(exp.Column) if column.table == alias}


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


def _check_named_outputs(statement: Statement, query: exp.Expression) -> None:
    """CTAS needs a name for every column: fail like Athena on an unnamed one."""
    select = _outermost_select(query)
    if select is None:
        return
    for position, projection in enumerate(select.expressions, start=1):
        if not isinstance(projection, (exp.Alias, exp.Column, exp.Star, exp.Dot)):
            raise statement.fail(
                f"Column name not specified at position {position} ({projection.sql('trino')}); "
                "CTAS needs a name for every column: add AS <name>"
            )
