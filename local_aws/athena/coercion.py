"""Athena's coercion rules: the implicit conversions Trino refuses, refused locally too.

DuckDB converts a string to a number or a date wherever it can (``'1' = 1`` is true, ``'order-' || 1``
is ``order-1``); Trino has no implicit conversion from ``varchar`` and fails the query at analysis.
:func:`type_mismatch` walks the qualified, type-annotated tree once (sqlglot's ``annotate_types``
with the table schema, which the engine has already run) and returns Athena's message for the
first operator whose operand types Trino cannot reconcile, or None. Operands of unknown type are
not judged (DuckDB then reports what it finds).
"""

from __future__ import annotations

from sqlglot import exp

from local_aws.athena.types import sql_type_name

_NUMERIC = exp.DataType.NUMERIC_TYPES
_TEMPORAL = exp.DataType.TEMPORAL_TYPES
_TEXT = exp.DataType.TEXT_TYPES

_COMPARISONS: dict[type[exp.Expression], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.NullSafeEQ: "IS NOT DISTINCT FROM",
    exp.NullSafeNEQ: "IS DISTINCT FROM",
}
_ARITHMETIC: dict[type[exp.Expression], str] = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
    exp.Mod: "%",
}


def _family(node: exp.Expression) -> str | None:
    """The coercion family of an annotated operand: text, number, temporal, boolean or None."""
    data_type = node.type if isinstance(node.type, exp.DataType) else None
    if data_type is None:
        return None
    kind = data_type.this
    if kind in _TEXT:
        return "text"
    if kind in _NUMERIC:
        return "number"
    if kind in _TEMPORAL:
        return "temporal"
    if kind == exp.DType.BOOLEAN:
        return "boolean"
    return None


def _incompatible(left: exp.Expression, right: exp.Expression) -> bool:
    """True when Trino has no implicit coercion between the two operands' types."""
    families = {_family(left), _family(right)}
    return None not in families and len(families) == 2


def _names(*nodes: exp.Expression) -> list[str]:
    return [sql_type_name(node) or "unknown" for node in nodes]


def type_mismatch(tree: exp.Expression) -> str | None:
    """Athena's TYPE_MISMATCH message for the first operator Trino would refuse, else None."""
    for node in tree.walk():
        message = _check(node)
        if message is not None:
            return f"TYPE_MISMATCH: {message}"
    return None


def _check(node: exp.Expression) -> str | None:
    operator = _COMPARISONS.get(type(node))
    if operator is not None and _incompatible(node.left, node.right):
        left, right = _names(node.left, node.right)
        return f"Cannot apply operator: {left} {operator} {right}"
    operator = _ARITHMETIC.get(type(node))
    if (
        operator is not None
        and not isinstance(node.left, exp.Interval)
        and not isinstance(node.right, exp.Interval)
    ):
        families = {_family(node.left), _family(node.right)}
        # no implicit conversion from varchar; date + integer is not date arithmetic in Trino
        if "text" in families or families == {"temporal", "number"} or "boolean" in families - {None}:
            left, right = _names(node.left, node.right)
            return f"Cannot apply operator: {left} {operator} {right}"
    if isinstance(node, exp.Between):
        low, high = node.args.get("low"), node.args.get("high")
        if (
            low is not None
            and high is not None
            and (_incompatible(node.this, low) or _incompatible(node.this, high))
        ):
            value, low_name, high_name = _names(node.this, low, high)
            return f"Cannot check if {value} is BETWEEN {low_name} and {high_name}"
    if isinstance(node, exp.In) and node.expressions:
        for item in node.expressions:
            if _incompatible(node.this, item):
                return f"IN value and list items must be the same type: {_names(node.this)[0]}"
    if isinstance(node, exp.DPipe):
        families = {_family(node.left), _family(node.right)}
        if "text" in families and families - {"text", None}:
            left, right = _names(node.left, node.right)
            return f"'||' cannot be applied to {left}, {right}"
    branches = _branches(node)
    if branches and _mixed(branches):
        name = {exp.Case: "CASE", exp.If: "IF", exp.Coalesce: "COALESCE"}.get(
            type(node), type(node).__name__.upper()
        )
        return (
            f"All {name} results must be the same type or coercible to a common type: "
            f"{', '.join(_names(*branches))}"
        )
    if isinstance(node, exp.SetOperation):
        left, right = _outputs(node.left), _outputs(node.right)
        if left and right and len(left) == len(right):
            for position, (a, b) in enumerate(zip(left, right, strict=True), start=1):
                if _incompatible(a, b):
                    kind = type(node).__name__.upper()
                    names = ", ".join(_names(a, b))
                    return f"column {position} in {kind} query has incompatible types: {names}"
    if isinstance(node, exp.Concat):
        arguments = node.expressions
        if any(_family(a) not in ("text", None) for a in arguments) and any(
            _family(a) == "text" for a in arguments
        ):
            return f"Unexpected parameters ({', '.join(_names(*arguments))}) for function concat"
    return None


def _branches(node: exp.Expression) -> list[exp.Expression]:
    """The values a conditional expression may answer (their types must have a common supertype)."""
    if isinstance(node, exp.Case):
        branches = [i.args.get("true") for i in node.args.get("ifs") or []]
        branches.append(node.args.get("default"))
    elif isinstance(node, exp.If):
        branches = [node.args.get("true"), node.args.get("false")]
    elif isinstance(node, (exp.Coalesce, exp.Greatest, exp.Least)):
        branches = [node.this, *node.expressions]
    else:
        return []
    return [b for b in branches if b is not None]


def _mixed(values: list[exp.Expression]) -> bool:
    families = {_family(v) for v in values} - {None}
    return len(families) > 1


def _outputs(query: exp.Expression) -> list[exp.Expression]:
    """The projections of a set operation's side (its first SELECT's, for a nested set operation)."""
    while isinstance(query, (exp.SetOperation, exp.Subquery)):
        query = query.this
    if not isinstance(query, exp.Select) or any(isinstance(p, exp.Star) for p in query.expressions):
        return []
    return [p.unalias() for p in query.expressions]
