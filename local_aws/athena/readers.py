"""Reading a table's S3 objects into Arrow, typed per the Glue table.

Objects are read through pyarrow's S3 filesystem (DuckDB's httpfs is not available offline), in
parallel, and parsed once per (key, ETag) into an LRU cache bounded by Arrow bytes. JSON follows the
OpenX SerDe: keys match columns case-insensitively, ``mapping.*`` and ``ignore.malformed.json``
are honoured, decimals are exact (parsed from their text), timestamps are
``YYYY-MM-DD HH:MM:SS.fff``, ISO-8601 or epoch millis, a missing column is NULL; gzip is detected from
the content (Firehose may concatenate members). Parquet columns are matched by name and cast to the
table's types. Bytes scanned is the total size of the objects read; a Parquet object counts whole.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq

from infra.lake import (
    HIVE_DEFAULT_PARTITION,
    as_folder,
    glue_type_to_arrow,
    is_hidden_key,
    list_objects,
    parse_s3_uri,
    s3_uri,
)
from local_aws.athena.catalog import Partition, Table, Workgroup
from local_aws.athena.errors import DataError
from local_aws.athena.statement import Statement

# Above this many selected partitions under the table location, one listing of the table prefix is
# cheaper than one listing per partition.
LIST_TABLE_PREFIX_THRESHOLD = 64
DEFAULT_CACHE_BYTES = 512 << 20


class ObjectCache:
    """LRU of parsed S3 objects keyed by (bucket, key, ETag, schema); bounded by Arrow bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, pa.Table] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> pa.Table | None:
        """The cached table of ``key`` (now most recently used), or None."""
        with self._lock:
            table = self._items.get(key)
            if table is not None:
                self._items.move_to_end(key)
            return table

    def put(self, key: tuple, table: pa.Table) -> None:
        """Cache ``table``, evicting the least recently used beyond ``max_bytes``."""
        size = table.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = table
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes


class _SlowPath(Exception):
    """The vectorised JSON reader cannot read an object exactly; use the row-by-row reader."""


class TableReader:
    """Reads the objects of tables (of selected partitions) from S3, with a shared object cache."""

    def __init__(
        self,
        s3: Any,
        fs: pafs.S3FileSystem,
        pool: ThreadPoolExecutor,
        workgroup: Workgroup,
        cache_max_bytes: int,
    ) -> None:
        self.s3 = s3
        self.fs = fs
        self._pool = pool
        self.workgroup = workgroup
        self._cache = ObjectCache(cache_max_bytes)

    def scan(
        self, statement: Statement, table: Table, partitions: list[Partition] | None, *, with_path: bool
    ) -> pa.Table:
        """Read a table's objects (of the given partitions) into one Arrow table typed per Glue."""
        fields = table.arrow_fields()
        if partitions is None:
            locations = [(table.location, ())]
        else:
            locations = [(p.location, p.values) for p in partitions]
            statement.partitions_read += len(partitions)
        listed = self._list_locations([loc for loc, _ in locations], table.location)
        tasks: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []
        for location, values in locations:
            bucket, _ = parse_s3_uri(location)
            tasks.extend((bucket, obj, values) for obj in listed[location])
        total = sum(int(obj["Size"]) for _, obj, _ in tasks)
        cutoff = self.workgroup.bytes_cutoff
        if cutoff is not None and statement.bytes_scanned + total > cutoff:
            raise statement.fail(
                f"Query cancelled! Bytes scanned limit was exceeded: reading {table.qualified} needs "
                f"{statement.bytes_scanned + total} bytes, the workgroup {self.workgroup.name} allows "
                f"{cutoff}"
            )
        schema_key = (table.format, tuple(fields), tuple(sorted(table.serde_parameters.items())))

        def read(task: tuple[str, dict[str, Any], tuple[str, ...]]) -> pa.Table:
            bucket, obj, values = task
            data = self._read_object(table, fields, schema_key, bucket, obj)
            return with_partition_columns(
                data, table, values, s3_uri(bucket, obj["Key"]) if with_path else None
            )

        pieces = list(self._pool.map(read, tasks)) if len(tasks) > 1 else [read(t) for t in tasks]
        statement.bytes_scanned += total
        statement.objects_read += len(tasks)
        if not pieces:
            empty = pa.table({name: pa.array([], arrow_type) for name, _, arrow_type in fields})
            return with_partition_columns(
                empty, table, tuple("" for _ in table.partition_keys), "" if with_path else None
            )
        return pa.concat_tables(pieces)

    def _list_locations(
        self, locations: Sequence[str], table_location: str
    ) -> dict[str, list[dict[str, Any]]]:
        """Visible objects under each location, listing the table prefix once when that is cheaper."""
        result: dict[str, list[dict[str, Any]]] = {location: [] for location in locations}
        table_bucket, table_prefix = parse_s3_uri(table_location)
        table_prefix = as_folder(table_prefix)
        under: dict[str, str] = {}
        separate: list[str] = []
        for location in dict.fromkeys(locations):
            bucket, prefix = parse_s3_uri(location)
            prefix = as_folder(prefix)
            if bucket == table_bucket and prefix.startswith(table_prefix) and prefix != table_prefix:
                under[prefix] = location
            else:
                separate.append(location)
        if len(under) > LIST_TABLE_PREFIX_THRESHOLD:
            for obj in list_objects(self.s3, table_bucket, table_prefix):
                key = obj["Key"]
                # Every partition folder that is an ancestor of the key reads it (reads are recursive).
                for cut in (i for i, ch in enumerate(key) if ch == "/" and i >= len(table_prefix)):
                    location = under.get(key[: cut + 1])
                    if location is not None and not is_hidden_key(key[cut + 1 :]):
                        result[location].append(obj)
        else:
            separate.extend(under.values())

        def list_one(location: str) -> tuple[str, list[dict[str, Any]]]:
            bucket, prefix = parse_s3_uri(location)
            prefix = as_folder(prefix)
            return location, [
                o for o in list_objects(self.s3, bucket, prefix) if not is_hidden_key(o["Key"][len(prefix) :])
            ]

        for location, objects in self._pool.map(list_one, separate):
            result[location] = objects
        return result

    def _read_object(
        self,
        table: Table,
        fields: list[tuple[str, str, pa.DataType]],
        schema_key: tuple,
        bucket: str,
        obj: Mapping[str, Any],
    ) -> pa.Table:
        key = obj["Key"]
        cache_key = (bucket, key, obj.get("ETag"), schema_key)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        where = s3_uri(bucket, key)
        try:
            with self.fs.open_input_stream(f"{bucket}/{key}", compression=None) as stream:
                raw = stream.read()
        except OSError as exc:  # e.g. deleted between listing and reading, as on Athena
            raise DataError(f"HIVE_CANNOT_OPEN_SPLIT: Error opening {where}: {exc}") from exc
        if table.format == "parquet":
            data = _parse_parquet(raw, fields, where)
        else:
            data = _parse_json(raw, fields, table.serde_parameters, where)
        self._cache.put(cache_key, data)
        return data


def _maybe_gunzip(raw: bytes, where: str) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        # Firehose may concatenate gzip members; decompress them all.
        out, data = [], raw
        while data:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out.append(decompressor.decompress(data))
            out.append(decompressor.flush())
            data = decompressor.unused_data
            if data[:2] != b"\x1f\x8b":
                break
        return b"".join(out)
    except zlib.error as exc:
        raise DataError(f"HIVE_BAD_DATA: {where} is not valid gzip ({exc})") from exc


def _parse_json(
    raw: bytes, fields: list[tuple[str, str, pa.DataType]], serde: Mapping[str, str], where: str
) -> pa.Table:
    """Rows of a newline-delimited JSON object, typed per the table (OpenX JSON SerDe semantics)."""
    data = _maybe_gunzip(raw, where)
    mapping = {
        k[len("mapping.") :].lower(): v.lower() for k, v in serde.items() if k.lower().startswith("mapping.")
    }
    if not data.strip():
        return pa.table({name: pa.array([], arrow_type) for name, _, arrow_type in fields})
    if not mapping:
        try:
            return to_milliseconds(_parse_json_fast(data, fields))
        except (_SlowPath, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
    ignore_malformed = str(serde.get("ignore.malformed.json", "false")).lower() == "true"
    return to_milliseconds(_parse_json_rows(data, fields, mapping, ignore_malformed, where))


def to_milliseconds(table: pa.Table) -> pa.Table:
    """Timestamps rounded to the millisecond (half up), as Athena's timestamp(3) reads them.

    Truncating instead would make an equality filter on the rounded value miss the row.
    """
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            rounded = pc.round_temporal(table.column(index), multiple=1, unit="millisecond")
            table = table.set_column(index, field, rounded)
    return table


def _parse_json_fast(data: bytes, fields: list[tuple[str, str, pa.DataType]]) -> pa.Table:
    """pyarrow's vectorised reader, used when it reads the object exactly (else _SlowPath)."""
    schema = pa.schema([pa.field(name, arrow_type) for name, _, arrow_type in fields])
    table = pajson.read_json(
        io.BytesIO(data),
        read_options=pajson.ReadOptions(use_threads=False, block_size=max(1 << 20, len(data) + 1)),
        parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
    )
    wanted = {name for name, _, _ in fields}
    if any(n not in wanted and n.lower() in wanted for n in table.column_names):
        raise _SlowPath("keys differ from column names only by case")
    columns = []
    for name, _, arrow_type in fields:
        if name in table.column_names:
            column = table.column(name)
            columns.append(column if column.type == arrow_type else column.cast(arrow_type))
        else:
            columns.append(pa.nulls(table.num_rows, arrow_type))
    return pa.table(columns, names=[name for name, _, _ in fields])


def _parse_json_rows(
    data: bytes,
    fields: list[tuple[str, str, pa.DataType]],
    mapping: Mapping[str, str],
    ignore_malformed: bool,
    where: str,
) -> pa.Table:
    """Row-by-row reader: exact decimals from their text, Hive's conversions, clear errors."""
    rows: list[tuple[int, dict[str, Any]]] = []
    for line_number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            if ignore_malformed:
                rows.append((line_number, {}))
                continue
            raise DataError(
                f"HIVE_CURSOR_ERROR: Row is not a valid JSON Object - {exc} ({where} line {line_number}); "
                "fix the object or set the SerDe parameter ignore.malformed.json = 'true'"
            ) from exc
        if not isinstance(value, dict):
            if ignore_malformed:
                rows.append((line_number, {}))
                continue
            raise DataError(f"HIVE_CURSOR_ERROR: Row is not a JSON object ({where} line {line_number})")
        rows.append((line_number, {str(k).lower(): v for k, v in value.items()}))
    arrays = []
    for name, glue_type, arrow_type in fields:
        key = mapping.get(name, name)
        values = []
        for line_number, row in rows:
            try:
                values.append(_convert(row.get(key), arrow_type))
            except (ValueError, TypeError, InvalidOperation, OverflowError) as exc:
                raise DataError(
                    f"HIVE_BAD_DATA: Error parsing field value {row.get(key)!r} for column {name} of type "
                    f"{glue_type} ({where} line {line_number}): {exc}"
                ) from exc
        arrays.append(pa.array(values, type=arrow_type))
    return pa.table(arrays, names=[name for name, _, _ in fields])


_TIMESTAMP_TEXT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?"
)
_INTEGER_TEXT = re.compile(r"[+-]?\d+")


def _convert(value: Any, arrow_type: pa.DataType) -> Any:
    """One JSON value as the Python value of a Glue column type (Hive's conversions)."""
    if value is None:
        return None
    if pa.types.is_string(arrow_type):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value, default=str, separators=(",", ":"))
        return str(value)
    if pa.types.is_integer(arrow_type):
        if isinstance(value, bool):
            raise TypeError("a boolean is not an integer")
        if isinstance(value, str):
            if not _INTEGER_TEXT.fullmatch(value.strip()):
                raise ValueError("not an integer")
            value = int(value.strip())
        if isinstance(value, Decimal):
            if value != value.to_integral_value():
                raise ValueError("not an integer")
            value = int(value)
        bits = arrow_type.bit_width
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise OverflowError(f"out of range for {arrow_type}")
        return int(value)
    if pa.types.is_floating(arrow_type):
        if isinstance(value, bool):
            raise TypeError("a boolean is not a number")
        return float(value)
    if pa.types.is_decimal(arrow_type):
        if isinstance(value, bool):
            raise TypeError("a boolean is not a number")
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        quantized = number.quantize(Decimal(1).scaleb(-arrow_type.scale), rounding=ROUND_HALF_UP)
        # Hive: a value that does not fit the precision reads as NULL.
        return quantized if len(quantized.as_tuple().digits) <= arrow_type.precision else None
    if pa.types.is_boolean(arrow_type):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError("not a boolean")
    if pa.types.is_timestamp(arrow_type):
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return datetime(1970, 1, 1) + timedelta(milliseconds=int(value))
        return _parse_timestamp(str(value))
    if pa.types.is_date32(arrow_type):
        return date.fromisoformat(str(value)[:10])
    if pa.types.is_list(arrow_type):
        if not isinstance(value, list):
            raise TypeError("not a JSON array")
        return [_convert(item, arrow_type.value_type) for item in value]
    if pa.types.is_map(arrow_type):
        if not isinstance(value, dict):
            raise TypeError("not a JSON object")
        return [
            (_convert(k, arrow_type.key_type), _convert(v, arrow_type.item_type)) for k, v in value.items()
        ]
    if pa.types.is_struct(arrow_type):
        if not isinstance(value, dict):
            raise TypeError("not a JSON object")
        lowered = {str(k).lower(): v for k, v in value.items()}
        return {
            arrow_type.field(i).name: _convert(
                lowered.get(arrow_type.field(i).name), arrow_type.field(i).type
            )
            for i in range(arrow_type.num_fields)
        }
    raise TypeError(f"unsupported column type {arrow_type}")


def _parse_timestamp(text: str) -> datetime:
    match = _TIMESTAMP_TEXT.fullmatch(text.strip())
    if not match:
        raise ValueError("not a timestamp (expected YYYY-MM-DD HH:MM:SS[.fff])")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0").ljust(6, "0")[:6])
    moment = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micros
    )
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        moment = (moment - sign * offset).replace(tzinfo=None)
    return moment


def _parse_parquet(raw: bytes, fields: list[tuple[str, str, pa.DataType]], where: str) -> pa.Table:
    """A Parquet object's columns by name (case-insensitive), cast to the table's types."""
    try:
        table = pq.read_table(io.BytesIO(raw))
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"HIVE_CANNOT_OPEN_SPLIT: {where} is not a readable Parquet file ({exc})") from exc
    by_name = {name.lower(): name for name in table.column_names}
    columns = []
    for name, glue_type, arrow_type in fields:
        source = by_name.get(name)
        if source is None:
            columns.append(pa.nulls(table.num_rows, arrow_type))
            continue
        column = table.column(source)
        if column.type != arrow_type:
            try:
                column = column.cast(arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"HIVE_BAD_DATA: column {name} is {column.type} in {where} but {glue_type} in the table "
                    f"({exc})"
                ) from exc
        columns.append(column)
    return pa.table(columns, names=[name for name, _, _ in fields])


def with_partition_columns(
    data: pa.Table, table: Table, values: tuple[str, ...], path: str | None
) -> pa.Table:
    """Append the partition key columns (and ``$path``) with their constant values."""
    rows = data.num_rows
    for (key, glue_type), value in zip(table.partition_keys, values, strict=True):
        arrow_type = glue_type_to_arrow(glue_type)
        if value == HIVE_DEFAULT_PARTITION or rows == 0:
            column = pa.nulls(rows, arrow_type)
        else:
            column = pc.cast(pa.repeat(pa.scalar(value, pa.string()), rows), arrow_type)
        data = data.append_column(key, column)
    if path is not None:
        data = data.append_column("$path", pa.repeat(pa.scalar(path, pa.string()), rows))
    return data


def s3_filesystem(
    endpoint_url: str | None, region: str, credentials: Mapping[str, str] | None
) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem for the emulator at ``endpoint_url`` (or AWS when None)."""
    kwargs: dict[str, Any] = {"region": region}
    if credentials:
        kwargs["access_key"] = credentials.get("aws_access_key_id")
        kwargs["secret_key"] = credentials.get("aws_secret_access_key")
        if credentials.get("aws_session_token"):
            kwargs["session_token"] = credentials["aws_session_token"]
    if endpoint_url:
        parsed = urlparse(endpoint_url)
        kwargs["endpoint_override"] = parsed.netloc
        kwargs["scheme"] = parsed.scheme or "http"
    return pafs.S3FileSystem(**kwargs)
