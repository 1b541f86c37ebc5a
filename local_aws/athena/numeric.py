"""Trino's numeric type of an expression, as far as it can be told statically, and the projection
resolver that lets a column of a CTE, derived table or VALUES list be typed by what it reads."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

# Columns that read a CTE / derived table output (by id) -> the projection behind them.
Resolver = Mapping[int, exp.Expression]


def projection_resolver(root_expression: exp.Expression) -> Resolver:
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
            elif isinstance(source, (Scope, exp.Values)):
                values = source.expression if isinstance(source, Scope) else source
                value = _values_column(values, column.name) if isinstance(values, exp.Values) else None
                if value is not None:
                    resolved[id(column)] = value
    return resolved


def _values_column(values: exp.Values, name: str) -> exp.Expression | None:
    """The first row's value of column ``name`` of ``VALUES ... AS t(name, ...)`` when every row's
    value has the same numeric type (then that is the column's type), else None."""
    alias = values.args.get("alias")
    columns = [c.name.lower() for c in (alias.columns if alias is not None else [])]
    if name.lower() not in columns:
        return None
    position = columns.index(name.lower())
    cells = []
    for row in values.expressions:
        items = row.expressions if isinstance(row, exp.Tuple) else [row]
        if position >= len(items):
            return None
        cells.append(items[position])
    kinds = {numeric_type(cell, {}) for cell in cells if not isinstance(cell, exp.Null)}
    if len(kinds) != 1 or None in kinds:
        return None
    return next(cell for cell in cells if not isinstance(cell, exp.Null))


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


def numeric_type(node: exp.Expression, resolver: Resolver, depth: int = 0) -> NumericType | None:
    """Trino's numeric type of an expression, as far as it can be told statically (None: unknown)."""
    if depth > 50:
        return None

    def sub(child: exp.Expression | None) -> NumericType | None:
        return numeric_type(child, resolver, depth + 1) if child is not None else None

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
