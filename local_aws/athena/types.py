"""Trino's (Athena's) type names for what DuckDB computed, and for what sqlglot annotated.

``typeof(x)`` in a query answers with Trino's name (``integer``, ``decimal(5,2)``, ``timestamp(3)``,
``array(varchar)``); a DuckDB type with no Athena counterpart is refused by name.
"""

from __future__ import annotations

import re

import duckdb
from sqlglot import exp

from local_aws.athena.errors import UnsupportedSqlError

_SCALARS = {
    "BOOLEAN": "boolean",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "FLOAT": "real",
    "DOUBLE": "double",
    "DATE": "date",
    # Athena's timestamps are millisecond timestamps; the engine rounds every input to milliseconds.
    "TIMESTAMP": "timestamp(3)",
    "TIMESTAMP WITH TIME ZONE": "timestamp(3) with time zone",
    "BLOB": "varbinary",
    "VARCHAR": "varchar",
    '"NULL"': "unknown",
    "NULL": "unknown",
    "JSON": "json",
}


def trino_type_name(duckdb_type: str, *, varchar_ok: bool = True) -> str:
    """Trino's name of the DuckDB type ``duckdb_type`` (as DuckDB's ``typeof`` spells it).

    ``varchar_ok`` False refuses a character string type: Trino's names carry the length
    (``varchar(3)``), which the local engine does not track for computed strings.
    """
    text = duckdb_type.strip()
    if text.endswith("[]"):
        return f"array({trino_type_name(text[:-2], varchar_ok=varchar_ok)})"
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", text)
    if decimal:
        return f"decimal({decimal.group(1)},{decimal.group(2)})"
    mapping = re.fullmatch(r"MAP\((.+)\)", text)
    if mapping:
        key, value = (trino_type_name(t, varchar_ok=varchar_ok) for t in _split_top_level(mapping.group(1)))
        return f"map({key}, {value})"
    struct = re.fullmatch(r"STRUCT\((.+)\)", text)
    if struct:
        fields = []
        for field in _split_top_level(struct.group(1)):
            name, _, kind = field.strip().partition(" ")
            fields.append(f"{name.strip(chr(34))} {trino_type_name(kind, varchar_ok=varchar_ok)}")
        return f"row({', '.join(fields)})"
    if text == "VARCHAR" and not varchar_ok:
        raise UnsupportedSqlError(
            "typeof() of a computed character string",
            "Trino names it varchar(n) with its length, which the local engine does not track; "
            "typeof() of a string literal, a column or CAST(... AS varchar) is supported",
        )
    if text in _SCALARS:
        return _SCALARS[text]
    raise UnsupportedSqlError(
        f"typeof() of a value of DuckDB type {text}", "it has no Athena type the local engine can name"
    )


def _split_top_level(text: str) -> list[str]:
    """``a, b(c, d), e`` -> ``['a', 'b(c, d)', 'e']``."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += char == "("
        depth -= char == ")"
        current += char
    parts.append(current.strip())
    return parts


def sql_type_name(node: exp.Expression) -> str | None:
    """Trino's name of the sqlglot-annotated type of ``node`` (``varchar(n)`` for a string literal),
    or None when it is not known."""
    data_type = node.type if isinstance(node.type, exp.DataType) else None
    if data_type is None or data_type.this in (exp.DType.UNKNOWN, exp.DType.NULL):
        return None
    if isinstance(node, exp.Literal) and node.is_string:
        return f"varchar({len(node.this)})"
    kind = data_type.this
    if kind in exp.DataType.TEXT_TYPES:
        return "varchar"
    if kind == exp.DType.DECIMAL:
        params = [p.name for p in data_type.expressions]
        return f"decimal({','.join(params)})" if params else "decimal(38,0)"
    if kind in (exp.DType.TIMESTAMP, exp.DType.DATETIME):
        return "timestamp(3)"
    if kind in (exp.DType.TIMESTAMPTZ, exp.DType.TIMESTAMPLTZ):
        return "timestamp(3) with time zone"
    names = {
        exp.DType.INT: "integer",
        exp.DType.BIGINT: "bigint",
        exp.DType.SMALLINT: "smallint",
        exp.DType.TINYINT: "tinyint",
        exp.DType.DOUBLE: "double",
        exp.DType.FLOAT: "real",
        exp.DType.BOOLEAN: "boolean",
        exp.DType.DATE: "date",
    }
    if kind in names:
        return names[kind]
    return data_type.sql("trino").lower()


def register_typeof(connection: duckdb.DuckDBPyConnection) -> None:
    """Register ``__trino_typeof(duckdb_type, varchar_ok)``, which the ``typeof`` rewrite calls."""
    connection.create_function(
        "__trino_typeof",
        lambda name, varchar_ok: trino_type_name(name, varchar_ok=bool(varchar_ok)),
        [duckdb.sqltype("VARCHAR"), duckdb.sqltype("BOOLEAN")],
        duckdb.sqltype("VARCHAR"),
        side_effects=False,
    )
