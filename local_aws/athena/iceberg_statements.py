"""Iceberg statements that are not reads or row writes: metadata tables (``"t$snapshots"``,
``"t$history"``), ``OPTIMIZE t REWRITE DATA USING BIN_PACK [WHERE ...]`` and ``VACUUM t``.

The rows of the metadata tables and the maintenance itself come from
:mod:`local_aws.athena.iceberg_maintenance`; this module parses the statements and wires them in.
"""

from __future__ import annotations

import re

import sqlglot
from pyiceberg.expressions import (
    And,
    BooleanExpression,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThan,
    LessThanOrEqual,
    Not,
    NotEqualTo,
    Or,
)
from sqlglot import exp
from sqlglot.errors import ParseError

from infra.lake import arrow_to_glue_type, validate_database, validate_table
from local_aws.athena.catalog import GlueCatalog, Table, resolve_table_ref
from local_aws.athena.iceberg import IcebergTables, partition_keys
from local_aws.athena.iceberg_maintenance import history_table, optimize, snapshots_table, vacuum
from local_aws.athena.statement import Outcome, Statement

METADATA_TABLES = ("snapshots", "history")
_OPTIMIZE = re.compile(
    r"\s*OPTIMIZE\s+(?P<table>\S+)\s+REWRITE\s+DATA\s+USING\s+BIN_PACK(?:\s+WHERE\s+(?P<where>.+?))?\s*;?\s*",
    re.IGNORECASE | re.DOTALL,
)
_VACUUM = re.compile(r"\s*VACUUM\s+(?P<table>\S+)\s*;?\s*", re.IGNORECASE | re.DOTALL)
_COMPARISONS = {
    exp.EQ: EqualTo,
    exp.NEQ: NotEqualTo,
    exp.GT: GreaterThan,
    exp.GTE: GreaterThanOrEqual,
    exp.LT: LessThan,
    exp.LTE: LessThanOrEqual,
}
_FLIPPED = {
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
    exp.EQ: exp.EQ,
    exp.NEQ: exp.NEQ,
}


def metadata_table(
    statement: Statement, catalog: GlueCatalog, iceberg: IcebergTables, node: exp.Table
) -> tuple[str, str]:
    """Resolve ``"db"."t$snapshots"`` / ``"t$history"``: its rows are kept in the statement and a
    table definition of their columns is registered, so the query plans like any other."""
    base, _, kind = node.name.lower().partition("$")
    if kind not in METADATA_TABLES:
        raise statement.unsupported(
            f'the metadata table "{node.name}"',
            f"the local engine has {', '.join('$' + k for k in METADATA_TABLES)}",
        )
    database = validate_database((node.db or statement.database).lower())
    base = validate_table(base)
    definition = catalog.table(statement, database, base)
    if not definition.is_iceberg:
        raise statement.unsupported(
            f'the metadata table "{node.name}" of the Hive table {definition.qualified}',
            "only Iceberg tables have $snapshots and $history",
        )
    loaded = iceberg.load(statement, definition)
    rows = snapshots_table(loaded) if kind == "snapshots" else history_table(loaded)
    name = f"{base}${kind}"
    statement.tables[(database, name)] = Table(
        database=database,
        name=name,
        columns=tuple((f.name, arrow_to_glue_type(f.type, f.name)) for f in rows.schema),
        partition_keys=(),
        location=definition.location,
        format="iceberg-metadata",
        serde_parameters={},
        raw={},
    )
    statement.metadata_tables[(database, name)] = rows
    node.set("catalog", None)
    node.set("db", exp.to_identifier(database))
    node.set("this", exp.to_identifier(name, quoted=True))
    return database, name


def _after_leading_comments(sql: str) -> str:
    """The statement without the comments before it (SQL files open with a comment)."""
    text = sql.lstrip()
    while text.startswith(("--", "/*")):
        end = text.find("\n") if text.startswith("--") else text.find("*/")
        text = "" if end < 0 else text[end + (1 if text.startswith("--") else 2) :].lstrip()
    return text


def run_maintenance(statement: Statement, catalog: GlueCatalog, iceberg: IcebergTables) -> Outcome:
    """OPTIMIZE ... REWRITE DATA USING BIN_PACK [WHERE <partition predicate>] and VACUUM on Iceberg."""
    sql = _after_leading_comments(statement.sql)
    optimizing = _OPTIMIZE.fullmatch(sql)
    match = optimizing or _VACUUM.fullmatch(sql)
    if match is None:
        raise statement.fail(
            "SYNTAX_ERROR: expected OPTIMIZE <table> REWRITE DATA USING BIN_PACK [WHERE <predicate>] "
            f"or VACUUM <table>, got {sql.strip()[:80]!r}"
        )
    try:
        node = sqlglot.parse_one(match.group("table"), into=exp.Table, read="athena")
    except ParseError as exc:
        raise statement.fail(f"SYNTAX_ERROR: {match.group('table')!r} is not a table name") from exc
    database, name = resolve_table_ref(statement, node)
    table = catalog.table(statement, database, name)
    verb = "OPTIMIZE" if optimizing else "VACUUM"
    if not table.is_iceberg:
        raise statement.unsupported(
            f"NOT_SUPPORTED: {verb} on the Hive table {table.qualified}",
            f"Athena runs {verb} on Iceberg tables only",
        )
    loaded = iceberg.load(statement, table)
    if optimizing:
        where = match.group("where")
        predicate = None
        if where:
            keys = {k for k, _ in partition_keys(loaded)}
            try:
                parsed = sqlglot.parse_one(where, read="athena")
            except ParseError as exc:
                raise statement.fail(f"SYNTAX_ERROR: OPTIMIZE ... WHERE {where!r}: {exc}") from exc
            predicate = iceberg_filter(statement, parsed, keys)
        report = optimize(loaded, predicate)
    else:
        report = vacuum(loaded)
    statement.extra.update(report or {})
    return [], [], "DML"


def iceberg_filter(statement: Statement, node: exp.Expression, keys: set[str]) -> BooleanExpression:
    """A predicate over partition columns (comparisons with literals, IN, AND/OR/NOT) for pyiceberg."""
    if isinstance(node, exp.Paren):
        return iceberg_filter(statement, node.this, keys)
    if isinstance(node, exp.And):
        return And(iceberg_filter(statement, node.left, keys), iceberg_filter(statement, node.right, keys))
    if isinstance(node, exp.Or):
        return Or(iceberg_filter(statement, node.left, keys), iceberg_filter(statement, node.right, keys))
    if isinstance(node, exp.Not):
        return Not(iceberg_filter(statement, node.this, keys))

    def key(column: exp.Expression) -> str:
        if not isinstance(column, exp.Column):
            raise statement.unsupported(
                f"OPTIMIZE ... WHERE {node.sql('trino')}", "compare a partition column with a literal"
            )
        name = column.name.lower()
        if name not in keys:
            raise statement.fail(
                "OPTIMIZE ... WHERE may only reference partition columns "
                f"({', '.join(sorted(keys)) or 'none'}); "
                f"{name} is not one"
            )
        return name

    if isinstance(node, exp.In) and not node.args.get("query"):
        values = node.expressions
        if not all(isinstance(v, exp.Literal) for v in values):
            raise statement.unsupported(
                f"OPTIMIZE ... WHERE {node.sql('trino')}", "use literal values in IN (...)"
            )
        return In(key(node.this), {v.name for v in values})
    for kind, make in _COMPARISONS.items():
        if isinstance(node, kind):
            left, right = node.left, node.right
            if isinstance(left, exp.Literal) and isinstance(right, exp.Column):
                return _COMPARISONS[_FLIPPED[kind]](key(right), left.name)
            if isinstance(right, exp.Literal):
                return make(key(left), right.name)
    raise statement.unsupported(
        f"OPTIMIZE ... WHERE {node.sql('trino')}",
        "use comparisons of partition columns with literals, IN, AND, OR, NOT",
    )
