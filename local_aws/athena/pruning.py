"""Partition pruning: read only the registered partitions a statement's predicates allow.

Conjuncts of ``WHERE`` clauses that constrain only partition columns are evaluated against the
partition list before any object is read, including predicates on columns of CTEs / derived tables
that pass a partition column through unchanged (not through ``LIMIT``, through aggregation only on
grouping keys, through window functions only on their ``PARTITION BY`` keys, not to the nullable
side of outer joins). The catalog is asked for the matching partitions only (Glue ``GetPartitions``
with an ``Expression``, as Athena does), then the exact predicate is evaluated on what it returns.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import ClientError
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.optimizer.scope import Scope, build_scope

from infra.lake import HIVE_DEFAULT_PARTITION, glue_type_to_arrow
from local_aws.athena.catalog import GlueCatalog, Partition, Table
from local_aws.athena.statement import Statement, view_name

# Functions whose value differs between calls: a predicate using them cannot select partitions.
_NONDETERMINISTIC = (exp.Rand,) + tuple(
    cls for name in ("Random", "Uuid", "Randn") if (cls := getattr(exp, name, None)) is not None
)


def select_partitions(
    statement: Statement,
    catalog: GlueCatalog,
    con: duckdb.DuckDBPyConnection,
    table: Table,
    alternatives: list[list[exp.Expression]] | None,
) -> list[Partition] | None:
    """The registered partitions a table reference needs (None for an unpartitioned table)."""
    if not table.partition_keys:
        return None
    predicate = partition_predicate(alternatives, table.key_names)
    if predicate is None:
        return catalog.partitions(table)
    # Let the catalog narrow the list first, as Athena does (GetPartitions with an expression):
    # listing every partition of a long-lived table is the slow part. The exact predicate is still
    # evaluated below, so a loose catalog filter costs time, never correctness.
    expression = glue_expression(predicate, dict(table.partition_keys))
    partitions: list[Partition] | None = None
    if expression:
        try:
            partitions = catalog.partitions(table, expression)
        except ClientError as exc:
            statement.notes.append(f"catalog partition filter {expression!r} refused ({exc}); listing all")
    if partitions is None:
        partitions = catalog.partitions(table)
    if not partitions:
        return partitions
    try:
        return evaluate_partition_predicate(con, table, partitions, predicate)
    except Exception as exc:  # noqa: BLE001 - reading every partition is correct, only slower
        statement.notes.append(f"partition predicate not evaluated ({exc}); all partitions read")
        return partitions


def evaluate_partition_predicate(
    con: duckdb.DuckDBPyConnection, table: Table, partitions: Sequence[Partition], predicate: exp.Expression
) -> list[Partition]:
    """The partitions whose values satisfy ``predicate``, evaluated by DuckDB (Hive and Iceberg tables)."""
    arrays = {}
    for index, (key, glue_type) in enumerate(table.partition_keys):
        values = [None if p.values[index] == HIVE_DEFAULT_PARTITION else p.values[index] for p in partitions]
        arrays[key] = pc.cast(pa.array(values, pa.string()), glue_type_to_arrow(glue_type))
    arrays["__partition_index"] = pa.array(range(len(partitions)), pa.int64())
    view = view_name("partitions")
    con.register(view, pa.table(arrays))
    try:
        where = predicate.sql(dialect="duckdb", identify=True, unsupported_level=ErrorLevel.RAISE)
        rows = con.execute(f'SELECT "__partition_index" FROM "{view}" WHERE {where}').fetchall()
    finally:
        con.unregister(view)
    return [partitions[row[0]] for row in sorted(rows)]


def pushdown_predicates(root_expression: exp.Expression) -> dict[int, list[list[exp.Expression]] | None]:
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


def glue_expression(predicate: exp.Expression, key_types: Mapping[str, str]) -> str | None:
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


def partition_predicate(
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
