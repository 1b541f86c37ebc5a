"""Writes to Iceberg tables: INSERT INTO, MERGE INTO and DELETE FROM, one snapshot per statement.

MERGE runs its source query through the engine (its tables pruned and counted), loads only the target
partitions the ON clause can match, runs DuckDB's native ``MERGE INTO`` on that copy and commits the
partitions whose rows changed in one pyiceberg transaction (their old files replaced by new ones).
A commit that loses to another writer (pyiceberg's CommitFailedException, from Glue's VersionId check)
re-runs the whole statement from the freshly loaded table, at most ``COMMIT_ATTEMPTS`` times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, In
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.table import Table as IcebergTable
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from infra.lake import validate_column
from local_aws.athena.catalog import GlueCatalog, Table, resolve_table_ref
from local_aws.athena.dialect import AthenaOnDuckDB
from local_aws.athena.iceberg import (
    IcebergTables,
    check_partition_count,
    file_partition,
    partition_keys,
    partition_text,
)
from local_aws.athena.statement import Outcome, Statement, view_name

COMMIT_ATTEMPTS = 3
QueryRunner = Callable[[Statement, exp.Query, bool], pa.Table]


class IcebergWriter:
    """INSERT / MERGE / DELETE on Iceberg tables for one LocalAthena (its DuckDB connection)."""

    def __init__(
        self,
        tables: IcebergTables,
        catalog: GlueCatalog,
        con: duckdb.DuckDBPyConnection,
        run_query: QueryRunner,
    ) -> None:
        self.tables = tables
        self.catalog = catalog
        self.con = con
        self._run_query = run_query

    def insert(
        self, statement: Statement, table: Table, insert: exp.Insert, column_list: list[str] | None
    ) -> Outcome:
        """INSERT INTO an Iceberg table: one append snapshot."""
        query = insert.expression
        if not isinstance(query, exp.Query):
            query = exp.select("*").from_(
                exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier("v")))
            )

        def attempt() -> Outcome:
            data = self._run_query(statement, query.copy(), False)
            loaded = self.tables.load(statement, table)
            rows = _aligned(statement, table, loaded, data, column_list)
            keys = partition_keys(loaded)
            if keys:
                names = [k for k, _ in keys]
                distinct = {tuple(r.values()) for r in rows.select(names).to_pylist()}
                check_partition_count(statement, table, len(distinct))
            snapshot_id = self._commit(table, loaded, [], rows) if rows.num_rows else None
            statement.extra.update(
                {"inserted": rows.num_rows, "updated": 0, "deleted": 0, "snapshot_id": snapshot_id}
            )
            return ["rows"], [(rows.num_rows,)], "DML"

        return self._with_retries(statement, table, attempt)

    def _iceberg_target(self, statement: Statement, target: exp.Expression, verb: str, hint: str) -> Table:
        """The Iceberg table a MERGE or DELETE writes; other targets are refused by name."""
        if not isinstance(target, exp.Table):
            clause = {"MERGE": "MERGE INTO", "DELETE": "DELETE FROM"}[verb]
            raise statement.unsupported(f"{clause} {target.sql('trino')}")
        database, name = resolve_table_ref(statement, target)
        table = self.catalog.table(statement, database, name)
        if not table.is_iceberg:
            raise statement.unsupported(f"{verb} statement on the Hive table {table.qualified}", hint)
        return table

    def merge(self, statement: Statement, merge: exp.Merge) -> Outcome:
        """MERGE INTO an Iceberg table (Trino syntax); the result is Athena's UpdateCount."""
        target = merge.this
        table = self._iceberg_target(
            statement, target, "MERGE", "Athena runs MERGE INTO on Iceberg tables only"
        )
        name = table.name
        using = merge.args.get("using")
        target_alias = target.alias or name
        source_alias = using.alias_or_name if using is not None else ""
        if isinstance(using, exp.Subquery):
            source_query: exp.Query = using.this
        elif isinstance(using, exp.Table):
            source_query = exp.select("*").from_(using.copy().set("alias", None))
        else:
            raise statement.unsupported(f"MERGE ... USING {using.sql('trino') if using else '(nothing)'}")
        return self._with_retries(
            statement,
            table,
            lambda: self._merge_once(statement, merge, table, source_query, target_alias, source_alias),
        )

    def delete(self, statement: Statement, delete: exp.Delete) -> Outcome:
        """DELETE FROM an Iceberg table WHERE ...: the affected partitions rewritten in one snapshot."""
        table = self._iceberg_target(
            statement, delete.this, "DELETE", "Athena deletes rows of Iceberg tables only"
        )
        where = delete.args.get("where")
        if where is not None and where.find(exp.Query):
            raise statement.unsupported("a subquery in DELETE ... WHERE", "delete with a MERGE INTO instead")

        def attempt() -> Outcome:
            loaded = self.tables.load(statement, table)
            keys = partition_keys(loaded)
            row_filter: BooleanExpression = AlwaysTrue()
            if where is not None:
                row_filter = _constant_filter(where.this, {k for k, _ in keys}, None) or AlwaysTrue()
            tasks, data = self._load(statement, loaded, row_filter)
            tgt = self._temp_table(statement, data)
            condition = (
                where.this.sql(dialect=AthenaOnDuckDB, unsupported_level=ErrorLevel.RAISE)
                if where
                else "TRUE"
            )
            deleted = len(self.con.execute(f'DELETE FROM "{tgt}" WHERE {condition} RETURNING 1').fetchall())
            counts = {"inserted": 0, "updated": 0, "deleted": deleted}
            return self._finish(statement, table, loaded, tasks, data, tgt, counts)

        return self._with_retries(statement, table, attempt)

    def _merge_once(
        self,
        statement: Statement,
        merge: exp.Merge,
        table: Table,
        source_query: exp.Query,
        target_alias: str,
        source_alias: str,
    ) -> Outcome:
        source = self._run_query(statement, source_query.copy(), False)
        src = view_name("merge_source")
        self.con.register(src, source)
        statement.registered.append(src)
        loaded = self.tables.load(statement, table)
        keys = partition_keys(loaded)
        row_filter = self._target_filter(merge.args["on"], keys, target_alias, source_alias, src)
        tasks, data = self._load(statement, loaded, row_filter)
        tgt = self._temp_table(statement, data)
        on = merge.args["on"].sql(dialect=AthenaOnDuckDB, unsupported_level=ErrorLevel.RAISE)
        multiple = self.con.execute(
            f'SELECT 1 FROM "{tgt}" AS "{target_alias}" JOIN "{src}" AS "{source_alias}" ON {on} '
            f'GROUP BY "{target_alias}"."__athena_row" HAVING count(*) > 1 LIMIT 1'
        ).fetchall()
        if multiple:
            raise statement.fail(
                "MERGE_TARGET_ROW_MULTIPLE_MATCHES: One MERGE target table row matched more than one "
                "source row "
                f"(target {table.qualified}); make the USING query return at most one row per target row"
            )
        rewritten = merge.copy()
        rewritten.set(
            "this",
            exp.Table(
                this=exp.to_identifier(tgt, quoted=True),
                alias=exp.TableAlias(this=exp.to_identifier(target_alias)),
            ),
        )
        rewritten.set(
            "using",
            exp.Table(
                this=exp.to_identifier(src, quoted=True),
                alias=exp.TableAlias(this=exp.to_identifier(source_alias)),
            ),
        )
        sql = rewritten.sql(dialect=AthenaOnDuckDB, unsupported_level=ErrorLevel.RAISE)
        actions = [row[0] for row in self.con.execute(f"{sql} RETURNING merge_action").fetchall()]
        counts = {
            "inserted": actions.count("INSERT"),
            "updated": actions.count("UPDATE"),
            "deleted": actions.count("DELETE"),
        }
        return self._finish(statement, table, loaded, tasks, data, tgt, counts)

    def _target_filter(
        self, on: exp.Expression, keys: list[tuple[str, Any]], target_alias: str, source_alias: str, src: str
    ) -> BooleanExpression:
        """The target partitions the ON clause can match: values of ``t.key = <expr over s>`` over the
        source, constants of ``t.key = 'x'`` / ``IN (...)``; every partition otherwise."""
        key_names = {k for k, _ in keys}
        parts: list[BooleanExpression] = []
        for conjunct in _conjuncts(on):
            constant = _constant_filter(conjunct, key_names, target_alias)
            if constant is not None:
                parts.append(constant)
                continue
            if not isinstance(conjunct, exp.EQ):
                continue
            for column, other in ((conjunct.left, conjunct.right), (conjunct.right, conjunct.left)):
                if (
                    isinstance(column, exp.Column)
                    and column.table == target_alias
                    and column.name.lower() in key_names
                    and other.find(exp.Column)
                    and all(c.table == source_alias for c in other.find_all(exp.Column))
                ):
                    expression = other.sql(dialect=AthenaOnDuckDB, unsupported_level=ErrorLevel.RAISE)
                    values = self.con.execute(
                        f'SELECT DISTINCT CAST({expression} AS VARCHAR) FROM "{src}" AS "{source_alias}"'
                    ).fetchall()
                    parts.append(In(column.name.lower(), {v for (v,) in values if v is not None}))
                    break
        if not parts:
            return AlwaysTrue()
        return parts[0] if len(parts) == 1 else And(*parts)

    def _load(
        self, statement: Statement, loaded: IcebergTable, row_filter: BooleanExpression
    ) -> tuple[list[Any], pa.Table]:
        """The data files of the target partitions and their rows (Iceberg types), counted as scanned."""
        tasks = list(loaded.scan(row_filter=row_filter).plan_files()) if loaded.current_snapshot() else []
        statement.bytes_scanned += sum(t.file.file_size_in_bytes for t in tasks)
        statement.objects_read += len(tasks)
        keys = partition_keys(loaded)
        statement.partitions_read += len({file_partition(t.file, keys) for t in tasks}) if keys else 0
        schema = loaded.schema().as_arrow()
        if not tasks:
            return tasks, schema.empty_table()
        return tasks, ArrowScan(loaded.metadata, loaded.io, loaded.schema(), AlwaysTrue()).to_table(
            tasks
        ).cast(schema)

    def _temp_table(self, statement: Statement, data: pa.Table) -> str:
        """A DuckDB temporary table of the loaded target rows, each with a row number."""
        view = view_name("merge_target_rows")
        self.con.register(
            view, data.append_column("__athena_row", pa.array(range(data.num_rows), pa.int64()))
        )
        statement.registered.append(view)
        name = view_name("merge_target")
        self.con.execute(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM "{view}"')
        statement.temp_tables.append(name)
        return name

    def _finish(
        self,
        statement: Statement,
        table: Table,
        loaded: IcebergTable,
        tasks: list[Any],
        before: pa.Table,
        tgt: str,
        counts: dict[str, int],
    ) -> Outcome:
        """Commit the partitions whose rows changed (none: no snapshot); Athena's UpdateCount."""
        keys = partition_keys(loaded)
        columns = ", ".join(f'"{c}"' for c in before.column_names)
        old = view_name("merge_before")
        self.con.register(old, before)
        statement.registered.append(old)
        changed_sql = (
            f'(SELECT {columns} FROM "{old}" EXCEPT ALL SELECT {columns} FROM "{tgt}") UNION ALL '
            f'(SELECT {columns} FROM "{tgt}" EXCEPT ALL SELECT {columns} FROM "{old}")'
        )
        key_list = ", ".join(f'"{k}"' for k, _ in keys) or "1"
        changed_rows = self.con.execute(f"SELECT DISTINCT {key_list} FROM ({changed_sql})").fetchall()
        snapshot_id = None
        if changed_rows:
            changed = {
                tuple(partition_text(v, t) for v, (_, t) in zip(row, keys, strict=False))
                for row in changed_rows
            }
            check_partition_count(statement, table, len(changed) if keys else 1)
            after = self.con.sql(f'SELECT {columns} FROM "{tgt}"').to_arrow_table()
            if keys:
                texts = [
                    tuple(partition_text(v, t) for v, (_, t) in zip(row.values(), keys, strict=True))
                    for row in after.select([k for k, _ in keys]).to_pylist()
                ]
                after = after.filter(pa.array([t in changed for t in texts], pa.bool_()))
                doomed = [t.file for t in tasks if file_partition(t.file, keys) in changed]
            else:
                doomed = [t.file for t in tasks]
            snapshot_id = self._commit(table, loaded, doomed, after.cast(loaded.schema().as_arrow()))
        total = counts["inserted"] + counts["updated"] + counts["deleted"]
        statement.extra.update({**counts, "snapshot_id": snapshot_id})
        return ["rows"], [(total,)], "DML"

    def _commit(self, table: Table, loaded: IcebergTable, doomed: list[Any], rows: pa.Table) -> int | None:
        """One snapshot: ``doomed`` files removed, ``rows`` added; raises CommitFailedException if stale."""
        self.tables.commit_point(table)
        transaction = loaded.transaction()
        producer = (
            transaction.update_snapshot().overwrite()
            if doomed
            else transaction.update_snapshot().fast_append()
        )
        with producer as update:
            for data_file in doomed:
                update.delete_data_file(data_file)
            if rows.num_rows:
                for data_file in _dataframe_to_data_files(transaction.table_metadata, rows, loaded.io):
                    update.append_data_file(data_file)
        committed = transaction.commit_transaction()
        snapshot = committed.current_snapshot()
        return snapshot.snapshot_id if snapshot else None

    def _with_retries(self, statement: Statement, table: Table, attempt: Callable[[], Outcome]) -> Outcome:
        """Run a write; when its commit loses to another writer, run it again from a fresh load."""
        for number in range(1, COMMIT_ATTEMPTS + 1):
            try:
                return attempt()
            except CommitFailedException as exc:
                statement.notes.append(f"commit attempt {number} lost to another writer ({exc}); re-running")
        raise statement.fail(
            f"ICEBERG_COMMIT_ERROR: {COMMIT_ATTEMPTS} attempts failed because another writer committed to "
            f"{table.qualified} first each time; retry the statement"
        )


def _conjuncts(expression: exp.Expression) -> list[exp.Expression]:
    if isinstance(expression, exp.Paren):
        return _conjuncts(expression.this)
    if isinstance(expression, exp.And):
        return _conjuncts(expression.left) + _conjuncts(expression.right)
    return [expression]


def _constant_filter(
    expression: exp.Expression, key_names: set[str], alias: str | None
) -> BooleanExpression | None:
    """``key = 'x'`` / ``key IN ('x', ...)`` (AND of them) on partition keys as a pyiceberg filter."""

    def key_of(node: exp.Expression) -> str | None:
        if (
            isinstance(node, exp.Column)
            and node.name.lower() in key_names
            and (alias is None or node.table in ("", alias))
        ):
            return node.name.lower()
        return None

    parts: list[BooleanExpression] = []
    for conjunct in _conjuncts(expression):
        if isinstance(conjunct, exp.EQ):
            for column, value in ((conjunct.left, conjunct.right), (conjunct.right, conjunct.left)):
                key = key_of(column)
                if key and isinstance(value, exp.Literal):
                    parts.append(In(key, {value.name}))
                    break
        elif isinstance(conjunct, exp.In) and not conjunct.args.get("query"):
            key = key_of(conjunct.this)
            if key and conjunct.expressions and all(isinstance(v, exp.Literal) for v in conjunct.expressions):
                parts.append(In(key, {v.name for v in conjunct.expressions}))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(*parts)


def _aligned(
    statement: Statement, table: Table, loaded: IcebergTable, data: pa.Table, column_list: list[str] | None
) -> pa.Table:
    """The query's rows as the table's columns (by position, or by the INSERT column list)."""
    schema = loaded.schema().as_arrow()
    names = schema.names
    sources = [validate_column(c) for c in column_list] if column_list is not None else names
    unknown = [c for c in sources if c not in names]
    if unknown:
        raise statement.fail(
            f"Insert column name does not exist in target table {table.qualified}: {unknown[0]}"
        )
    if data.num_columns != len(sources):
        raise statement.fail(
            f"Insert query has {data.num_columns} column(s) but {table.qualified} expects {len(sources)} "
            f"({', '.join(sources)})"
        )
    by_name = dict(zip(sources, data.columns, strict=True))
    arrays = []
    for field in schema:
        source = by_name.get(field.name)
        if source is None:
            arrays.append(pa.nulls(data.num_rows, field.type))
            continue
        try:
            arrays.append(source.cast(field.type) if source.type != field.type else source)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise statement.fail(
                f"Insert query has mismatched column types: {field.name} is {source.type} in the query and "
                f"{field.type} in {table.qualified} ({exc})"
            ) from exc
    return pa.Table.from_arrays(arrays, schema=schema)
