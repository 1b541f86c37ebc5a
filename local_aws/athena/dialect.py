"""Trino semantics on DuckDB, as a sqlglot dialect: :class:`AthenaOnDuckDB`.

Athena runs Trino; the local engine runs DuckDB. Where the two differ in a way the application would
notice, the dialect's generator rewrites the expression before DuckDB SQL is written (the way
sqlmesh's engine adapters draw an engine boundary): integer division truncates, decimal division and
``avg(decimal)`` are exact with Trino's scale and HALF_UP rounding, ``sum`` of integers is
``bigint``, ``date_diff`` counts whole units, ``date_trunc`` / ``date_add`` (by days or more) of a
date is a date, ``CAST(timestamp AS varchar)`` and ``to_iso8601`` have milliseconds, bare
``DECIMAL`` is ``decimal(38,0)`` and ``DECIMAL '1.50'`` is ``decimal(3,2)``, ``x AT TIME ZONE z`` /
``at_timezone`` read a timestamp as UTC (the session zone). The function and operator rewrites and
refusals of :mod:`.semantics` run first. Each rewrite here is one method of
:class:`AthenaOnDuckDB.Generator`, applied in the order of ``TRINO_REWRITES`` (later rewrites see the
types the earlier ones produced). The tree must be qualified and type-annotated (sqlglot's
``qualify`` and ``annotate_types`` with the Trino dialect) for the type-dependent rewrites.

The engine's DuckDB session supplies the rest: ``TimeZone = 'UTC'``, NULLs last, and the macro
:data:`DECIMAL_DIVISION_MACRO`.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

from local_aws.athena.errors import UnsupportedSqlError
from local_aws.athena.numeric import NumericType, Resolver, numeric_type, projection_resolver
from local_aws.athena.semantics import apply_semantic_rewrites

# Unscaled result of an exact decimal division, rounded HALF_UP like Trino (see _decimal_divide).
DECIMAL_DIVISION_MACRO = (
    "CREATE MACRO __trino_div_unscaled(ua, ub, m) AS "
    "sign(ua) * sign(ub) * ((2 * abs(ua) * m + abs(ub)) // (2 * abs(ub)))"
)


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
    # exp.Cast, not exp.cast: the helper drops a cast to DECIMAL(p, s) of a DECIMAL(38, 0) value
    return exp.Cast(this=value, to=exp.DataType.build(f"DECIMAL({max(precision, scale, 1)}, {scale})"))


def _wrapping_aggregate(node: exp.Expression) -> exp.Expression:
    """The aggregate call with its FILTER and OVER wrappers (what replaces it must replace them)."""
    host = node
    while isinstance(host.parent, (exp.Filter, exp.Window)) and host.parent.this is host:
        host = host.parent
    return host


class AthenaOnDuckDB(DuckDB):
    """DuckDB SQL with Trino's (Athena's) meaning: DuckDB's generator after the Trino rewrites."""

    class Generator(DuckDB.Generator):
        """DuckDB's generator; ``preprocess`` first applies each rewrite of ``TRINO_REWRITES``."""

        TRINO_REWRITES = (
            "bare_decimal_types",
            "exact_decimal_averages",
            "typed_divisions",
            "bigint_integer_sums",
            "at_time_zone_from_utc",
            "date_arithmetic_keeps_dates",
            "whole_unit_date_diffs",
            "iso8601_with_milliseconds",
            "timestamp_text_with_milliseconds",
        )

        def preprocess(self, expression: exp.Expr) -> exp.Expr:
            """Rewrite the (copied) tree to Trino's semantics, then DuckDB's own preprocessing."""
            self.bare_decimal_types(expression, {})  # the resolver and the rewrites read decimal types
            resolver = projection_resolver(expression)
            if apply_semantic_rewrites(expression, resolver):
                resolver = projection_resolver(expression)  # the semantic rewrites copied some columns
            for name in self.TRINO_REWRITES:
                getattr(self, name)(expression, resolver)
            return super().preprocess(expression)

        @staticmethod
        def bare_decimal_types(root: exp.Expression, resolver: Resolver) -> None:
            """DECIMAL without precision is decimal(38, 0) in Trino (DuckDB: 18, 3); DECIMAL '1.50' is
            decimal(3, 2)."""
            for node in list(root.find_all(exp.Cast, exp.TryCast)):
                target = node.to
                if target.this == exp.DType.DECIMAL and not target.expressions:
                    text = (
                        node.this.this if isinstance(node.this, exp.Literal) and node.this.is_string else None
                    )
                    match = re.fullmatch(r"\s*[+-]?(\d*)(?:\.(\d*))?\s*", text or "")
                    if match and (match.group(1) or match.group(2)):
                        whole, fraction = match.group(1).lstrip("0"), match.group(2) or ""
                        precision, scale = max(1, len(whole) + len(fraction)), len(fraction)
                    else:
                        precision, scale = 38, 0
                    node.set("to", exp.DataType.build(f"DECIMAL({precision}, {scale})"))

        @staticmethod
        def exact_decimal_averages(root: exp.Expression, resolver: Resolver) -> None:
            """avg(decimal) is decimal(p, s) in Trino and DOUBLE in DuckDB: exact sum / count instead."""
            for avg in list(root.find_all(exp.Avg)):
                kind = numeric_type(avg.this, resolver)
                if kind is None:
                    raise UnsupportedSqlError(
                        f"avg(`{avg.this.sql('trino')}`) (its type could not be determined, so Athena's "
                        "decimal or double average cannot be chosen)",
                        "CAST the argument to DECIMAL(p, s) or DOUBLE",
                    )
                if kind[0] != "decimal":
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

        @staticmethod
        def typed_divisions(root: exp.Expression, resolver: Resolver) -> None:
            """Typed division: integer division truncates, decimal division is exact, the rest is DOUBLE.

            Raises UnsupportedSqlError when an operand's type cannot be told (the kind of division
            would be a guess)."""
            while True:
                division = next((d for d in root.find_all(exp.Div) if d.args.get("typed")), None)
                if division is None:
                    break
                left, right = numeric_type(division.left, resolver), numeric_type(division.right, resolver)
                if left is None or right is None or "other" in (left[0], right[0]):
                    raise UnsupportedSqlError(
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
                    result = numeric_type(division, resolver) or ("decimal", 38, max(left[2], right[2]))
                    division.replace(_decimal_divide(division.left, division.right, left, right, result))

        @staticmethod
        def bigint_integer_sums(root: exp.Expression, resolver: Resolver) -> None:
            """sum(integer) is BIGINT in Trino, HUGEINT in DuckDB."""
            for total in list(root.find_all(exp.Sum)):
                kind = numeric_type(total.this, resolver)
                if kind is not None and kind[0] == "int" and total.parent is not None:
                    host = _wrapping_aggregate(total)
                    host.replace(exp.cast(host.copy(), "BIGINT"))

        @staticmethod
        def at_time_zone_from_utc(root: exp.Expression, resolver: Resolver) -> None:
            """AT TIME ZONE reads a timestamp in the session zone (UTC) in Trino, in the target zone in
            DuckDB; ``at_timezone(x, z)`` is the same thing."""
            for node in list(root.find_all(exp.Anonymous)):
                if node.name.upper() == "AT_TIMEZONE" and len(node.expressions) == 2:
                    node.replace(
                        exp.AtTimeZone(this=node.expressions[0].copy(), zone=node.expressions[1].copy())
                    )
            for node in list(root.find_all(exp.AtTimeZone)):
                node.set("this", exp.cast(node.this.copy(), "TIMESTAMPTZ"))

        @staticmethod
        def date_arithmetic_keeps_dates(root: exp.Expression, resolver: Resolver) -> None:
            """date_trunc / date_add of a DATE (by days or more) is a DATE in Trino, a TIMESTAMP in DuckDB."""
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

        @staticmethod
        def whole_unit_date_diffs(root: exp.Expression, resolver: Resolver) -> None:
            """date_diff counts whole units in Trino; DuckDB's date_diff counts boundaries, its date_sub
            whole units."""
            for node in list(root.find_all(exp.DateDiff)):
                unit = node.args.get("unit")
                unit_name = (unit.name if unit is not None else "DAY").upper()
                node.replace(
                    exp.Anonymous(
                        this="DATE_SUB",
                        expressions=[exp.Literal.string(unit_name), node.expression.copy(), node.this.copy()],
                    )
                )

        @staticmethod
        def iso8601_with_milliseconds(root: exp.Expression, resolver: Resolver) -> None:
            """to_iso8601 of a timestamp / date (Trino's text, milliseconds for timestamp(3))."""
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
                        exp.Anonymous(
                            this="STRFTIME", expressions=[operand.copy(), exp.Literal.string(pattern)]
                        )
                    )

        @staticmethod
        def timestamp_text_with_milliseconds(root: exp.Expression, resolver: Resolver) -> None:
            """CAST(timestamp AS varchar) keeps milliseconds in Trino (timestamp(3))."""
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
                            this="STRFTIME",
                            expressions=[operand.copy(), exp.Literal.string("%Y-%m-%d %H:%M:%S.%g")],
                        )
                    )
