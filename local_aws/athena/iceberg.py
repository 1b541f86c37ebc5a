"""Apache Iceberg tables of the local Athena: created, read, appended to and dropped through pyiceberg.

Tables live in the emulator's Glue catalog (``Parameters.table_type = ICEBERG`` and
``metadata_location``, written by pyiceberg's Glue catalog) with their data and metadata in the
emulator's S3. Reads plan the files of the table's current snapshot (or of the snapshot a time-travel
clause names) and keep only the files of the identity partitions the query's partition predicates
admit; writes commit one snapshot per statement with pyiceberg's own commit retry switched off, so a
result computed from a stale snapshot is never committed (see :mod:`.iceberg_merge` and the README's
"Iceberg tables" section).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
from pyiceberg.catalog.glue import GlueCatalog as PyIcebergGlueCatalog
from pyiceberg.exceptions import NoSuchPropertyException, NoSuchTableError
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, In, IsNull, Or
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table as IcebergTable
from pyiceberg.table import TableProperties
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    LongType,
    NestedField,
    StringType,
    TimestampType,
)
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from infra.failpoints import kill_point
from infra.lake import (
    HIVE_DEFAULT_PARTITION,
    MAX_PARTITIONS_PER_WRITE,
    as_folder,
    glue_type_to_arrow,
    list_objects,
    parse_s3_uri,
    validate_column,
    validate_s3_uri,
)
from local_aws.athena.catalog import GlueCatalog, Partition, Table, resolve_table_ref
from local_aws.athena.dialect import AthenaOnDuckDB
from local_aws.athena.pruning import evaluate_partition_predicate, partition_predicate
from local_aws.athena.readers import to_milliseconds
from local_aws.athena.statement import Outcome, Statement

ICEBERG = "ICEBERG"
# Athena's Iceberg CREATE TABLE column types, as pyiceberg types.
_PRIMITIVES: dict[str, IcebergType] = {
    "string": StringType(),
    "varchar": StringType(),
    "int": IntegerType(),
    "integer": IntegerType(),
    "bigint": LongType(),
    "double": DoubleType(),
    "float": FloatType(),
    "boolean": BooleanType(),
    "date": DateType(),
    "timestamp": TimestampType(),
}
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
# Parquet codecs by Athena's write_compression names (Athena's Iceberg default is ZSTD).
_CODECS = {"ZSTD": "zstd", "SNAPPY": "snappy", "GZIP": "gzip", "LZ4": "lz4", "NONE": "uncompressed"}


def is_iceberg(raw: Mapping[str, Any]) -> bool:
    """True if a Glue table definition is an Iceberg table (``Parameters.table_type``, any case)."""
    return str((raw.get("Parameters") or {}).get("table_type", "")).upper() == ICEBERG


def iceberg_type(glue_type: str, column: str) -> IcebergType:
    """The pyiceberg type of an Athena column type; fails naming the column for any other type."""
    text = glue_type.strip().lower()
    if text in _PRIMITIVES:
        return _PRIMITIVES[text]
    match = _DECIMAL.fullmatch(text)
    if match:
        return DecimalType(int(match.group(1)), int(match.group(2)))
    raise ValueError(
        f"column {column} has type {glue_type!r}; Iceberg tables of the local engine take "
        f"{', '.join(sorted(set(_PRIMITIVES) - {'varchar', 'integer'}))} and decimal(p,s)"
    )


class IcebergTables:
    """The Iceberg side of one LocalAthena: a pyiceberg Glue catalog on the emulator, built lazily.

    ``before_commit`` (None normally) is called with ``db.table`` just before each commit; the
    concurrency tests use it to let another writer commit first, deterministically.
    """

    def __init__(
        self, endpoint_url: str | None, region: str, credentials: Mapping[str, str] | None, s3: Any
    ) -> None:
        self.s3 = s3
        self._properties = {"glue.region": region, "s3.region": region, "client.region": region}
        if endpoint_url:
            self._properties.update({"glue.endpoint": endpoint_url, "s3.endpoint": endpoint_url})
        for service in ("glue", "s3"):
            if credentials:
                self._properties[f"{service}.access-key-id"] = credentials["aws_access_key_id"]
                self._properties[f"{service}.secret-access-key"] = credentials["aws_secret_access_key"]
        self._catalog: PyIcebergGlueCatalog | None = None
        self.before_commit: Callable[[str], None] | None = None

    @property
    def catalog(self) -> PyIcebergGlueCatalog:
        """pyiceberg's Glue catalog pointed at the emulator (created on first use)."""
        if self._catalog is None:
            self._catalog = PyIcebergGlueCatalog("awsdatacatalog", **self._properties)
        return self._catalog

    def load(self, statement: Statement, table: Table) -> IcebergTable:
        """The table at its current metadata, with pyiceberg's own commit retry off.

        pyiceberg would otherwise re-apply a failed overwrite on top of the other writer's snapshot,
        committing rows computed from the stale one; the engine re-runs the whole statement instead.
        """
        try:
            loaded = self.catalog.load_table((table.database, table.name))
        except NoSuchTableError as exc:
            raise statement.fail(
                f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{table.qualified}' does not exist"
            ) from exc
        except (NoSuchPropertyException, OSError) as exc:
            # A Glue entry that says ICEBERG without usable metadata (made by hand, or its files deleted).
            raise statement.fail(
                f"ICEBERG_BAD_DATA: the Glue entry of {table.qualified} is marked ICEBERG but its metadata "
                f"cannot be read ({exc}); drop the table and create it again with CREATE TABLE ... "
                "TBLPROPERTIES ('table_type'='ICEBERG')"
            ) from exc
        properties = {**loaded.metadata.properties, TableProperties.COMMIT_NUM_RETRIES: "0"}
        loaded.metadata = loaded.metadata.model_copy(update={"properties": properties})
        return loaded

    def create(self, statement: Statement, create: exp.Create, catalog: GlueCatalog) -> Outcome:
        """Athena's Iceberg ``CREATE TABLE [IF NOT EXISTS] t (cols) PARTITIONED BY (...) LOCATION ...
        TBLPROPERTIES ('table_type'='ICEBERG', ...)``: a format v2 table, identity partitions."""
        schema_node = create.this
        database, name = resolve_table_ref(statement, schema_node.this)
        properties = _create_properties(create)
        location = properties.get("location")
        if not location:
            raise statement.fail(
                f"an Iceberg table needs LOCATION 's3://bucket/prefix/'; "
                f"CREATE TABLE {database}.{name} has none"
            )
        location = as_folder(validate_s3_uri(location)).rstrip("/")
        fmt = properties.get("format", "parquet").lower()
        if fmt != "parquet":
            raise statement.unsupported(
                f"Iceberg format '{fmt}'", "the local engine writes format = 'parquet'"
            )
        codec = properties.get("write_compression", "ZSTD").upper()
        if codec not in _CODECS:
            raise statement.unsupported(f"write_compression '{codec}'", f"use one of {sorted(_CODECS)}")
        fields = []
        for number, column in enumerate(schema_node.expressions, start=1):
            if not isinstance(column, exp.ColumnDef) or column.args.get("kind") is None:
                raise statement.fail(f"SYNTAX_ERROR: expected a column definition, got {column.sql('trino')}")
            column_name = validate_column(column.name.lower())
            glue_type = column.args["kind"].sql("hive").lower()
            try:
                fields.append(
                    NestedField(number, column_name, iceberg_type(glue_type, column_name), required=False)
                )
            except ValueError as exc:
                raise statement.unsupported(str(exc)) from exc
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise statement.fail(
                f"Column name specified more than once in CREATE TABLE {database}.{name}: {names}"
            )
        spec_fields = []
        for number, key in enumerate(properties.get("partitioned_by", []), start=1000):
            if key not in names:
                raise statement.fail(
                    f"Partition column {key} is not a column of {database}.{name} ({', '.join(names)}); "
                    "an Iceberg table partitions by its own columns"
                )
            spec_fields.append(
                PartitionField(
                    source_id=names.index(key) + 1, field_id=number, transform=IdentityTransform(), name=key
                )
            )
        if catalog.table_definition(database, name) is not None:
            if create.args.get("exists"):
                return [], [], "DDL"
            raise statement.fail(f"Table already exists: {database}.{name} (AlreadyExistsException)")
        self.catalog.create_table(
            (database, name),
            Schema(*fields),
            location=location,
            partition_spec=PartitionSpec(*spec_fields),
            properties={"format-version": "2", "write.parquet.compression-codec": _CODECS[codec]},
        )
        return [], [], "DDL"

    def scan(
        self,
        statement: Statement,
        con: duckdb.DuckDBPyConnection,
        table: Table,
        alternatives: list[list[exp.Expression]] | None,
        version: exp.Expression | None,
        columns: set[str] | None = None,
    ) -> pa.Table:
        """Rows of the table's current (or time-travelled) snapshot in the partitions the query needs,
        typed as the rest of the engine expects (Glue types, millisecond timestamps).

        ``columns``: the columns the query reads (None: all). Only those are read and, as Athena bills
        Parquet, only their bytes count as scanned; the other columns come back as NULLs.
        """
        loaded = self.load(statement, table)
        snapshot = self._snapshot(statement, con, table, loaded, version)
        if snapshot is None:
            return empty_rows(table)
        tasks = list(loaded.scan(snapshot_id=snapshot.snapshot_id).plan_files())
        keys = partition_keys(loaded)
        predicate = partition_predicate(alternatives, [k for k, _ in keys])
        if predicate is not None and tasks:
            tasks = _tasks_matching(con, table, keys, tasks, predicate, statement)
        schema = loaded.schemas()[snapshot.schema_id] if snapshot.schema_id is not None else loaded.schema()
        if columns is not None:
            names = [field.name for field in schema.fields]
            schema = schema.select(*([name for name in names if name in columns] or names[:1]))
        statement.bytes_scanned += sum(column_bytes(task.file, schema) for task in tasks)
        statement.objects_read += len(tasks)
        statement.partitions_read += len({tuple(t.file.partition) for t in tasks}) if keys else 0
        if not tasks:
            return empty_rows(table)
        data = ArrowScan(loaded.metadata, loaded.io, schema, AlwaysTrue()).to_table(tasks)
        return to_engine_types(data, table)

    def _snapshot(
        self,
        statement: Statement,
        con: duckdb.DuckDBPyConnection,
        table: Table,
        loaded: IcebergTable,
        version: exp.Expression | None,
    ) -> Snapshot | None:
        """The snapshot a read sees: current, or the one ``FOR VERSION/TIMESTAMP AS OF`` names."""
        if version is None:
            return loaded.current_snapshot()
        kind = str(version.this).upper()
        if kind == "VERSION":
            text = version.expression.sql("trino")
            try:
                snapshot_id = int(text)
            except ValueError as exc:
                raise statement.fail(f"FOR VERSION AS OF takes a snapshot id (a bigint), got {text}") from exc
            snapshot = loaded.snapshot_by_id(snapshot_id)
            if snapshot is None:
                raise statement.fail(
                    f"Iceberg snapshot ID does not exist: {snapshot_id} (table {table.qualified}); "
                    f'list them with SELECT * FROM "{table.database}"."{table.name}$snapshots"'
                )
            return snapshot
        sql = version.expression.sql(dialect=AthenaOnDuckDB, unsupported_level=ErrorLevel.RAISE)
        moment = con.execute(f"SELECT epoch_ms(CAST(({sql}) AS TIMESTAMPTZ))").fetchall()[0][0]
        snapshot = loaded.snapshot_as_of_timestamp(int(moment))
        if snapshot is None:
            at = datetime(1970, 1, 1) + timedelta(milliseconds=int(moment))
            first = loaded.history()[0].timestamp_ms if loaded.history() else None
            since = (
                "its first snapshot was committed at "
                f"{datetime(1970, 1, 1) + timedelta(milliseconds=first)} UTC"
                if first is not None
                else "it has no snapshot yet"
            )
            raise statement.fail(
                f"No version history table {table.qualified} at or before {at} UTC: {since}; "
                "travel to a later time"
            )
        return snapshot

    def purge_location(self, location: str) -> int:
        """Delete every object under an Iceberg table's location (data and metadata); returns how many."""
        bucket, prefix = parse_s3_uri(location)
        keys = [obj["Key"] for obj in list_objects(self.s3, bucket, as_folder(prefix))]
        for start in range(0, len(keys), 1000):
            self.s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True},
            )
        return len(keys)

    def commit_point(self, table: Table) -> None:
        """Called right before every commit: the kill point and the test hook."""
        kill_point("iceberg.before_commit")
        if self.before_commit is not None:
            self.before_commit(table.qualified)


def partition_keys(loaded: IcebergTable) -> list[tuple[str, IcebergType]]:
    """(source column, type) of each identity partition field of the table's current spec, in order."""
    schema = loaded.schema()
    keys = []
    for field in loaded.spec().fields:
        if not isinstance(field.transform, IdentityTransform):
            raise ValueError(
                f"partition field {field.name} uses {field.transform}; the local engine reads identity"
            )
        source = schema.find_field(field.source_id)
        keys.append((source.name, source.field_type))
    return keys


def partition_text(value: Any, field_type: IcebergType) -> str:
    """A partition value of a data file as Hive text (what the pruning predicate evaluates)."""
    if value is None:
        return HIVE_DEFAULT_PARTITION
    if isinstance(field_type, DateType) and isinstance(value, int):
        return (date(1970, 1, 1) + timedelta(days=value)).isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def partition_filter(
    keys: list[tuple[str, IcebergType]], values: Iterable[tuple[str, ...]]
) -> BooleanExpression:
    """A pyiceberg filter admitting exactly the partitions ``values`` (Hive text, in key order)."""
    values = sorted(set(values))
    if not keys:
        return AlwaysTrue()
    alternatives: list[BooleanExpression] = []
    if len(keys) == 1:
        name = keys[0][0]
        texts = {v[0] for v in values if v[0] != HIVE_DEFAULT_PARTITION}
        if texts:
            alternatives.append(In(name, texts))
        if any(v[0] == HIVE_DEFAULT_PARTITION for v in values):
            alternatives.append(IsNull(name))
    else:
        for combination in values:
            parts = [
                IsNull(name) if text == HIVE_DEFAULT_PARTITION else In(name, {text})
                for (name, _), text in zip(keys, combination, strict=True)
            ]
            alternatives.append(And(*parts) if len(parts) > 1 else parts[0])
    if not alternatives:
        return AlwaysTrue() if not values else In(keys[0][0], set())
    return alternatives[0] if len(alternatives) == 1 else Or(*alternatives)


def file_partition(task_file: Any, keys: list[tuple[str, IcebergType]]) -> tuple[str, ...]:
    """The Hive-text partition values of a data file."""
    return tuple(partition_text(task_file.partition[i], t) for i, (_, t) in enumerate(keys))


def _tasks_matching(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    keys: list[tuple[str, IcebergType]],
    tasks: list[Any],
    predicate: exp.Expression,
    statement: Statement,
) -> list[Any]:
    """The scan tasks whose partition satisfies the query's partition predicate (DuckDB evaluates it)."""
    by_values: dict[tuple[str, ...], list[Any]] = {}
    for task in tasks:
        by_values.setdefault(file_partition(task.file, keys), []).append(task)
    types = dict((*table.columns, *table.partition_keys))
    view = Table(
        database=table.database,
        name=table.name,
        columns=(),
        partition_keys=tuple((name, types.get(name, "string")) for name, _ in keys),
        location=table.location,
        format=table.format,
        serde_parameters={},
        raw=table.raw,
    )
    partitions = [Partition(values, "") for values in sorted(by_values)]
    try:
        kept = evaluate_partition_predicate(con, view, partitions, predicate)
    except Exception as exc:  # noqa: BLE001 - reading every file is correct, only slower
        statement.notes.append(f"partition predicate not evaluated ({exc}); all files read")
        return tasks
    return [task for partition in kept for task in by_values[partition.values]]


def column_bytes(data_file: Any, schema: Schema) -> int:
    """Bytes of a data file's columns in ``schema`` (Athena bills the columns a query reads); the
    whole file when the manifest has no column sizes."""
    sizes = data_file.column_sizes or {}
    if not sizes:
        return int(data_file.file_size_in_bytes)
    return sum(int(sizes.get(field.field_id, 0)) for field in schema.fields)


def to_engine_types(data: pa.Table, table: Table) -> pa.Table:
    """Iceberg rows with the Glue-derived Arrow types (decimals exact, timestamps in milliseconds)."""
    arrays, names = [], []
    for name, glue_type in (*table.columns, *table.partition_keys):
        arrow_type = glue_type_to_arrow(glue_type)
        column = data.column(name) if name in data.column_names else pa.nulls(data.num_rows, arrow_type)
        arrays.append(column if column.type == arrow_type else column.cast(arrow_type))
        names.append(name)
    return to_milliseconds(pa.table(arrays, names=names))


def empty_rows(table: Table) -> pa.Table:
    """No rows, with the table's columns and types."""
    return pa.table(
        {name: pa.array([], glue_type_to_arrow(t)) for name, t in (*table.columns, *table.partition_keys)}
    )


def check_partition_count(statement: Statement, table: Table, count: int) -> None:
    """Athena's limit of partitions one statement writes, on Iceberg as on Hive tables."""
    if count > MAX_PARTITIONS_PER_WRITE:
        raise statement.fail(
            f"HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of {MAX_PARTITIONS_PER_WRITE} open writers for "
            f"partitions/buckets: the statement writes {count} partitions of {table.qualified}; "
            "split it by partition ranges"
        )


def _create_properties(create: exp.Create) -> dict[str, Any]:
    """LOCATION, PARTITIONED BY and TBLPROPERTIES of an Athena Iceberg CREATE TABLE, lower-cased keys."""
    found: dict[str, Any] = {}
    properties = create.args.get("properties")
    for prop in properties.expressions if properties else []:
        if isinstance(prop, exp.LocationProperty):
            found["location"] = prop.this.name
        elif isinstance(prop, exp.PartitionedByProperty):
            columns = prop.this.expressions if isinstance(prop.this, exp.Schema) else [prop.this]
            found["partitioned_by"] = [validate_column(c.name.lower()) for c in columns]
        elif isinstance(prop, exp.Property):
            found[prop.name.lower()] = prop.args["value"].name
    return found


def create_is_iceberg(create: exp.Create) -> bool:
    """True if a CREATE TABLE has TBLPROPERTIES ('table_type'='ICEBERG')."""
    return str(_create_properties(create).get("table_type", "")).upper() == ICEBERG
