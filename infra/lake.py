"""The lake's conventions, shared by the application and the embedded AWS.

One home for what both sides must agree on: names and values that may be interpolated into SQL
(validated strictly, quoted only after validation), the Glue table formats (SerDe, input and output
formats), Hive partition folders and their escaping, partition inputs and the batch create/delete of
partitions, and Athena's and Glue's limits. It imports neither the application nor the embedded AWS.

Athena has no bind parameters for DDL (``ALTER TABLE ... ADD PARTITION``), for table names or for
partition specs, so statements are built as text. Everything that reaches such text goes through
this module first: a value that does not match its pattern raises :class:`InvalidIdentifierError`
naming the value and what is allowed, before any SQL runs. The patterns are deliberately narrower
than what Athena accepts: lower-case names (Glue stores them lower-case anyway) and partition values
from a small safe alphabet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
from sqlglot import exp

# Athena writes at most this many partitions in one CTAS / INSERT INTO statement.
MAX_PARTITIONS_PER_WRITE = 100

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
    if key == "dt" and not _is_calendar_date(value):
        raise InvalidIdentifierError("value of partition key 'dt'", value, "a real date YYYY-MM-DD")
    return value


def _is_calendar_date(value: str) -> bool:
    """Whether ``YYYY-MM-DD`` text names a day of the calendar (``2026-02-30`` does not)."""
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


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


# ----------------------------------------------------------------------------- catalog formats and partitions
SERDE_OPENX_JSON = "org.openx.data.jsonserde.JsonSerDe"
SERDE_HIVE_JSON = "org.apache.hive.hcatalog.data.JsonSerDe"
SERDE_PARQUET = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
INPUT_FORMAT_TEXT = "org.apache.hadoop.mapred.TextInputFormat"
OUTPUT_FORMAT_TEXT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
INPUT_FORMAT_PARQUET = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
OUTPUT_FORMAT_PARQUET = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
# Glue's BatchCreatePartition / BatchDeletePartition take at most this many partitions per call.
GLUE_PARTITION_BATCH = 100


class CatalogError(RuntimeError):
    """A Glue catalog object cannot be used as asked; the message says which and why."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` -> ``("bucket", "a/b/")`` (``s3a://``/``s3n://`` accepted like Athena)."""
    match = re.fullmatch(r"s3[an]?://([^/]+)/?(.*)", uri or "")
    if not match:
        raise CatalogError(f"{uri!r} is not an s3:// location")
    return match.group(1), match.group(2)


def s3_uri(bucket: str, key: str) -> str:
    """``s3://bucket/key``."""
    return f"s3://{bucket}/{key}"


def as_folder(key_prefix: str) -> str:
    """A key prefix ending in ``/`` (or empty for the bucket root)."""
    return key_prefix if not key_prefix or key_prefix.endswith("/") else key_prefix + "/"


# Hive escapes these characters in partition folder names (FileUtils.escapePathName).
_HIVE_ESCAPED = set("\"#%'*/:=?\\\x7f{[]^")


def hive_escape(value: str) -> str:
    """Escape a partition value for a Hive folder name (``dt=2026-11-21``)."""
    return "".join(f"%{ord(ch):02X}" if ch in _HIVE_ESCAPED or ord(ch) < 0x20 else ch for ch in value)


def hive_unescape(value: str) -> str:
    """Undo :func:`hive_escape`."""
    return unquote(value) if "%" in value else value


def partition_folder(keys: Sequence[str], values: Sequence[str]) -> str:
    """``dt=2026-11-21/hour=23/`` for keys and values."""
    return "".join(f"{key}={hive_escape(value)}/" for key, value in zip(keys, values, strict=True))


def is_hidden_key(relative_key: str) -> bool:
    """True for objects Hive/Athena ignore: names starting with ``_`` or ``.``, folder markers."""
    if not relative_key or relative_key.endswith("/") or relative_key.endswith("_$folder$"):
        return True
    return any(part.startswith(("_", ".")) for part in relative_key.split("/"))


def table_format(table: Mapping[str, Any]) -> str:
    """``json`` or ``parquet`` from a Glue table's SerDe / input format / classification."""
    sd = table.get("StorageDescriptor") or {}
    serde = ((sd.get("SerdeInfo") or {}).get("SerializationLibrary") or "").lower()
    input_format = (sd.get("InputFormat") or "").lower()
    classification = ((table.get("Parameters") or {}).get("classification") or "").lower()
    if "parquet" in serde or "parquet" in input_format:
        return "parquet"
    if "json" in serde:
        return "json"
    if not serde and classification in ("json", "parquet"):
        return classification
    raise CatalogError(
        f"table {table.get('DatabaseName')}.{table.get('Name')} uses SerDe {serde or '(none)'!r} with "
        f"input format {input_format or '(none)'!r}; the local engine reads JSON "
        f"({SERDE_OPENX_JSON}) and Parquet ({SERDE_PARQUET}) tables"
    )


def glue_type_to_arrow(glue_type: str) -> pa.DataType:
    """The Arrow type holding values of a Glue (Hive) column type; raises CatalogError if unknown."""
    try:
        data_type = exp.DataType.build(glue_type, dialect="hive")
    except Exception as exc:  # noqa: BLE001 - any parse failure is an unknown type
        raise CatalogError(f"unknown Glue column type {glue_type!r}: {exc}") from exc
    return _data_type_to_arrow(data_type, glue_type)


def _data_type_to_arrow(data_type: exp.DataType, original: str) -> pa.DataType:
    kind = data_type.this
    simple = {
        exp.DType.TEXT: pa.string(),
        exp.DType.VARCHAR: pa.string(),
        exp.DType.CHAR: pa.string(),
        exp.DType.TINYINT: pa.int8(),
        exp.DType.SMALLINT: pa.int16(),
        exp.DType.INT: pa.int32(),
        exp.DType.BIGINT: pa.int64(),
        exp.DType.BOOLEAN: pa.bool_(),
        exp.DType.FLOAT: pa.float32(),
        exp.DType.DOUBLE: pa.float64(),
        exp.DType.DATE: pa.date32(),
        exp.DType.TIMESTAMP: pa.timestamp("us"),
        exp.DType.BINARY: pa.binary(),
    }
    if kind in simple:
        return simple[kind]
    if kind == exp.DType.DECIMAL:
        params = [int(param.name) for param in data_type.expressions]
        precision, scale = (params + [10, 0][len(params) :])[:2] if params else (10, 0)
        return pa.decimal128(precision, scale)
    if kind == exp.DType.ARRAY and data_type.expressions:
        return pa.list_(_data_type_to_arrow(data_type.expressions[0], original))
    if kind == exp.DType.MAP and len(data_type.expressions) == 2:
        key, value = data_type.expressions
        return pa.map_(_data_type_to_arrow(key, original), _data_type_to_arrow(value, original))
    if kind == exp.DType.STRUCT:
        fields = []
        for column in data_type.expressions:
            fields.append(pa.field(column.name.lower(), _data_type_to_arrow(column.args["kind"], original)))
        return pa.struct(fields)
    raise CatalogError(f"Glue column type {original!r} ({data_type.sql('hive')}) is not supported locally")


def arrow_to_glue_type(arrow_type: pa.DataType, column: str = "") -> str:
    """The Glue (Hive) type name for an Arrow type; raises CatalogError for types Hive cannot store."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or _is_string_view(arrow_type):
        return "string"
    if pa.types.is_timestamp(arrow_type):
        if arrow_type.tz is not None:
            raise CatalogError(
                f"column {column!r} is a timestamp with time zone, which a Hive table cannot store "
                "(Athena: 'Unsupported Hive type'); cast it to timestamp"
            )
        return "timestamp"
    simple = [
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_float32, "float"),
        (pa.types.is_float64, "double"),
        (pa.types.is_date32, "date"),
        (pa.types.is_binary, "binary"),
    ]
    for check, name in simple:
        if check(arrow_type):
            return name
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"array<{arrow_to_glue_type(arrow_type.value_type, column)}>"
    if pa.types.is_map(arrow_type):
        key = arrow_to_glue_type(arrow_type.key_type, column)
        return f"map<{key},{arrow_to_glue_type(arrow_type.item_type, column)}>"
    if pa.types.is_struct(arrow_type):
        inner = ",".join(
            f"{arrow_type.field(i).name}:{arrow_to_glue_type(arrow_type.field(i).type, column)}"
            for i in range(arrow_type.num_fields)
        )
        return f"struct<{inner}>"
    if pa.types.is_null(arrow_type):
        return "string"
    raise CatalogError(f"column {column!r} has type {arrow_type}, which has no Glue type; cast it")


def _is_string_view(arrow_type: pa.DataType) -> bool:
    check = getattr(pa.types, "is_string_view", None)
    return bool(check and check(arrow_type))


def glue_type_to_sql(glue_type: str) -> str:
    """A Glue type as a Trino type name (for sqlglot's schema)."""
    return exp.DataType.build(glue_type, dialect="hive").sql("trino")


def get_partitions(
    glue: Any, database: str, table: str, expression: str | None = None
) -> list[dict[str, Any]]:
    """Every partition of a Glue table (all pages), or those matching a Glue partition ``expression``.

    Column schemas are left out of the answer (partitions inherit the table's), which keeps it small.
    """
    kwargs: dict[str, Any] = {"DatabaseName": database, "TableName": table, "ExcludeColumnSchema": True}
    if expression:
        kwargs["Expression"] = expression
    partitions: list[dict[str, Any]] = []
    for page in glue.get_paginator("get_partitions").paginate(**kwargs):
        partitions.extend(page.get("Partitions", []))
    return partitions


def partition_input(table: Mapping[str, Any], values: Sequence[str], location: str) -> dict[str, Any]:
    """A PartitionInput inheriting the table's storage descriptor, at ``location``."""
    sd = dict(table.get("StorageDescriptor") or {})
    sd["Location"] = location
    return {"Values": list(values), "StorageDescriptor": sd}


def batch_create_partitions(
    glue: Any, database: str, table: str, inputs: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Create partitions in batches; returns error messages (existing partitions are not errors)."""
    errors: list[str] = []
    for start in range(0, len(inputs), GLUE_PARTITION_BATCH):
        chunk = list(inputs[start : start + GLUE_PARTITION_BATCH])
        response = glue.batch_create_partition(
            DatabaseName=database, TableName=table, PartitionInputList=chunk
        )
        for error in response.get("Errors") or []:
            detail = error.get("ErrorDetail") or {}
            if detail.get("ErrorCode") != "AlreadyExistsException":
                errors.append(
                    f"{error.get('PartitionValues')}: {detail.get('ErrorCode')} {detail.get('ErrorMessage')}"
                )
    return errors


def batch_delete_partitions(
    glue: Any, database: str, table: str, values: Sequence[Sequence[str]]
) -> list[str]:
    """Delete partitions in batches; returns error messages (missing partitions are not errors)."""
    errors: list[str] = []
    for start in range(0, len(values), GLUE_PARTITION_BATCH):
        chunk = [{"Values": list(v)} for v in values[start : start + GLUE_PARTITION_BATCH]]
        response = glue.batch_delete_partition(
            DatabaseName=database, TableName=table, PartitionsToDelete=chunk
        )
        for error in response.get("Errors") or []:
            detail = error.get("ErrorDetail") or {}
            if detail.get("ErrorCode") != "EntityNotFoundException":
                errors.append(
                    f"{error.get('PartitionValues')}: {detail.get('ErrorCode')} {detail.get('ErrorMessage')}"
                )
    return errors


def list_objects(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every object (Key, Size, ETag, LastModified) under a prefix."""
    objects: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects.extend(page.get("Contents", []))
    return objects
