"""Trino's dates, millisecond timestamps and time zones where DuckDB answers differently."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlglot import exp

from local_aws.athena.errors import UnsupportedSqlError
from local_aws.athena.rewriting import Resolver, bottom_up, type_of

# Nodes that read only the wall-clock fields of a timestamp: AT TIME ZONE under them is exact.
_WALL_CLOCK_READERS = (
    exp.TimeToStr,
    exp.Hour,
    exp.Minute,
    exp.Second,
    exp.Day,
    exp.Month,
    exp.Year,
    exp.Quarter,
    exp.Extract,
    exp.DayOfWeek,
    exp.DayOfWeekIso,
    exp.DayOfYear,
    exp.DayOfMonth,
    exp.WeekOfYear,
)

_UTC_ZONES = {"UTC", "Z", "+00:00", "GMT", "ETC/UTC"}


def _fraction_digits(cast: exp.Expression) -> int | None:
    """The fraction digits of a string literal cast to TIMESTAMP, None for another expression."""
    if not isinstance(cast, (exp.Cast, exp.TryCast)) or cast.to.this != exp.DType.TIMESTAMP:
        return None
    if not (isinstance(cast.this, exp.Literal) and cast.this.is_string):
        return None
    match = re.fullmatch(
        r"\s*\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.(\d*))?)?)?\s*", cast.this.this
    )
    if match is None:
        return None
    return len(match.group(1) or "")


def timestamp_literal_precision(cast: exp.Expression) -> int | None:
    """The precision of ``TIMESTAMP '...'`` (sqlglot reads it as a cast to TIMESTAMP(digits)), None
    for another expression (``CAST('...' AS timestamp)`` is timestamp(3))."""
    digits = _fraction_digits(cast)
    if digits is None:
        return None
    params = [int(p.name) for p in cast.to.expressions if p.name.isdigit()]
    return digits if params == [digits] else None


def timestamps_in_milliseconds(root: exp.Expression, resolver: Resolver) -> None:
    """Athena's timestamps have milliseconds: literals and casts from text round to them (DuckDB keeps
    microseconds, so an equality with a rounded value would miss). TIMESTAMP(p) for p other than 3
    is refused."""
    for cast in bottom_up(root, exp.Cast, exp.TryCast):
        target = cast.to
        if target.this != exp.DType.TIMESTAMP:
            continue
        params = [int(p.name) for p in target.expressions if p.name.isdigit()]
        literal = isinstance(cast.this, exp.Literal) and cast.this.is_string
        if literal:
            text = cast.this.this.strip()
            try:
                value = datetime.fromisoformat(text.replace(" ", "T"))
            except ValueError:
                continue  # DuckDB reports the bad literal
            if value.tzinfo is not None:
                raise UnsupportedSqlError(
                    f"the timestamp literal TIMESTAMP '{text}' with a time zone",
                    "write it in UTC without a zone",
                )
            precision = timestamp_literal_precision(cast)
            if precision is None and params and params[0] != 3:
                raise UnsupportedSqlError(
                    f"CAST(... AS TIMESTAMP({params[0]}))",
                    "the local engine has millisecond timestamps only: use TIMESTAMP or TIMESTAMP(3)",
                )
            value = _round_to_millis(value)
            rounded = value.isoformat(sep=" ", timespec="microseconds")
            cast.replace(exp.cast(exp.Literal.string(rounded), "TIMESTAMP"))
            continue
        if params and params[0] != 3:
            raise UnsupportedSqlError(
                f"CAST(... AS TIMESTAMP({params[0]}))",
                "the local engine has millisecond timestamps only: use TIMESTAMP or TIMESTAMP(3)",
            )
        if type_of(cast.this) in exp.DataType.TEXT_TYPES:
            micros = exp.Anonymous(this="epoch_us", expressions=[exp.cast(cast.this.copy(), "TIMESTAMP")])
            millis = exp.Anonymous(
                this="round", expressions=[exp.Div(this=micros, expression=exp.Literal.number("1000.0"))]
            )
            cast.replace(
                exp.Anonymous(
                    this="make_timestamp",
                    expressions=[
                        exp.cast(exp.Mul(this=millis, expression=exp.Literal.number(1000)), "BIGINT")
                    ],
                )
            )
        else:
            target.set("expressions", [])


def _round_to_millis(value: datetime) -> datetime:
    millis = (value.microsecond + 500) // 1000
    return value.replace(microsecond=0) + timedelta(milliseconds=millis)


def timestamp_literal_text(root: exp.Expression, resolver: Resolver) -> None:
    """CAST(TIMESTAMP '... hh:mm:ss' AS varchar) has the literal's precision in Trino."""
    for cast in bottom_up(root, exp.Cast):
        if cast.to.this not in exp.DataType.TEXT_TYPES or not isinstance(cast.this, exp.Cast):
            continue
        precision = timestamp_literal_precision(cast.this)
        if precision is None:
            continue
        try:
            value = datetime.fromisoformat(cast.this.this.this.strip().replace(" ", "T"))
        except ValueError:
            continue
        if precision > 3:
            value, precision = _round_to_millis(value), 3
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if precision:
            text += "." + f"{value.microsecond:06d}"[:precision]
        cast.replace(exp.Literal.string(text))


def iso_day_of_week(root: exp.Expression, resolver: Resolver) -> None:
    """EXTRACT(DOW FROM x) is 1 (Monday) to 7 (Sunday) in Trino; DuckDB's DOW has Sunday = 0."""
    for node in root.find_all(exp.Extract):
        if isinstance(node.this, exp.Var) and node.this.name.upper() in ("DOW", "DAY_OF_WEEK", "DAYOFWEEK"):
            node.set("this", exp.var("ISODOW"))
        elif isinstance(node.this, exp.Var) and node.this.name.upper() in ("DOY", "DAY_OF_YEAR"):
            node.set("this", exp.var("DOY"))


def date_plus_interval_is_date(root: exp.Expression, resolver: Resolver) -> None:
    """date +/- INTERVAL of days or more is a date in Trino (DuckDB: a timestamp)."""
    for node in bottom_up(root, exp.Add, exp.Sub):
        interval = node.right if isinstance(node.right, exp.Interval) else node.left
        operand = node.left if interval is node.right else node.right
        if not isinstance(interval, exp.Interval) or type_of(operand) != exp.DType.DATE:
            continue
        unit = (interval.unit.name if interval.unit is not None else "DAY").upper()
        if unit not in ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR"):
            raise UnsupportedSqlError(
                f"date {'+' if isinstance(node, exp.Add) else '-'} INTERVAL ... {unit}",
                "cast the date to timestamp first",
            )
        node.replace(exp.cast(node.copy(), "DATE"))


def time_zones_only_for_wall_clock(root: exp.Expression, resolver: Resolver) -> None:
    """x AT TIME ZONE z is a timestamp with time zone z in Trino. In UTC the engine keeps it; in any
    other zone only under date_format/hour/minute/... (which read the wall-clock fields)."""
    for node in bottom_up(root, exp.AtTimeZone, exp.Anonymous):
        if isinstance(node, exp.Anonymous):
            if node.name.upper() != "AT_TIMEZONE" or len(node.expressions) != 2:
                continue
            zone = node.expressions[1]
        else:
            zone = node.args.get("zone")
        if isinstance(zone, exp.Literal) and zone.is_string and zone.this.upper() in _UTC_ZONES:
            operand = node.this if isinstance(node, exp.AtTimeZone) else node.expressions[0]
            node.replace(exp.cast(operand.copy(), "TIMESTAMPTZ"))
            continue
        if not isinstance(node.parent, _WALL_CLOCK_READERS):
            raise UnsupportedSqlError(
                f"{node.sql('trino')} outside date_format/format_datetime/hour/minute/day/extract",
                "the local engine has timestamps with time zone in UTC only",
            )


def from_iso8601_literals(root: exp.Expression, resolver: Resolver) -> None:
    """from_iso8601_date reads every ISO-8601 date form (2020-W10, 2020-123); from_iso8601_timestamp
    keeps the zone in Trino, so only UTC inputs are run."""
    for node in bottom_up(root, exp.FromISO8601Date):
        operand = node.this
        if isinstance(operand, exp.Literal) and operand.is_string:
            node.replace(exp.cast(exp.Literal.string(_iso8601_date(operand.this).isoformat()), "DATE"))
            continue
        calendar = exp.RegexpLike(this=operand.copy(), expression=exp.Literal.string(r"^\d{4}-\d{2}-\d{2}$"))
        failure = exp.Anonymous(
            this="error",
            expressions=[
                exp.DPipe(
                    this=exp.Literal.string("from_iso8601_date of "),
                    expression=exp.DPipe(
                        this=operand.copy(),
                        expression=exp.Literal.string(
                            " is not supported by the local Athena engine (only YYYY-MM-DD outside literals)"
                        ),
                    ),
                )
            ],
        )
        node.replace(
            exp.Case(ifs=[exp.If(this=calendar, true=exp.cast(operand.copy(), "DATE"))], default=failure)
        )
    for node in bottom_up(root, exp.FromISO8601Timestamp):
        operand = node.this
        text = operand.this if isinstance(operand, exp.Literal) and operand.is_string else None
        match = re.fullmatch(r"(\d{4}-\d{2}-\d{2}(?:T[\d:]+(?:\.(\d+))?)?)(Z|[+-]00:?00)?", text or "")
        if match is None or len(match.group(2) or "") > 3:
            raise UnsupportedSqlError(
                f"from_iso8601_timestamp({operand.sql('trino')})",
                "the local engine reads only literal UTC timestamps (ending in Z or without a zone, "
                "at most milliseconds): Athena keeps other zones, which the local engine cannot",
            )
        node.replace(exp.cast(exp.Literal.string(match.group(1).replace("T", " ")), "TIMESTAMPTZ"))


def _iso8601_date(text: str) -> date:
    """An ISO-8601 date in any of its forms, or UnsupportedSqlError naming it."""
    value = text.strip()
    try:
        week = re.fullmatch(r"(\d{4})-?W(\d{2})(?:-?(\d))?", value)
        if week:
            return date.fromisocalendar(int(week.group(1)), int(week.group(2)), int(week.group(3) or 1))
        ordinal = re.fullmatch(r"(\d{4})-?(\d{3})", value)
        if ordinal:
            return date(int(ordinal.group(1)), 1, 1) + timedelta(days=int(ordinal.group(2)) - 1)
        month = re.fullmatch(r"(\d{4})(?:-(\d{2}))?", value)
        if month:
            return date(int(month.group(1)), int(month.group(2) or 1), 1)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UnsupportedSqlError(
            f"from_iso8601_date('{text}')", f"it is not an ISO-8601 date ({exc}); Athena fails it too"
        ) from exc


_JODA = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S", "SSS": "%g"}


def format_datetime_patterns(root: exp.Expression, resolver: Resolver) -> None:
    """format_datetime(ts, 'yyyy-MM-dd HH:mm:ss.SSS') with Joda fields that strftime shares; other
    fields are refused by name."""
    for node in bottom_up(root, exp.Anonymous):
        if node.name.upper() != "FORMAT_DATETIME" or len(node.expressions) != 2:
            continue
        value, pattern = node.expressions
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise UnsupportedSqlError("format_datetime() with a pattern that is not a string literal")
        translated = ""
        for match in re.finditer(r"([A-Za-z])\1*|'([^']*)'|([^A-Za-z'])", pattern.this):
            field, quoted, other = match.group(0), match.group(2), match.group(3)
            if quoted is not None:
                translated += quoted.replace("%", "%%") or "'"
            elif other is not None:
                translated += "%%" if other == "%" else other
            elif field in _JODA:
                translated += _JODA[field]
            else:
                raise UnsupportedSqlError(
                    f"format_datetime() field {field!r}",
                    f"the local engine supports {', '.join(_JODA)} and quoted text",
                )
        node.replace(
            exp.Anonymous(this="strftime", expressions=[value.copy(), exp.Literal.string(translated)])
        )
