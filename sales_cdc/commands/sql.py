"""``sales-cdc sql``: run Athena SQL against the lake, on the query engine the assets use.

A query as an argument, from a file (``-f FILE``) or from stdin (``-``), or an interactive prompt
(no query, a terminal on stdin) with readline history in ``$SALES_CDC_HOME/sql_history``.
``--as-of`` reads Iceberg tables as of a moment (``FOR TIMESTAMP AS OF``) and refuses other tables. A script
may hold several statements separated by ``;``; they run one by one (Athena runs one per query) and
the first failure stops the script. Results print as an aligned table, CSV or JSON lines; the rows
count, bytes scanned and time go to stdout after a table and to stderr for CSV and JSON, so stdout
stays machine-readable. A failed statement prints Athena's error with its position in the statement
(``line 1:8: Column 'x' cannot be resolved``) and exits with status 1.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import click
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.tokens import TokenType

from infra.lake import InvalidIdentifierError
from sales_cdc import dbapi
from sales_cdc.resources import build_resources
from sales_cdc.resources.query_engine import (
    QueryEngineError,
    QueryEngineResource,
    QueryFailedError,
    QueryResult,
)
from sales_cdc.settings import DEPLOYMENTS, SettingsError, home_dir

FORMATS = ("table", "csv", "json")
HISTORY_FILE = "sql_history"
PROMPT, CONTINUATION = "sql> ", "  -> "

# Literals and comments (where a ';' does not end a statement), or a ';'.
_STATEMENT_SCAN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|(?P<end>;)""", re.DOTALL)
_COMMENT_ONLY = re.compile(r"""(?:\s+|--[^\n]*|/\*.*?\*/)*""", re.DOTALL)
_HAS_POSITION = re.compile(r"\bline \d+:\d+\b")
_SQLGLOT_TOKEN = re.compile(r"<Token token_type: [^,]+, text: (?P<text>.*?), line: \d+, col: \d+,[^>]*>")


class SqlCommandError(click.ClickException):
    """A statement failed: the message is Athena's error; exit status 1."""


def split_statements(text: str) -> list[str]:
    """The statements of a script, split at ``;`` outside literals and comments; empty ones dropped."""
    statements, start = [], 0
    for match in _STATEMENT_SCAN.finditer(text):
        if match.group("end"):
            statements.append(text[start : match.start()])
            start = match.end()
    statements.append(text[start:])
    return [s.strip() for s in statements if not _COMMENT_ONLY.fullmatch(s)]


def is_complete(buffer: str) -> bool:
    """Whether an interactive buffer ends a statement (a ``;`` outside literals and comments)."""
    ends = [m for m in _STATEMENT_SCAN.finditer(buffer) if m.group("end")]
    return bool(ends) and _COMMENT_ONLY.fullmatch(buffer[ends[-1].end() :]) is not None


def position_of(sql: str, name: str) -> tuple[int, int] | None:
    """(line, column), 1-based, of the first identifier ``name`` in ``sql`` (case-insensitive)."""
    try:
        tokens = sqlglot.Tokenizer(dialect="athena").tokenize(sql)  # type: ignore[call-arg]
    except SqlglotError:
        return None
    for token in tokens:
        if token.token_type in (TokenType.VAR, TokenType.IDENTIFIER) and token.text.lower() == name.lower():
            return _line_col(sql, token.start)
    for token in tokens:  # a name that is also a keyword (e.g. a column called "date")
        if token.text.lower() == name.lower():
            return _line_col(sql, token.start)
    return None


def _line_col(sql: str, offset: int) -> tuple[int, int]:
    return sql.count("\n", 0, offset) + 1, offset - (sql.rfind("\n", 0, offset) + 1) + 1


# Engine reasons whose unknown name can be located in the statement: (reason prefix, pattern of the
# name, Athena's wording). A table name is located by its last part (``db.table`` -> ``table``).
_LOCATABLE = (
    (
        "SEMANTIC_ERROR",
        r'(?:Referenced column|Column) "([^"]+)"',
        "COLUMN_NOT_FOUND: line {line}:{column}: Column '{name}' cannot be resolved",
    ),
    (
        "TABLE_NOT_FOUND",
        r"TABLE_NOT_FOUND: Table '([^']+)' does not exist",
        "TABLE_NOT_FOUND: line {line}:{column}: Table '{name}' does not exist",
    ),
    (
        "FUNCTION_NOT_FOUND",
        r"Function with name (\w+) does not exist",
        "FUNCTION_NOT_FOUND: line {line}:{column}: Function '{name}' not registered "
        "(the local engine has no DuckDB equivalent for it)",
    ),
)


def athena_error(sql: str, reason: str) -> str:
    """The engine's failure ``reason`` worded like Athena, with the position in ``sql`` when it can be found.

    A position in the engine's reason is kept; otherwise the unknown column, table or function is
    located in ``sql``, or, for a syntax error, sqlglot's parse error gives it.
    """
    if _HAS_POSITION.search(reason):
        return reason
    for prefix, pattern, athena_wording in _LOCATABLE:
        found = re.search(pattern, reason) if reason.startswith(prefix) else None
        where = found and position_of(sql, found.group(1).rsplit(".", 1)[-1])
        if where:
            return athena_wording.format(line=where[0], column=where[1], name=found.group(1))
    refused = re.search(r"the function (\w+)\(\) is not supported by the local Athena engine", reason)
    if refused:
        where = position_of(sql, refused.group(1))
        if where:
            return _with_position(reason, where)
    if reason.startswith("SYNTAX_ERROR"):
        try:
            sqlglot.parse(sql, read="athena")
        except ParseError as exc:
            if exc.errors and exc.errors[0].get("line"):
                first = exc.errors[0]
                column_end, highlight = first["col"], first.get("highlight") or ""
                start = max(1, column_end - len(highlight) + 1)
                description = _SQLGLOT_TOKEN.sub(lambda m: f"'{m.group('text')}'", first["description"])
                return f"SYNTAX_ERROR: line {first['line']}:{start}: {description}"
    return reason


def _with_position(reason: str, where: tuple[int, int]) -> str:
    """``reason`` with ``line L:C:`` after its Athena error name (``SYNTAX_ERROR: ...``) or in front."""
    name = re.match(r"[A-Z_]+(?: / [A-Z_]+)*: ", reason)
    cut = name.end() if name else 0
    return f"{reason[:cut]}line {where[0]}:{where[1]}: {reason[cut:]}"


def render_value(value: Any) -> str:
    """A value as text the way Athena's console shows it (NULL for None)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact: money must not become a float
    if isinstance(value, (datetime, date)):
        return render_value(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def write_result(result: QueryResult, fmt: str, out: IO[str]) -> None:
    """Print the rows of ``result`` to ``out`` as ``table``, ``csv`` or ``json`` (one object per line)."""
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([["" if v is None else render_value(v) for v in row] for row in result.rows])
    elif fmt == "json":
        for row in result.rows:
            record = {name: _json_value(value) for name, value in zip(result.columns, row, strict=True)}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        out.write(format_table(result.columns, result.rows))


def format_table(columns: list[str], rows: list[tuple]) -> str:
    """An aligned text table (numbers right-aligned), like Athena's and Trino's consoles."""
    texts = [[render_value(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in texts)]) for i, c in enumerate(columns)]
    numeric = [_is_number_column([row[i] for row in rows]) for i in range(len(columns))]
    lines = [" | ".join(c.center(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("-+-".join("-" * w for w in widths))
    for row in texts:
        cells = [t.rjust(w) if num else t.ljust(w) for t, w, num in zip(row, widths, numeric, strict=True)]
        lines.append(" | ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _is_number_column(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in present
    )


def statistics(result: QueryResult) -> str:
    """``(2 rows; 1.2 KB scanned; 35 ms)``: what Athena's console shows under a result."""
    rows = f"{result.row_count} row{'s' if result.row_count != 1 else ''}"
    return f"({rows}; {_size(result.bytes_scanned)} scanned; {result.elapsed_ms:.0f} ms)"


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


def run_statement(engine: QueryEngineResource, sql: str, database: str, fmt: str) -> None:
    """Run one statement and print its result and statistics; SqlCommandError if it fails."""
    try:
        result = engine.execute(sql, database)
    except QueryFailedError as exc:
        raise SqlCommandError(athena_error(sql, exc.reason)) from exc
    except (QueryEngineError, InvalidIdentifierError, SettingsError) as exc:
        raise SqlCommandError(str(exc)) from exc
    write_result(result, fmt, sys.stdout)
    click.echo(statistics(result), err=fmt != "table")


def time_travel(sql: str, as_of: str, database: str, table_type: Callable[[str, str], str | None]) -> str:
    """``sql`` reading every table as of ``as_of`` (Athena's ``FOR TIMESTAMP AS OF``).

    Time travel reads an Iceberg table's snapshot, so every table must be one: ``table_type(database,
    table)`` is its Glue ``table_type`` (None if the table does not exist). Raises UsageError naming the
    tables that are not Iceberg tables, and for a timestamp that is not ISO-8601.
    """
    try:
        moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{as_of!r} is not an ISO-8601 timestamp; use e.g. 2026-11-21T10:00:00Z", param_hint="--as-of"
        ) from None
    text = moment.isoformat(sep=" ", timespec="milliseconds") + ("" if moment.tzinfo else " UTC")
    try:
        tree = sqlglot.parse_one(sql, read="athena")
    except SqlglotError as exc:
        raise SqlCommandError(athena_error(sql, f"SYNTAX_ERROR: {exc}")) from exc
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tables = [t for t in tree.find_all(exp.Table) if t.name and not (not t.db and t.name.lower() in ctes)]
    refused = []
    for table in tables:
        kind = table_type(table.db or database, table.name)
        if (kind or "").upper() != "ICEBERG":
            what = "does not exist" if kind is None else f"is a {kind or 'Hive'} table"
            refused.append(f"{table.db or database}.{table.name} {what}")
    if refused or not tables:
        raise click.UsageError(
            f"--as-of {as_of}: time travel (FOR TIMESTAMP AS OF) needs Iceberg tables, and "
            + ("; ".join(refused) if refused else "the statement reads no table")
            + ". Run the query without --as-of."
        )
    for table in tables:
        table.set(
            "version",
            exp.Version(
                this="TIMESTAMP",
                kind="AS OF",
                expression=exp.cast(exp.Literal.string(text), "TIMESTAMP WITH TIME ZONE"),
            ),
        )
    return tree.sql("athena")


def glue_table_type(deployment: str | None) -> Callable[[str, str], str | None]:
    """``(database, table) -> `` the table's Glue ``table_type`` ("" if unset, None if no such table)."""
    glue = build_resources(deployment)["glue"].get_client()

    def table_type(database: str, table: str) -> str | None:
        try:
            definition = glue.get_table(DatabaseName=database, Name=table)["Table"]
        except glue.exceptions.EntityNotFoundException:
            return None
        return (definition.get("Parameters") or {}).get("table_type", "")

    return table_type


def interactive(
    run: Callable[[str], None],
    read_line: Callable[[str], str] = input,
    report: Callable[[str], None] = lambda text: click.echo(text, err=True),
) -> None:
    """The prompt: statements end with ``;``, ``\\q`` or end of input (Ctrl-D) quits; a failure is shown
    and the prompt goes on."""
    buffer = ""
    while True:
        try:
            line = read_line(CONTINUATION if buffer else PROMPT)
        except EOFError:
            report("")
            return
        except KeyboardInterrupt:  # Ctrl-C drops the statement being typed, like psql
            buffer = ""
            report("")
            continue
        if not buffer and line.strip() in ("\\q", "quit", "exit"):
            return
        buffer += line + "\n"
        if not is_complete(buffer):
            continue
        for statement in split_statements(buffer):
            try:
                run(statement)
            except click.ClickException as exc:
                report(f"Error: {exc.format_message()}")
        buffer = ""


def _readline_prompt() -> Callable[[str], str]:
    """``input`` with readline editing and history kept in ``$SALES_CDC_HOME/sql_history``."""
    try:
        import readline  # noqa: PLC0415 - stdlib; absent on some platforms, only the prompt needs it
    except ImportError:
        return input
    import atexit  # noqa: PLC0415 - only the prompt needs it

    history = home_dir() / HISTORY_FILE
    history.parent.mkdir(parents=True, exist_ok=True)
    try:
        readline.read_history_file(history)
    except OSError:
        pass  # no history yet
    readline.set_history_length(1000)
    atexit.register(readline.write_history_file, history)
    return input


@click.command("sql")
@click.argument("query", required=False)
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Run the statements in FILE (separated by ';').",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="How rows are printed: aligned table, CSV, or JSON lines.",
)
@click.option("--database", default=None, help="Glue database for unqualified tables (default: the stack's).")
@click.option(
    "--deployment",
    type=click.Choice(DEPLOYMENTS),
    default=None,
    help="local or aws (default: $SALES_CDC_DEPLOYMENT, else local).",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="TIMESTAMP",
    help="Read the tables as of this ISO-8601 moment (Iceberg tables only; others are refused).",
)
def sql(
    query: str | None,
    file: Path | None,
    fmt: str,
    database: str | None,
    deployment: str | None,
    as_of: str | None,
) -> None:
    """Run Athena SQL against the lake: QUERY, -f FILE, '-' for stdin, or nothing for a prompt.

    Locally the statements run on the local engine (DuckDB over the embedded AWS), on AWS on Athena:
    the same query engine the assets use.
    """
    if query is not None and file is not None:
        raise click.UsageError("give a QUERY or -f FILE, not both")
    if query == "-":
        text: str | None = sys.stdin.read()
    elif file is not None:
        text = file.read_text()
    else:
        text = query
    if text is None and not sys.stdin.isatty():
        raise click.UsageError("no query: give a QUERY, -f FILE, or '-' to read the statements from stdin")
    try:
        engine = dbapi.query_engine(deployment)
    except dbapi.Error as exc:
        raise click.ClickException(str(exc)) from exc
    database = database or engine.database

    table_type = glue_table_type(deployment) if as_of is not None else None

    def run(statement: str) -> None:
        if as_of is not None and table_type is not None:
            statement = time_travel(statement, as_of, database, table_type)
        run_statement(engine, statement, database, fmt)

    if text is None:
        interactive(run, _readline_prompt())
        return
    statements = split_statements(text)
    if not statements:
        raise click.UsageError("no statement to run: the query is empty")
    for statement in statements:
        run(statement)
