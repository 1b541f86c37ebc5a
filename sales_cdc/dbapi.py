"""A DB-API 2.0 connection to the lake: ``sales_cdc.connect()`` for notebooks and scripts.

Statements run on the deployment's query engine resource, the one the assets use
(:mod:`sales_cdc.resources.query_engine`): the local engine (DuckDB over the embedded AWS) locally,
Athena through pyathena on AWS. So ``pandas.read_sql(sql, sales_cdc.connect())`` answers what Athena
would answer (pandas warns that it only tests SQLAlchemy connectables and sqlite3; the warning is
harmless). Parameters are quoted as Athena SQL literals, never sent as text to splice: ``%(name)s``
with a mapping (``paramstyle`` pyformat), ``%s`` or ``?`` with a sequence. Placeholders inside string
literals, quoted identifiers and comments are left alone; values of other types are refused.
``description`` gives Athena type names (``varchar``, ``bigint``, ``decimal``...) inferred from the
values (Athena's own on AWS), ``None`` for a column that is NULL in every row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from infra.lake import InvalidIdentifierError
from sales_cdc.resources import build_resources
from sales_cdc.resources.aws import UnavailableResource
from sales_cdc.resources.query_engine import (
    QueryEngineResource,
    QueryFailedError,
    QueryResult,
    QueryTimeoutError,
    UnsupportedSqlError,
)
from sales_cdc.settings import SettingsError

apilevel = "2.0"
threadsafety = 1  # threads may share the module, not connections
paramstyle = "pyformat"


class Warning(Exception):  # noqa: A001 - the name DB-API 2.0 requires
    """DB-API warning (never raised)."""


class Error(Exception):
    """Base of the DB-API errors; ``reason`` and ``query_id`` come from the engine when it failed."""

    def __init__(self, message: str, *, reason: str | None = None, query_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message
        self.query_id = query_id


class InterfaceError(Error):
    """The connection or cursor was used wrongly (e.g. after close)."""


class DatabaseError(Error):
    """The engine failed to run the statement."""


class DataError(DatabaseError):
    """A value could not be processed (cast, range)."""


class OperationalError(DatabaseError):
    """The deployment is not reachable or not ready, or a statement timed out."""


class IntegrityError(DatabaseError):
    """Never raised: the lake has no constraints."""


class InternalError(DatabaseError):
    """Never raised."""


class ProgrammingError(DatabaseError):
    """The SQL or its parameters are wrong (syntax, unknown table or column, bad parameter)."""


class NotSupportedError(DatabaseError):
    """The engine does not support a construct (the local engine names it), or a DB-API feature."""


# Athena error names that mean "your SQL is wrong".
_PROGRAMMING = ("SYNTAX_ERROR", "SEMANTIC_ERROR", "TABLE_NOT_FOUND", "COLUMN_NOT_FOUND", "FUNCTION_NOT_FOUND")


def query_engine(deployment: str | None = None) -> QueryEngineResource:
    """The deployment's query engine resource, built like Dagster's (``local`` by default, or ``aws``).

    Raises OperationalError with the reason and the fix when the deployment is not ready.
    """
    try:
        engine = build_resources(deployment)["query_engine"]
    except SettingsError as exc:
        raise OperationalError(str(exc)) from exc
    if isinstance(engine, UnavailableResource):
        raise OperationalError(f"the query engine is not available: {engine.reason}")
    return engine


def connect(
    deployment: str | None = None,
    database: str | None = None,
    *,
    engine: QueryEngineResource | None = None,
) -> Connection:
    """A DB-API connection to the lake of ``deployment`` (``$SALES_CDC_DEPLOYMENT``, ``local`` by default).

    ``database`` is the Glue database unqualified table names refer to (default: the stack's);
    ``engine`` uses a query engine resource you built instead of the deployment's.
    """
    return Connection(engine or query_engine(deployment), database)


class Connection:
    """A DB-API 2.0 connection over a query engine resource. Statements autocommit (Athena has no
    transactions): ``commit`` does nothing and ``rollback`` is not supported."""

    def __init__(self, engine: QueryEngineResource, database: str | None = None) -> None:
        self.engine = engine
        self.database = database or engine.database
        self.closed = False

    def cursor(self) -> Cursor:
        """A new cursor."""
        self._check_open()
        return Cursor(self)

    def commit(self) -> None:
        """Nothing to commit: every statement takes effect when it runs."""
        self._check_open()

    def rollback(self) -> None:
        """Refused: Athena has no transactions to roll back."""
        raise NotSupportedError("rollback: Athena runs every statement on its own; there is no transaction")

    def close(self) -> None:
        """Close the connection (the engine resource stays usable by others)."""
        self.closed = True

    def execute(self, sql: str, parameters: Any = None) -> Cursor:
        """Shortcut: a new cursor with ``sql`` executed."""
        return self.cursor().execute(sql, parameters)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self.closed:
            raise InterfaceError("the connection is closed; open another with sales_cdc.connect()")


class Cursor:
    """A DB-API 2.0 cursor: runs one statement at a time and holds its rows.

    After ``execute``: ``description``, ``rowcount`` (rows returned; for CTAS/INSERT, rows written),
    ``query_id``, ``bytes_scanned`` and ``elapsed_ms`` (Athena's statistics) and ``result``.
    """

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.result: QueryResult | None = None
        self.description: list[tuple[str, str | None, None, None, None, None, None]] | None = None
        self.rowcount = -1
        self.closed = False
        self._position = 0

    @property
    def query_id(self) -> str | None:
        return self.result.query_id if self.result else None

    @property
    def bytes_scanned(self) -> int | None:
        return self.result.bytes_scanned if self.result else None

    @property
    def elapsed_ms(self) -> float | None:
        return self.result.elapsed_ms if self.result else None

    def execute(self, sql: str, parameters: Mapping[str, Any] | Sequence[Any] | None = None) -> Cursor:
        """Run one statement, with ``parameters`` quoted into it; raises a DB-API error on failure."""
        self._check_open()
        statement = bind(sql, parameters)
        try:
            result = self.connection.engine.execute(statement, self.connection.database)
        except UnsupportedSqlError as exc:
            raise NotSupportedError(str(exc), reason=exc.reason, query_id=exc.query_id) from exc
        except QueryFailedError as exc:
            error = ProgrammingError if exc.reason.startswith(_PROGRAMMING) else DatabaseError
            if exc.reason.startswith("INVALID_CAST_ARGUMENT"):
                error = DataError
            raise error(str(exc), reason=exc.reason, query_id=exc.query_id) from exc
        except QueryTimeoutError as exc:
            raise OperationalError(str(exc), query_id=exc.query_id) from exc
        except InvalidIdentifierError as exc:
            raise ProgrammingError(str(exc)) from exc
        except SettingsError as exc:
            raise OperationalError(str(exc)) from exc
        self.result = result
        self._position = 0
        types = result.extra.get("column_types") or column_types(result)
        self.description = [
            (name, kind, None, None, None, None, None)
            for name, kind in zip(result.columns, types, strict=True)
        ]
        self.rowcount = result.row_count
        return self

    def executemany(self, sql: str, seq_of_parameters: Sequence[Any]) -> Cursor:
        """Run ``sql`` once per parameter set (e.g. one INSERT INTO per row)."""
        for parameters in seq_of_parameters:
            self.execute(sql, parameters)
        return self

    def fetchone(self) -> tuple | None:
        """The next row, or None when there are no more."""
        rows = self._rows()
        if self._position >= len(rows):
            return None
        self._position += 1
        return rows[self._position - 1]

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        """Up to ``size`` (default ``arraysize``) more rows."""
        rows = self._rows()
        end = self._position + (self.arraysize if size is None else size)
        chunk = rows[self._position : end]
        self._position += len(chunk)
        return chunk

    def fetchall(self) -> list[tuple]:
        """Every remaining row."""
        rows = self._rows()
        chunk = rows[self._position :]
        self._position = len(rows)
        return chunk

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.fetchone, None)

    def close(self) -> None:
        """Close the cursor and drop its rows."""
        self.closed = True
        self.result = None

    def setinputsizes(self, sizes: Any) -> None:
        """Does nothing (DB-API)."""

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """Does nothing (DB-API)."""

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _rows(self) -> list[tuple]:
        self._check_open()
        if self.result is None:
            raise InterfaceError("no statement has been executed on this cursor; call execute() first")
        return self.result.rows

    def _check_open(self) -> None:
        if self.closed or self.connection.closed:
            raise InterfaceError("the cursor or its connection is closed")


_ATHENA_TYPE_OF = (  # order matters: bool is an int, datetime is a date
    (bool, "boolean"),
    (int, "bigint"),
    (float, "double"),
    (Decimal, "decimal"),
    (str, "varchar"),
    (datetime, "timestamp"),
    (date, "date"),
    (bytes, "varbinary"),
    (list, "array"),
    (dict, "map"),
)


def column_types(result: QueryResult) -> list[str | None]:
    """Athena type names of the columns, from the first non-NULL value of each (None if all NULL)."""
    types: list[str | None] = []
    for index in range(len(result.columns)):
        value = next((row[index] for row in result.rows if row[index] is not None), None)
        kind = next((name for cls, name in _ATHENA_TYPE_OF if isinstance(value, cls)), None)
        types.append(kind if value is not None else None)
    return types


# What a statement is scanned for: literals and comments (skipped), then the placeholders.
_SCAN = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|(?P<escaped>%%)|%\((?P<name>[^)]*)\)s|(?P<format>%s)|(?P<qmark>\?)""",
    re.DOTALL,
)


def bind(sql: str, parameters: Mapping[str, Any] | Sequence[Any] | None) -> str:
    """``sql`` with its placeholders replaced by ``parameters`` as Athena literals.

    ``None`` leaves the SQL untouched. A mapping fills ``%(name)s``; a sequence fills ``%s`` or ``?``
    (one style per statement). Raises ProgrammingError for a missing, extra or unquotable parameter.
    """
    if parameters is None:
        return sql
    by_name = isinstance(parameters, Mapping)
    if not by_name and (isinstance(parameters, (str, bytes)) or not isinstance(parameters, Sequence)):
        raise ProgrammingError(
            f"parameters must be a mapping (for %(name)s) or a sequence (for %s or ?), "
            f"not {type(parameters).__name__}: {parameters!r}"
        )
    values = list(parameters) if not by_name else []
    used: list[str] = []
    styles: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "%"
        if match.group("name") is not None:
            styles.add("%(name)s")
            name = match.group("name")
            if not by_name:
                raise ProgrammingError(
                    f"placeholder %({name})s needs a mapping of parameters, got a sequence"
                )
            if name not in parameters:
                raise ProgrammingError(
                    f"no parameter {name!r} given for %({name})s; given: {sorted(parameters)}"
                )
            return literal(parameters[name])
        style = "%s" if match.group("format") else "?" if match.group("qmark") else None
        if style is None:
            return match.group(0)  # a literal or a comment
        styles.add(style)
        if by_name:
            raise ProgrammingError(f"placeholder {style} needs a sequence of parameters, got a mapping")
        if len(used) >= len(values):
            raise ProgrammingError(
                f"the statement has more {style} placeholders than the {len(values)} parameter(s) given"
            )
        used.append(style)
        return literal(values[len(used) - 1])

    bound = _SCAN.sub(replace, sql)
    if len(styles) > 1:
        raise ProgrammingError(f"the statement mixes placeholder styles {sorted(styles)}; use one")
    if not by_name and len(used) != len(values):
        raise ProgrammingError(f"{len(values)} parameter(s) given for {len(used)} placeholder(s)")
    return bound


def literal(value: Any) -> str:
    """An Athena SQL literal of a Python value; ProgrammingError for a type or value it cannot be."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProgrammingError(
                f"parameter {value!r} is not a finite number; Athena SQL has no literal for it"
            )
        text = repr(value)
        return text if "e" in text else f"{text}E0"  # a DOUBLE literal, not a DECIMAL one
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ProgrammingError(
                f"parameter {value!r} is not a finite number; Athena SQL has no literal for it"
            )
        return f"DECIMAL '{value}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return f"TIMESTAMP '{moment.isoformat(sep=' ', timespec='milliseconds')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, (bytes, bytearray)):
        return f"X'{bytes(value).hex()}'"
    raise ProgrammingError(
        f"parameter {value!r} of type {type(value).__name__} cannot be quoted as an Athena literal; "
        "pass None, bool, int, float, Decimal, str, date, datetime or bytes"
    )
