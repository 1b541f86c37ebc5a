"""What the rewrites of :mod:`.semantics`, :mod:`.arrays` and :mod:`.datetimes` share: building
DuckDB calls, failing at run time with Trino's message, visiting nodes deepest first."""

from __future__ import annotations

from sqlglot import exp

from local_aws.athena.numeric import Resolver

__all__ = ["Resolver", "bottom_up", "call", "fail_at_run_time", "lambda_", "type_of"]


def call(name: str, *arguments: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(arguments))


def bottom_up(root: exp.Expression, *kinds: type[exp.Expression]) -> list:
    """The nodes of ``kinds`` under ``root``, deepest first: a rewrite that copies a node's arguments
    must see them already rewritten."""
    return list(root.find_all(*kinds))[::-1]


def fail_at_run_time(message: str) -> exp.Expression:
    """DuckDB's ``error(message)``: fails the query at run time with Trino's message."""
    return exp.Anonymous(this="error", expressions=[exp.Literal.string(message)])


def type_of(node: exp.Expression) -> exp.DType | None:
    return node.type.this if isinstance(node.type, exp.DataType) else None


def lambda_(body: exp.Expression, *names: str) -> exp.Lambda:
    return exp.Lambda(this=body, expressions=[exp.to_identifier(n) for n in names])
