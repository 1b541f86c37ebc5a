"""Trino's array functions and subscripts where DuckDB's lists answer differently."""

from __future__ import annotations

from sqlglot import exp

from local_aws.athena.errors import UnsupportedSqlError
from local_aws.athena.rewriting import Resolver, bottom_up, call, fail_at_run_time, lambda_, type_of


def has_null(array: exp.Expression) -> exp.Expression:
    return exp.GT(this=call("len", array.copy()), expression=call("list_count", array.copy()))


def three_valued(results: exp.Expression, decisive: exp.Expression, answer: exp.Expression) -> exp.Expression:
    """Trino's any/all/none_match: ``answer`` when a result is ``decisive``, else NULL when a result
    is NULL, else the opposite of ``answer``."""
    opposite = exp.false() if answer == exp.true() else exp.true()
    return exp.Case(
        ifs=[
            exp.If(this=call("list_contains", results.copy(), decisive), true=answer),
            exp.If(this=has_null(results), true=exp.Null()),
        ],
        default=opposite,
    )


def overlap(left: exp.Expression, right: exp.Expression) -> exp.Expression:
    """arrays_overlap: true on a shared non-null element, else NULL when either has a NULL."""
    return exp.Case(
        ifs=[
            exp.If(this=call("list_has_any", left.copy(), right.copy()), true=exp.true()),
            exp.If(this=exp.Or(this=has_null(left), expression=has_null(right)), true=exp.Null()),
        ],
        default=exp.false(),
    )


def array_concatenation(root: exp.Expression, resolver: Resolver) -> None:
    """ARRAY || element and element || ARRAY append and prepend in Trino."""
    for node in bottom_up(root, exp.DPipe):
        left, right = type_of(node.left), type_of(node.right)
        if left == exp.DType.ARRAY and right not in (exp.DType.ARRAY, None, exp.DType.UNKNOWN):
            node.replace(call("list_append", node.left.copy(), node.right.copy()))
        elif right == exp.DType.ARRAY and left not in (exp.DType.ARRAY, None, exp.DType.UNKNOWN):
            node.replace(call("list_prepend", node.left.copy(), node.right.copy()))


def slice_by_length(root: exp.Expression, resolver: Resolver) -> None:
    """slice(array, start, length) in Trino; DuckDB's list_slice takes an end index."""
    for node in bottom_up(root, exp.ArraySlice):
        start, length = node.args.get("start"), node.args.get("end")
        if start is None or length is None:
            raise UnsupportedSqlError("slice() without a start and a length")
        end = exp.Sub(
            this=exp.Add(this=start.copy(), expression=length.copy()), expression=exp.Literal.number(1)
        )
        capped = exp.Case(
            ifs=[exp.If(this=exp.GT(this=start.copy(), expression=exp.Literal.number(0)), true=end)],
            default=exp.Anonymous(this="least", expressions=[end.copy(), exp.Literal.number(-1)]),
        )
        sliced = exp.Anonymous(this="list_slice", expressions=[node.this.copy(), start.copy(), capped])
        node.replace(
            exp.Case(
                ifs=[
                    exp.If(
                        this=exp.EQ(this=start.copy(), expression=exp.Literal.number(0)),
                        true=fail_at_run_time("SQL array indices start at 1"),
                    ),
                    exp.If(
                        this=exp.LT(this=length.copy(), expression=exp.Literal.number(0)),
                        true=fail_at_run_time("length must be greater than or equal to 0"),
                    ),
                ],
                default=sliced,
            )
        )


def distinct_in_order(array: exp.Expression) -> exp.Expression:
    """The distinct elements of ``array`` in order of first occurrence (Trino's array_distinct)."""
    first = exp.EQ(this=call("list_position", array.copy(), exp.column("__e")), expression=exp.column("__i"))
    return call("list_filter", array.copy(), lambda_(first, "__e", "__i"))


def array_functions(root: exp.Expression, resolver: Resolver) -> None:
    """Trino's array functions where DuckDB's differ: array_distinct / array_union / array_except /
    array_intersect keep the order of first occurrence, array_position is 0 when absent (bigint),
    contains is NULL when absent from an array with NULLs, reverse of an array, sequence of dates,
    repeat makes an array."""
    for node in bottom_up(root, exp.ArrayDistinct, exp.ArrayExcept, exp.ArrayIntersect):
        left = node.this
        if isinstance(node, exp.ArrayDistinct):
            node.replace(distinct_in_order(left))
            continue
        right = (
            node.expression if node.args.get("expression") is not None else (node.expressions or [None])[-1]
        )
        if isinstance(node, exp.ArrayIntersect):
            if len(node.expressions) != 2:
                raise UnsupportedSqlError("array_intersect() of other than two arrays")
            left, right = node.expressions
        if right is None:
            raise UnsupportedSqlError(f"{type(node).__name__} without two arrays")
        keep = call("list_contains", right.copy(), exp.column("__e"))
        if isinstance(node, exp.ArrayExcept):
            keep = exp.Not(this=keep)
        node.replace(call("list_filter", distinct_in_order(left), lambda_(keep, "__e")))
    for node in bottom_up(root, exp.ArrayPosition):
        array, element = node.this, node.expression
        position = exp.Coalesce(
            this=call("list_position", array.copy(), element.copy()), expressions=[exp.Literal.number(0)]
        )
        unknown = exp.Or(
            this=exp.Is(this=array.copy(), expression=exp.Null()),
            expression=exp.Is(this=element.copy(), expression=exp.Null()),
        )
        node.replace(
            exp.cast(exp.Case(ifs=[exp.If(this=unknown, true=exp.Null())], default=position), "BIGINT")
        )
    for node in bottom_up(root, exp.ArrayContains):
        array, element = node.this, node.expression
        has_null = exp.GT(this=call("len", array.copy()), expression=call("list_count", array.copy()))
        node.replace(
            exp.Case(
                ifs=[
                    exp.If(this=call("list_contains", array.copy(), element.copy()), true=exp.true()),
                    exp.If(this=has_null, true=exp.Null()),
                ],
                default=exp.false(),
            )
        )
    for node in bottom_up(root, exp.Reverse):
        if type_of(node.this) == exp.DType.ARRAY:
            node.replace(call("list_reverse", node.this.copy()))
        elif type_of(node.this) not in exp.DataType.TEXT_TYPES:
            raise UnsupportedSqlError(
                f"reverse() of `{node.this.sql('trino')}` (its type could not be determined)"
            )
    for node in bottom_up(root, exp.GenerateSeries, exp.GenerateDateArray):
        start = node.args.get("start")
        if start is not None and type_of(start) == exp.DType.DATE:
            if node.args.get("step") is not None:
                raise UnsupportedSqlError("sequence() of dates with a step")
            days = call(
                "generate_series",
                exp.cast(start.copy(), "TIMESTAMP"),
                exp.cast(node.args["end"].copy(), "TIMESTAMP"),
                exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY")),
            )
            node.replace(exp.cast(days, "DATE[]"))
    for node in bottom_up(root, exp.Repeat):
        times = node.args.get("times")
        if type_of(node.this) in exp.DataType.TEXT_TYPES or times is None:
            continue
        copies = call("list_transform", call("range", times.copy()), lambda_(node.this.copy(), "__i"))
        negative = exp.LT(this=times.copy(), expression=exp.Literal.number(0))
        failure = fail_at_run_time("count argument of repeat function must be greater than or equal to 0")
        node.replace(exp.Case(ifs=[exp.If(this=negative, true=failure)], default=copies))


def array_subscripts_fail_out_of_range(root: exp.Expression, resolver: Resolver) -> None:
    """a[i] fails in Trino outside 1..cardinality(a) (DuckDB: NULL, or counts from the end);
    element_at(a, i) is NULL out of range and fails for 0. Subscripts of maps and of values of unknown
    type are refused."""
    for node in bottom_up(root, exp.Bracket):
        if len(node.expressions) != 1:
            raise UnsupportedSqlError("a subscript with several indexes")
        container, index = node.this, node.expressions[0]
        # sqlglot keeps a literal index of a[i] 0-based; element_at's (offset 1) and expressions as written
        if node.args.get("offset") is None and isinstance(index, exp.Literal) and not index.is_string:
            index = exp.Literal.number(int(index.this) + 1)
        kind = type_of(container)
        if kind != exp.DType.ARRAY:
            name = (
                "map subscript" if kind == exp.DType.MAP else "a subscript of a value whose type is not known"
            )
            raise UnsupportedSqlError(f"{name} ({node.sql('trino')})", "use an array or cast the value")
        length = exp.Anonymous(this="len", expressions=[container.copy()])
        plain = exp.Anonymous(this="list_extract", expressions=[container.copy(), index.copy()])
        if node.args.get("safe"):
            checks = [
                (exp.EQ(this=index.copy(), expression=exp.Literal.number(0)), "SQL array indices start at 1")
            ]
            failures = [exp.If(this=c, true=fail_at_run_time(m)) for c, m in checks]
        else:
            failures = [
                exp.If(
                    this=exp.LT(this=index.copy(), expression=exp.Literal.number(1)),
                    true=fail_at_run_time("SQL array indices start at 1"),
                ),
                exp.If(
                    this=exp.GT(this=index.copy(), expression=length),
                    true=exp.Anonymous(
                        this="error",
                        expressions=[
                            exp.DPipe(
                                this=exp.Literal.string(
                                    "Array subscript must be less than or equal to array length: "
                                ),
                                expression=exp.DPipe(
                                    this=exp.cast(index.copy(), "VARCHAR"),
                                    expression=exp.DPipe(
                                        this=exp.Literal.string(" > "),
                                        expression=exp.cast(length.copy(), "VARCHAR"),
                                    ),
                                ),
                            )
                        ],
                    ),
                ),
            ]
        node.replace(exp.Case(ifs=failures, default=plain))
