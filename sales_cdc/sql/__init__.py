"""The application's Athena SQL: ``.sql`` files (Trino dialect) and a loader that fills their placeholders.

Every statement the analytics assets run lives in a file next to this module, so the same text runs
on Amazon Athena and on the local engine, and tests parse each file with sqlglot. A file refers to
the values it needs as ``{placeholder}``; :func:`render` substitutes them, and each placeholder has
a *kind* fixed here (not by the caller) that decides how its value is validated and written:

- names (``{database}``, ``{table}``, ``{raw_table}``, ``{source_table}``, ``{partition_column}``)
  go through :mod:`infra.lake` and are written bare (the strict pattern makes quoting
  unnecessary, and bare names work in Athena's Hive DDL and Trino DML alike);
- ``{day}`` is a calendar date written as ``'YYYY-MM-DD'``; ``{days}`` is a
  non-empty list of them written as ``'d1', 'd2'`` (for ``IN (...)``);
- ``{location}`` is an ``s3://`` location written as a quoted literal;
- ``{partition_key}`` is a column name written as a string literal (``ARRAY['order_date']``), and
  ``{table_pattern}`` a table name written as one (``SHOW TABLES IN db 'sales_daily'``);
- counts and thresholds (``{late_seconds}``, ``{error_records}``, ``{limit}``) are non-negative
  integers;
- ``{query}`` is a statement rendered from another file of this package (never caller text).

A value that does not fit its kind raises :class:`~infra.lake.InvalidIdentifierError`
before any SQL exists; a missing or unexpected placeholder raises :class:`SqlTemplateError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from functools import cache
from pathlib import Path

from infra.lake import (
    InvalidIdentifierError,
    quote_location,
    validate_column,
    validate_database,
    validate_partition_value,
    validate_table,
)

SQL_DIR = Path(__file__).resolve().parent
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class SqlTemplateError(ValueError):
    """A SQL file and the values given for it do not match (missing, unknown or extra placeholders)."""


class RenderedQuery(str):
    """SQL rendered by :func:`render`; only this type is accepted for a ``{query}`` placeholder."""


def _day(value: object) -> str:
    text = validate_partition_value("dt", value)
    try:
        date.fromisoformat(text)  # the pattern admits 2026-13-45; a real date is required
    except ValueError:
        raise InvalidIdentifierError("day", value, "a calendar date YYYY-MM-DD") from None
    return f"'{text}'"


def _days(value: object) -> str:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidIdentifierError("list of days", value, "a non-empty list of dates YYYY-MM-DD")
    days = [_day(item) for item in value]
    if not days:
        raise InvalidIdentifierError("list of days", value, "a non-empty list of dates YYYY-MM-DD")
    return ", ".join(days)


def _count(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidIdentifierError("count", value, "a non-negative integer")
    return str(value)


def _partition_key(value: object) -> str:
    return f"'{validate_column(value)}'"


def _table_pattern(value: object) -> str:
    return f"'{validate_table(value)}'"


def _query(value: object) -> str:
    if not isinstance(value, RenderedQuery):
        raise InvalidIdentifierError(
            "query", type(value).__name__, "SQL rendered from a file by sales_cdc.sql.render"
        )
    return str(value)


# The kind of every placeholder any file may use: the file decides what it needs, this table decides
# how each value is checked and written.
PLACEHOLDER_KINDS: dict[str, Callable[[object], str]] = {
    "database": validate_database,
    "table": validate_table,
    "raw_table": validate_table,
    "source_table": validate_table,
    "partition_column": validate_column,
    "partition_key": _partition_key,
    "table_pattern": _table_pattern,
    "day": _day,
    "days": _days,
    "location": quote_location,
    "late_seconds": _count,
    "error_records": _count,
    "limit": _count,
    "query": _query,
}


def sql_files() -> list[str]:
    """Names (without ``.sql``) of every SQL file of the application."""
    return sorted(path.stem for path in SQL_DIR.glob("*.sql"))


@cache
def sql_text(name: str) -> str:
    """The text of ``<name>.sql``, unrendered."""
    path = SQL_DIR / f"{name}.sql"
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not path.is_file():
        raise SqlTemplateError(f"no SQL file {name!r} in {SQL_DIR}; known: {', '.join(sql_files())}")
    return path.read_text(encoding="utf-8")


def placeholders(name: str) -> set[str]:
    """The placeholders ``<name>.sql`` uses."""
    return set(_PLACEHOLDER.findall(sql_text(name)))


def render(name: str, values: Mapping[str, object] | None = None, /, **kwargs: object) -> RenderedQuery:
    """``<name>.sql`` with every placeholder replaced by its validated value.

    Values may be given as a mapping, as keyword arguments, or both. Every placeholder of the file
    must get a value and every value must be used, so a typo cannot silently leave a statement
    unfiltered.
    """
    given = {**(values or {}), **kwargs}
    wanted = placeholders(name)
    unknown = sorted(wanted - PLACEHOLDER_KINDS.keys())
    if unknown:
        raise SqlTemplateError(f"{name}.sql uses placeholders with no kind: {', '.join(unknown)}")
    missing = sorted(wanted - given.keys())
    extra = sorted(given.keys() - wanted)
    if missing or extra:
        raise SqlTemplateError(
            f"{name}.sql needs values for {sorted(wanted)}; "
            + (f"missing {missing}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"not used by the file: {extra}" if extra else "")
        )
    rendered = {key: PLACEHOLDER_KINDS[key](given[key]) for key in wanted}
    return RenderedQuery(_PLACEHOLDER.sub(lambda match: rendered[match.group(1)], sql_text(name)))
