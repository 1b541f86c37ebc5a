"""The one loader and renderer of the application's SQL files (``.sql``, Trino dialect).

Every statement an asset runs lives in a ``.sql`` file in its domain's ``sql/`` folder (today
``sales_cdc/analytics/sql/``, reached through :data:`sales_cdc.analytics.queries.ANALYTICS_SQL`), so
the same text runs on Amazon Athena and on the local engine, and tests parse each file with sqlglot.
A :class:`SqlFolder` loads the files of one folder. A file refers to
the values it needs as ``{placeholder}``; :func:`render` substitutes them, and each placeholder has
a *kind* fixed here (not by the caller) that decides how its value is validated and written:

- names (``{database}``, ``{table}``, ``{raw_table}``, ``{source_table}``, ``{partition_column}``)
  go through :mod:`infra.lake` and are written bare (the strict pattern makes quoting
  unnecessary, and bare names work in Athena's Hive DDL and Trino DML alike);
- ``{day}`` is a calendar date written as ``'YYYY-MM-DD'``; ``{days}`` is a
  non-empty list of them written as ``'d1', 'd2'`` (for ``IN (...)``); ``{hours}`` is a non-empty
  list of raw partitions written as ``'YYYY-MM-DD/HH', ...``;
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
from pathlib import Path

from infra.lake import (
    InvalidIdentifierError,
    quote_location,
    validate_column,
    validate_database,
    validate_partition_value,
    validate_table,
)

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


def _hours(value: object) -> str:
    rule = "a non-empty list of raw partitions YYYY-MM-DD/HH"
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidIdentifierError("list of raw partitions (hours)", value, rule)
    written = []
    try:
        for item in value:
            day, _, hour = str(item).partition("/")
            written.append(f"{_day(day)[1:-1]}/{validate_partition_value('hour', hour)}")
    except InvalidIdentifierError:
        raise InvalidIdentifierError("list of raw partitions (hours)", value, rule) from None
    if not written:
        raise InvalidIdentifierError("list of raw partitions (hours)", value, rule)
    return ", ".join(f"'{text}'" for text in written)


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
            "query", type(value).__name__, "SQL rendered from a file by SqlFolder.render"
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
    "hours": _hours,
    "location": quote_location,
    "late_seconds": _count,
    "error_records": _count,
    "quarantined_objects": _count,
    "limit": _count,
    "query": _query,
}


class SqlFolder:
    """The ``.sql`` files of one folder, rendered with validated values."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._texts: dict[str, str] = {}

    def sql_files(self) -> list[str]:
        """Names (without ``.sql``) of every SQL file of the folder."""
        return sorted(path.stem for path in self.directory.glob("*.sql"))

    def sql_text(self, name: str) -> str:
        """The text of ``<name>.sql``, unrendered (read once, then cached)."""
        if name not in self._texts:
            path = self.directory / f"{name}.sql"
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not path.is_file():
                raise SqlTemplateError(
                    f"no SQL file {name!r} in {self.directory}; known: {', '.join(self.sql_files())}"
                )
            self._texts[name] = path.read_text(encoding="utf-8")
        return self._texts[name]

    def placeholders(self, name: str) -> set[str]:
        """The placeholders ``<name>.sql`` uses."""
        return set(_PLACEHOLDER.findall(self.sql_text(name)))

    def render(
        self, name: str, values: Mapping[str, object] | None = None, /, **kwargs: object
    ) -> RenderedQuery:
        """``<name>.sql`` with every placeholder replaced by its validated value.

        Values may be given as a mapping, as keyword arguments, or both. Every placeholder of the file
        must get a value and every value must be used, so a typo cannot silently leave a statement
        unfiltered.
        """
        given = {**(values or {}), **kwargs}
        wanted = self.placeholders(name)
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
        return RenderedQuery(_PLACEHOLDER.sub(lambda match: rendered[match.group(1)], self.sql_text(name)))
