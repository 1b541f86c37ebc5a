"""Trino's answers for functions and operators where DuckDB answers differently, or a refusal by name.

Each rewrite takes the qualified, type-annotated tree (and the projection resolver of
:mod:`.numeric`) and either rewrites a construct so DuckDB computes Trino's value with Trino's type,
or raises :class:`UnsupportedSqlError` naming the construct. They run first among the dialect's
rewrites (:data:`SEMANTIC_REWRITES`, in order; arrays in :mod:`.arrays`, dates and times in
:mod:`.datetimes`). The list of refusals is in ``README.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from local_aws.athena.arrays import (
    array_concatenation,
    array_functions,
    array_subscripts_fail_out_of_range,
    distinct_in_order,
    overlap,
    slice_by_length,
    three_valued,
)
from local_aws.athena.datetimes import (
    date_plus_interval_is_date,
    format_datetime_patterns,
    from_iso8601_literals,
    iso_day_of_week,
    time_zones_only_for_wall_clock,
    timestamp_literal_precision,
    timestamp_literal_text,
    timestamps_in_milliseconds,
)
from local_aws.athena.errors import UnsupportedSqlError
from local_aws.athena.numeric import numeric_type
from local_aws.athena.rewriting import Resolver, bottom_up, call, fail_at_run_time, type_of
from local_aws.athena.types import trino_type_name

# Functions sqlglot does not know (exp.Anonymous) that a rewrite gives Trino's meaning; any other
# unknown function is refused by its Trino name instead of failing with a DuckDB message.
KNOWN_ANONYMOUS = {"AT_TIMEZONE", "TO_ISO8601", "FORMAT_DATETIME"}


# Trino functions sqlglot does not know, as the DuckDB expression with the same value and type.
TRANSLATED_FUNCTIONS: dict[str, tuple[int, Callable[..., exp.Expression]]] = {
    "E": (0, lambda: call("exp", exp.Literal.number(1))),
    "NAN": (0, lambda: exp.cast(exp.Literal.string("NaN"), "DOUBLE")),
    "INFINITY": (0, lambda: exp.cast(exp.Literal.string("Infinity"), "DOUBLE")),
    "IS_INFINITE": (1, lambda x: call("isinf", x)),
    "IS_FINITE": (1, lambda x: call("isfinite", x)),
    "CODEPOINT": (1, lambda c: exp.cast(call("unicode", c), "INTEGER")),
    "HAMMING_DISTANCE": (2, lambda a, b: exp.cast(call("hamming", a, b), "BIGINT")),
    "JSON_ARRAY_LENGTH": (1, lambda j: exp.cast(call("json_array_length", j), "BIGINT")),
    "MILLISECOND": (
        1,
        lambda t: exp.cast(
            exp.Mod(this=call("millisecond", t), expression=exp.Literal.number(1000)), "BIGINT"
        ),
    ),
    "EVERY": (1, lambda x: call("bool_and", x)),
    "ARRAY_UNION": (2, lambda a, b: distinct_in_order(call("list_concat", a, b))),
    "ANY_MATCH": (2, lambda a, f: three_valued(call("list_transform", a, f), exp.true(), exp.true())),
    "ALL_MATCH": (2, lambda a, f: three_valued(call("list_transform", a, f), exp.false(), exp.false())),
    "NONE_MATCH": (2, lambda a, f: three_valued(call("list_transform", a, f), exp.true(), exp.false())),
    "ARRAYS_OVERLAP": (2, lambda a, b: overlap(a, b)),
    "REGEXP_COUNT": (2, lambda s, p: exp.cast(call("len", call("regexp_extract_all", s, p)), "BIGINT")),
}


def _int_literal(node: exp.Expression | None) -> int | None:
    if isinstance(node, exp.Neg):
        inner = _int_literal(node.this)
        return -inner if inner is not None else None
    if isinstance(node, exp.Literal) and not node.is_string and re.fullmatch(r"\d+", node.this):
        return int(node.this)
    return None


def missing_function(message: str) -> str | None:
    """The function a DuckDB "does not exist" error names (one sqlglot passed through under its
    Trino name), or None for another error."""
    match = re.search(r"Function with name (\w+) does not exist", message)
    return match.group(1).lower() if match else None


def refuse_unknown_functions(root: exp.Expression, resolver: Resolver) -> None:
    """A function sqlglot does not know is refused by its name (DuckDB would name its own)."""
    for node in bottom_up(root, exp.Anonymous):
        name = node.name.upper()
        translation = TRANSLATED_FUNCTIONS.get(name)
        if translation is not None and translation[0] == len(node.expressions):
            node.replace(translation[1](*[a.copy() for a in node.expressions]))
            continue
        if name not in KNOWN_ANONYMOUS:
            raise UnsupportedSqlError(
                f"FUNCTION_NOT_FOUND: the function {node.name.lower()}()",
                "Athena may have it, but the local engine has no faithful equivalent: use another function",
            )


def refuse_with_ties(root: exp.Expression, resolver: Resolver) -> None:
    """FETCH FIRST n ROWS WITH TIES keeps the ties in Trino; DuckDB has no WITH TIES."""
    for fetch in root.find_all(exp.Fetch):
        if fetch.args.get("with_ties") or "TIES" in fetch.sql("trino").upper():
            raise UnsupportedSqlError("FETCH FIRST ... WITH TIES", "use rank() OVER (...) <= n instead")
    for limit in root.find_all(exp.Limit):
        if limit.args.get("with_ties"):
            raise UnsupportedSqlError("FETCH FIRST ... WITH TIES", "use rank() OVER (...) <= n instead")


def typeof_names(root: exp.Expression, resolver: Resolver) -> None:
    """typeof() answers with Trino's type names (DuckDB's own are INTEGER, VARCHAR, ...)."""
    for node in bottom_up(root, exp.Typeof):
        operand = node.this
        if isinstance(operand, exp.Literal) and operand.is_string:
            node.replace(exp.Literal.string(f"varchar({len(operand.this)})"))
            continue
        if isinstance(operand, exp.Cast) and isinstance(operand.this, exp.Literal) and operand.this.is_string:
            precision = timestamp_literal_precision(operand)
            if precision is not None and precision > 3:
                raise UnsupportedSqlError(
                    f"typeof() of the timestamp literal with {precision} fraction digits",
                    "the local engine rounds it to timestamp(3)",
                )
            if precision is not None:
                node.replace(exp.Literal.string(f"timestamp({precision})"))
                continue
        varchar_ok = isinstance(operand, exp.Column) or (
            isinstance(operand, exp.Cast)
            and operand.to.this in exp.DataType.TEXT_TYPES
            and not operand.to.expressions
        )
        if (
            not varchar_ok
            and type_of(operand) in exp.DataType.TEXT_TYPES
            and not isinstance(operand, (exp.Concat, exp.DPipe, exp.Reverse, exp.Repeat))
        ):
            trino_type_name("VARCHAR", varchar_ok=False)  # raises the refusal before anything runs
        node.replace(
            exp.Anonymous(
                this="__trino_typeof",
                expressions=[
                    # the operand itself, not a copy: the resolver knows its columns by identity
                    exp.Anonymous(this="typeof", expressions=[operand]),
                    exp.Boolean(this=varchar_ok),
                ],
            )
        )


def float_to_integer_rounds_half_up(root: exp.Expression, resolver: Resolver) -> None:
    """CAST(double AS integer) rounds half away from zero in Trino, half to even in DuckDB."""
    integers = (exp.DType.TINYINT, exp.DType.SMALLINT, exp.DType.INT, exp.DType.BIGINT)
    for cast in bottom_up(root, exp.Cast, exp.TryCast):
        if cast.to.this not in integers:
            continue
        kind = numeric_type(cast.this, resolver)
        if (kind is not None and kind[0] == "float") or type_of(cast.this) in (
            exp.DType.DOUBLE,
            exp.DType.FLOAT,
        ):
            cast.set("this", exp.Anonymous(this="round", expressions=[cast.this.copy()]))


def numeric_result_types(root: exp.Expression, resolver: Resolver) -> None:
    """ceil/floor of an integer stay integers, sign() has its operand's type, mod of decimals has
    Trino's decimal type, count_if is bigint (DuckDB: double, tinyint, wider decimal, hugeint)."""
    for node in bottom_up(root, exp.Ceil, exp.Floor, exp.Sign, exp.Mod, exp.CountIf):
        if isinstance(node, exp.CountIf):
            node.replace(exp.cast(node.copy(), "BIGINT"))
            continue
        operand = numeric_type(node.this, resolver)
        if operand is None:
            continue
        if isinstance(node, (exp.Ceil, exp.Floor)) and operand[0] == "int":
            node.replace(node.this.copy())
        elif isinstance(node, exp.Sign):
            target = _sql_numeric(operand) if operand[0] != "decimal" else "DECIMAL(1, 0)"
            node.replace(exp.cast(node.copy(), target))
        elif isinstance(node, exp.Mod):
            result = numeric_type(node, resolver)
            if result is not None and result[0] == "decimal":
                node.replace(exp.cast(node.copy(), f"DECIMAL({result[1]}, {result[2]})"))


def _sql_numeric(kind: tuple[str, int, int]) -> str:
    if kind[0] == "float":
        return "DOUBLE"
    if kind[0] == "decimal":
        return f"DECIMAL({kind[1]}, {kind[2]})"
    return {3: "TINYINT", 5: "SMALLINT", 10: "INTEGER"}.get(kind[1], "BIGINT")


def refuse_float_text(root: exp.Expression, resolver: Resolver) -> None:
    """CAST(double AS varchar) is Java's text in Trino (1.5E0), which DuckDB does not write."""
    for cast in root.find_all(exp.Cast, exp.TryCast):
        kind = type_of(cast.this)
        if cast.to.this in exp.DataType.TEXT_TYPES and kind in (exp.DType.DOUBLE, exp.DType.FLOAT):
            name = "double" if kind == exp.DType.DOUBLE else "real"
            raise UnsupportedSqlError(
                f"CAST({name} AS varchar)",
                "Athena writes it in scientific notation (1.5E0); format() or CAST to DECIMAL first",
            )
    if root.find(exp.ParseDatetime) is not None:  # a timestamp with time zone from a Joda pattern
        raise UnsupportedSqlError("parse_datetime()", "use date_parse() with MySQL-style patterns")


_INTEGER_TEXT = r"^\s*[+-]?\d+\s*$"
_DATE_TEXT = r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*$"


def text_casts_are_strict(root: exp.Expression, resolver: Resolver) -> None:
    """CAST(varchar AS integer) fails in Trino for '1.5' (DuckDB rounds it); CAST(varchar AS date)
    fails for '2020-01-05 10:00' (DuckDB drops the time). TRY_CAST gives NULL instead."""
    integers = (exp.DType.TINYINT, exp.DType.SMALLINT, exp.DType.INT, exp.DType.BIGINT)
    for cast in bottom_up(root, exp.Cast, exp.TryCast):
        if type_of(cast.this) not in exp.DataType.TEXT_TYPES:
            continue
        if cast.to.this in integers:
            pattern = _INTEGER_TEXT
        elif cast.to.this == exp.DType.DATE:
            pattern = _DATE_TEXT
        else:
            continue
        if isinstance(cast.this, exp.Literal) and re.search(pattern, cast.this.this):
            continue  # a valid literal needs no check at run time
        valid = exp.RegexpLike(this=cast.this.copy(), expression=exp.Literal.string(pattern))
        target = cast.to.sql("trino").upper()
        failure: exp.Expression = exp.Null()
        if not isinstance(cast, exp.TryCast):
            failure = call(
                "error",
                exp.DPipe(
                    this=exp.Literal.string("INVALID_CAST_ARGUMENT: Cannot cast '"),
                    expression=exp.DPipe(
                        this=cast.this.copy(), expression=exp.Literal.string(f"' to {target}")
                    ),
                ),
            )
        checked = exp.Case(
            ifs=[
                exp.If(this=exp.Is(this=cast.this.copy(), expression=exp.Null()), true=exp.Null()),
                exp.If(this=valid, true=cast.copy()),
            ],
            default=failure,
        )
        cast.replace(exp.Cast(this=checked, to=cast.to.copy()))


def refuse_date_differences(root: exp.Expression, resolver: Resolver) -> None:
    """date - date is an integer of days in DuckDB, not an Athena construct the engine can type."""
    for node in root.find_all(exp.Sub):
        if type_of(node.left) == exp.DType.DATE and type_of(node.right) == exp.DType.DATE:
            raise UnsupportedSqlError("date - date", "use date_diff('day', a, b)")
    for node in root.find_all(exp.Split):
        if node.args.get("limit") is not None:
            raise UnsupportedSqlError("split() with a limit")


def split_part_past_the_end_is_null(root: exp.Expression, resolver: Resolver) -> None:
    """split_part past the last field is NULL in Trino ('' in DuckDB); an index below 1 fails."""
    for node in bottom_up(root, exp.SplitPart):
        text, delimiter, index = node.this, node.args.get("delimiter"), node.args.get("part_index")
        if delimiter is None or index is None:
            raise UnsupportedSqlError("split_part() without a delimiter and an index")
        fields = exp.Anonymous(this="string_split", expressions=[text.copy(), delimiter.copy()])
        picked = exp.Anonymous(this="list_extract", expressions=[fields, index.copy()])
        node.replace(
            exp.Case(
                ifs=[
                    exp.If(
                        this=exp.LT(this=index.copy(), expression=exp.Literal.number(1)),
                        true=fail_at_run_time("Index must be greater than zero"),
                    )
                ],
                default=picked,
            )
        )


def regexp_group_references(root: exp.Expression, resolver: Resolver) -> None:
    """regexp_replace's replacement uses $1 for groups in Trino, \\1 in DuckDB; regexp_extract of no
    match is NULL in Trino ('' in DuckDB)."""
    for node in bottom_up(root, exp.RegexpReplace):
        replacement = node.args.get("replacement")
        if replacement is None:
            continue
        if not (isinstance(replacement, exp.Literal) and replacement.is_string):
            raise UnsupportedSqlError(
                "regexp_replace() with a replacement that is not a string literal",
                "the local engine translates $n group references only in literals",
            )
        text = replacement.this
        if "${" in text:
            raise UnsupportedSqlError("regexp_replace() with a named group reference ${name}")
        translated = re.sub(r"\\(.)|\$(\d)|(\\)", _translate_replacement, text)
        node.set("replacement", exp.Literal.string(translated))
    for node in bottom_up(root, exp.RegexpExtract):
        if isinstance(node.parent, exp.If) and node.parent.args.get("true") is node:
            continue
        condition = exp.RegexpLike(this=node.this.copy(), expression=node.expression.copy())
        node.replace(exp.Case(ifs=[exp.If(this=condition, true=node.copy())]))


def _translate_replacement(match: re.Match) -> str:
    if match.group(1) is not None:
        return "\\\\" if match.group(1) == "\\" else match.group(1)
    if match.group(2) is not None:
        return "\\" + match.group(2)
    return "\\\\"


_FORMAT_SPEC = re.compile(r"%(?P<flags>[-0+ ]*)(?P<width>\d*)(?P<precision>\.\d+)?(?P<conversion>.)")


def format_is_printf(root: exp.Expression, resolver: Resolver) -> None:
    """Trino's format() is Java's String.format; DuckDB's is fmt. The conversions both agree on
    (%s of non-floating values, %d, %x, %o, %%) become printf; any other is refused."""
    for node in bottom_up(root, exp.Format):
        pattern = node.this
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise UnsupportedSqlError("format() with a pattern that is not a string literal")
        arguments = list(node.expressions)
        position = 0
        for spec in _FORMAT_SPEC.finditer(pattern.this):
            conversion = spec.group("conversion")
            if conversion in "%n":
                continue
            if conversion not in "sdxXo" or spec.group("precision"):
                raise UnsupportedSqlError(
                    f"format() conversion {spec.group(0)!r}",
                    "the local engine supports %s, %d, %x, %o with flags and width",
                )
            if position < len(arguments) and conversion == "s":
                if type_of(arguments[position]) in (exp.DType.DOUBLE, exp.DType.FLOAT, exp.DType.DECIMAL):
                    raise UnsupportedSqlError(
                        "format() %s of a double or decimal", "cast the value to varchar first"
                    )
            position += 1
        node.replace(
            exp.Anonymous(this="printf", expressions=[pattern.copy(), *[a.copy() for a in arguments]])
        )


def exact_rounding_of_decimals(root: exp.Expression, resolver: Resolver) -> None:
    """round(decimal(p, s), n) is decimal(p + 1, s) in Trino, round(decimal(p, s)) decimal(p - s + 1, 0)."""
    for node in bottom_up(root, exp.Round):
        kind = numeric_type(node.this, resolver)
        if kind is None or kind[0] != "decimal":
            continue
        _, precision, scale = kind
        digits = node.args.get("decimals")
        if digits is None:
            target = f"DECIMAL({min(38, precision - scale + min(scale, 1))}, 0)"
        else:
            target = f"DECIMAL({min(38, precision + 1)}, {scale})"
        node.replace(exp.cast(node.copy(), target))


def approximate_aggregates_exact(root: exp.Expression, resolver: Resolver) -> None:
    """approx_distinct is computed exactly (count(DISTINCT x)); approx_percentile as the exact
    percentile of the input's type (DuckDB's sketch answers a double)."""
    for node in bottom_up(root, exp.ApproxDistinct):
        node.replace(exp.Count(this=exp.Distinct(expressions=[node.this.copy()])))
    for node in bottom_up(root, exp.ApproxQuantile):
        if node.args.get("weight") is not None or node.args.get("accuracy") is not None:
            raise UnsupportedSqlError("approx_percentile() with a weight or an accuracy")
        kind = numeric_type(node.this, resolver)
        if kind is None:
            raise UnsupportedSqlError(
                f"approx_percentile() of `{node.this.sql('trino')}` (its type could not be determined)",
                "CAST it to BIGINT or DOUBLE",
            )
        # Trino has bigint, real and double signatures: integers answer bigint, decimals double.
        operand = node.this.copy() if kind[0] != "decimal" else exp.cast(node.this.copy(), "DOUBLE")
        value: exp.Expression = exp.Anonymous(
            this="quantile_disc", expressions=[operand, node.args["quantile"].copy()]
        )
        if kind[0] == "int":
            many = isinstance(node.args["quantile"], exp.Array)
            value = exp.cast(value, "BIGINT[]" if many else "BIGINT")
        node.replace(value)


Rewrite = Callable[[exp.Expression, Resolver], None]

# In order: refusals first, then typeof (it must see the operand as written), then the rewrites.
# Each with the node types it looks for: a rewrite runs only when the statement has one of them
# (most statements have few of these constructs; a walk of the tree per rewrite is not free).
_INTEGERS = (exp.DType.TINYINT, exp.DType.SMALLINT, exp.DType.INT, exp.DType.BIGINT)
_TEXT = tuple(exp.DataType.TEXT_TYPES)
# A trigger is a node type, or the target type of a CAST (most statements cast, to few types).
Trigger = type[exp.Expression] | exp.DType
SEMANTIC_REWRITES: tuple[tuple[tuple[Trigger, ...], Rewrite], ...] = (
    ((exp.Anonymous,), refuse_unknown_functions),
    ((exp.Fetch, exp.Limit), refuse_with_ties),
    ((exp.Typeof,), typeof_names),
    ((exp.AtTimeZone, exp.Anonymous), time_zones_only_for_wall_clock),
    (_TEXT, timestamp_literal_text),
    ((exp.DType.TIMESTAMP,), timestamps_in_milliseconds),
    ((exp.FromISO8601Date, exp.FromISO8601Timestamp), from_iso8601_literals),
    ((exp.Anonymous,), format_datetime_patterns),
    ((*_TEXT, exp.ParseDatetime), refuse_float_text),
    ((exp.Sub, exp.Split), refuse_date_differences),
    ((*_INTEGERS, exp.DType.DATE), text_casts_are_strict),
    (_INTEGERS, float_to_integer_rounds_half_up),
    ((exp.Ceil, exp.Floor, exp.Sign, exp.Mod, exp.CountIf), numeric_result_types),
    ((exp.Extract,), iso_day_of_week),
    ((exp.Add, exp.Sub), date_plus_interval_is_date),
    ((exp.SplitPart,), split_part_past_the_end_is_null),
    ((exp.RegexpReplace, exp.RegexpExtract), regexp_group_references),
    ((exp.Format,), format_is_printf),
    ((exp.ArraySlice,), slice_by_length),
    ((exp.DPipe,), array_concatenation),
    (
        (
            exp.ArrayDistinct,
            exp.ArrayExcept,
            exp.ArrayIntersect,
            exp.ArrayPosition,
            exp.ArrayContains,
            exp.Reverse,
            exp.GenerateSeries,
            exp.GenerateDateArray,
            exp.Repeat,
        ),
        array_functions,
    ),
    ((exp.Bracket,), array_subscripts_fail_out_of_range),
    ((exp.Round,), exact_rounding_of_decimals),
    ((exp.ApproxDistinct, exp.ApproxQuantile), approximate_aggregates_exact),
)


def apply_semantic_rewrites(root: exp.Expression, resolver: Resolver) -> bool:
    """Run the rewrites of :data:`SEMANTIC_REWRITES` whose node types the statement has (as written:
    what a rewrite builds is already DuckDB's). True when any ran (the tree may have changed)."""
    present: set[Trigger] = set()
    for node in root.walk():
        present.add(type(node))
        if isinstance(node, exp.Cast):
            present.add(node.to.this)
    ran = False
    for triggers, rewrite in SEMANTIC_REWRITES:
        kinds = tuple(t for t in triggers if isinstance(t, type))
        if any(t in present for t in triggers if not isinstance(t, type)) or any(
            issubclass(kind, kinds) for kind in present if isinstance(kind, type)
        ):
            rewrite(root, resolver)
            ran = True
    # the resolver reads CTE / derived table / VALUES outputs; copied columns need it rebuilt
    return ran and bool(present & {exp.CTE, exp.Subquery, exp.Values})
