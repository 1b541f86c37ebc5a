"""Strict validation of every name and value that is interpolated into SQL.

Athena has no bind parameters for DDL (``ALTER TABLE ... ADD PARTITION``), for table names or for
partition specs, so assets build those statements as text. Everything that reaches such text goes
through this module first: a value that does not match its pattern raises
:class:`InvalidIdentifierError` naming the value and what is allowed, before any SQL runs.

The patterns are deliberately narrower than what Athena accepts: lower-case names (Glue stores them
lower-case anyway) and partition values from a small safe alphabet. Quoting helpers only ever quote
values that passed validation, so the quoting itself never has to escape anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# Glue database, table and column names as Athena stores them (lower-case, at most 128 characters).
NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,127}")
NAME_RULE = "1-128 characters of a-z, 0-9 and _, not starting with a digit"

# Partition values of the known keys are exact; any other key gets a general safe alphabet that can
# neither close a string literal nor a path segment.
PARTITION_VALUE_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "dt": (re.compile(r"\d{4}-\d{2}-\d{2}"), "a date YYYY-MM-DD"),
    "hour": (re.compile(r"\d{2}"), "a two-digit hour 00-23"),
}
GENERAL_VALUE_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:+\- ]{0,254}")
GENERAL_VALUE_RULE = (
    "1-255 characters of A-Z, a-z, 0-9, _ . : + - and space, starting with a letter, digit or _"
)

# S3 locations written into ALTER TABLE ... LOCATION '...': bucket naming rules plus a key alphabet
# without quotes, backslashes or whitespace.
S3_URI_PATTERN = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[A-Za-z0-9_.=\-/]*)?")
S3_URI_RULE = "s3://bucket/key with a valid bucket name and a key of A-Z, a-z, 0-9 and _ . = - /"

# The Hive default partition stands for NULL partition values; it is safe and must stay usable.
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"


class InvalidIdentifierError(ValueError):
    """A name or value that would reach SQL does not match its strict pattern."""

    def __init__(self, kind: str, value: object, rule: str) -> None:
        self.kind = kind
        self.value = value
        self.rule = rule
        super().__init__(
            f"invalid {kind} {value!r}: allowed is {rule}; nothing was run. "
            "Fix the name at its source (stack outputs, asset config or SQL file)."
        )


def validate_name(value: object, kind: str = "identifier") -> str:
    """Return ``value`` if it is a valid database, table or column name, else raise.

    ``kind`` names what the value is (``database``, ``table``, ``column``) in the error message.
    """
    if not isinstance(value, str) or NAME_PATTERN.fullmatch(value) is None:
        raise InvalidIdentifierError(kind, value, NAME_RULE)
    return value


def validate_database(value: object) -> str:
    """Validate a Glue database name."""
    return validate_name(value, "database")


def validate_table(value: object) -> str:
    """Validate a Glue table name."""
    return validate_name(value, "table")


def validate_column(value: object) -> str:
    """Validate a column (or partition key) name."""
    return validate_name(value, "column")


def validate_columns(values: Iterable[object]) -> list[str]:
    """Validate several column names, keeping their order."""
    return [validate_column(value) for value in values]


def validate_partition_value(key: str, value: object) -> str:
    """Validate the value of partition key ``key``: exact for ``dt``/``hour``, a safe alphabet else."""
    validate_column(key)
    if value == HIVE_DEFAULT_PARTITION:
        return HIVE_DEFAULT_PARTITION
    pattern, rule = PARTITION_VALUE_PATTERNS.get(key, (GENERAL_VALUE_PATTERN, GENERAL_VALUE_RULE))
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise InvalidIdentifierError(f"value of partition key {key!r}", value, rule)
    if key == "hour" and int(value) > 23:
        raise InvalidIdentifierError("value of partition key 'hour'", value, "a two-digit hour 00-23")
    return value


def validate_partition_spec(spec: Mapping[str, object]) -> dict[str, str]:
    """Validate a partition spec ``{key: value}`` (keys and values), keeping its order."""
    if not spec:
        raise InvalidIdentifierError("partition spec", dict(spec), "at least one key=value pair")
    return {validate_column(key): validate_partition_value(key, value) for key, value in spec.items()}


def validate_s3_uri(value: object) -> str:
    """Validate an ``s3://bucket/key`` location that will be written into SQL."""
    if not isinstance(value, str) or S3_URI_PATTERN.fullmatch(value) is None or "//" in value[5:]:
        raise InvalidIdentifierError("S3 location", value, S3_URI_RULE)
    return value


def quote_identifier(name: str, kind: str = "identifier", *, style: str = '"') -> str:
    """Validate ``name`` and quote it: ``"name"`` for Trino SQL, or ``style='`'`` for Hive DDL."""
    if style not in ('"', "`"):
        raise ValueError(f"identifier quote style must be '\"' or '`', not {style!r}")
    return f"{style}{validate_name(name, kind)}{style}"


def qualified_table(database: str, table: str, *, style: str = '"') -> str:
    """``"database"."table"`` from validated names."""
    database_part = quote_identifier(database, "database", style=style)
    return f"{database_part}.{quote_identifier(table, 'table', style=style)}"


def quote_literal(value: str, key: str | None = None) -> str:
    """Quote a validated value as a SQL string literal.

    With ``key`` the value is validated as that partition key's value; without, against the general
    safe alphabet. Neither admits a quote character, so no escaping is needed.
    """
    if key is not None:
        validate_partition_value(key, value)
    elif not isinstance(value, str) or (
        value != HIVE_DEFAULT_PARTITION and GENERAL_VALUE_PATTERN.fullmatch(value) is None
    ):
        raise InvalidIdentifierError("literal", value, GENERAL_VALUE_RULE)
    return f"'{value}'"


def quote_location(uri: str) -> str:
    """Validate an S3 location and quote it as a SQL string literal."""
    return f"'{validate_s3_uri(uri)}'"


def partition_spec_sql(spec: Mapping[str, object]) -> str:
    """``PARTITION (dt = '2026-11-21', hour = '23')`` from a validated spec (Hive DDL syntax)."""
    checked = validate_partition_spec(spec)
    pairs = ", ".join(f"{key} = {quote_literal(value, key)}" for key, value in checked.items())
    return f"PARTITION ({pairs})"
