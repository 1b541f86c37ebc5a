"""CTAS and INSERT INTO: Parquet written under the table location, partitions registered in Glue.

``CREATE TABLE ... WITH (format = 'PARQUET', external_location = 's3://...', partitioned_by =
ARRAY['dt'], write_compression = 'SNAPPY') AS SELECT`` writes Parquet in Hive folders and registers
the table and its partitions; it fails like Athena when the location already holds objects, when the
table exists, when partition columns are not the last columns, or when more than
``MAX_PARTITIONS_PER_WRITE`` partitions would be written. Without ``external_location`` it writes
under the workgroup's output location (``tables/<query id>/``). INSERT INTO a Parquet table appends
files to the partitions (registering new ones).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from sqlglot import exp

from infra.lake import (
    HIVE_DEFAULT_PARTITION,
    INPUT_FORMAT_PARQUET,
    MAX_PARTITIONS_PER_WRITE,
    OUTPUT_FORMAT_PARQUET,
    SERDE_PARQUET,
    arrow_to_glue_type,
    as_folder,
    batch_create_partitions,
    glue_type_to_arrow,
    parse_s3_uri,
    partition_folder,
    partition_input,
    validate_column,
    validate_s3_uri,
)
from local_aws.athena.catalog import GlueCatalog, Workgroup, resolve_table_ref
from local_aws.athena.statement import Outcome, Statement

# Parquet codecs by Athena's write_compression names.
PARQUET_COMPRESSION = {"SNAPPY": "snappy", "GZIP": "gzip", "ZSTD": "zstd", "LZ4": "lz4", "NONE": "none"}
# The CTAS WITH (...) properties the engine knows (bucketing is refused later, by name).
CTAS_PROPERTIES = {
    "format",
    "external_location",
    "partitioned_by",
    "write_compression",
    "parquet_compression",
    "table_type",
    "is_external",
    "bucketed_by",
    "bucket_count",
}

# Runs a query of the statement and returns its rows (``require_names``: every column must be named).
QueryRunner = Callable[[Statement, exp.Query, bool], pa.Table]


class TableWriter:
    """Writes query results as Parquet tables and partitions, and registers them in Glue."""

    def __init__(
        self,
        catalog: GlueCatalog,
        s3: Any,
        fs: pafs.S3FileSystem,
        workgroup: Workgroup,
        run_query: QueryRunner,
    ) -> None:
        self.catalog = catalog
        self.s3 = s3
        self.fs = fs
        self.workgroup = workgroup
        self._run_query = run_query

    def ctas(self, statement: Statement, create: exp.Create) -> Outcome:
        """CREATE TABLE ... WITH (...) AS SELECT: write the rows, register the table and partitions."""
        database, name = resolve_table_ref(statement, create.this)
        props = ctas_properties(statement, create)
        fmt = str(props.get("format", "PARQUET")).upper()
        if fmt != "PARQUET":
            raise statement.unsupported(
                f"CTAS format = '{fmt}'", "the local engine writes format = 'PARQUET'"
            )
        if str(props.get("table_type", "HIVE")).upper() != "HIVE":
            raise statement.unsupported(
                f"CTAS table_type = '{props['table_type']}'", "use Hive tables (the default)"
            )
        if "bucketed_by" in props or "bucket_count" in props:
            raise statement.unsupported("CTAS bucketing (bucketed_by / bucket_count)")
        compression_name = str(
            props.get("write_compression") or props.get("parquet_compression") or "SNAPPY"
        ).upper()
        if compression_name not in PARQUET_COMPRESSION:
            raise statement.unsupported(
                f"Parquet compression '{compression_name}'", f"use one of {sorted(PARQUET_COMPRESSION)}"
            )
        partitioned_by = props.get("partitioned_by", [])
        if not isinstance(partitioned_by, list):
            raise statement.fail("partitioned_by must be an ARRAY['column', ...]")
        partitioned_by = [validate_column(str(c).lower()) for c in partitioned_by]

        if self.catalog.table_definition(database, name) is not None:
            if create.args.get("exists"):
                return ["rows"], [(0,)], "DDL"
            raise statement.fail(f"Table '{database}.{name}' already exists (AlreadyExistsException)")
        location = props.get("external_location")
        if location is None:
            if not self.workgroup.output_location:
                raise statement.fail(
                    "CTAS without external_location writes under the workgroup's output location, and "
                    "none is "
                    "configured; add external_location = 's3://...' or configure the workgroup"
                )
            location = as_folder(self.workgroup.output_location) + f"tables/{statement.query_id}/"
        location = as_folder(validate_s3_uri(str(location)))
        bucket, prefix = parse_s3_uri(location)
        if self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0):
            raise statement.fail(
                f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{database}.{name}' already exists: "
                f"{location}. Athena's CTAS needs an empty location: delete the objects "
                "(DROP TABLE keeps them) "
                "or choose another location"
            )

        data = self._run_query(statement, create.expression, True)
        names = [n.lower() for n in data.column_names]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise statement.fail(f"Column name '{duplicates[0]}' specified more than once")
        for column in names:
            validate_column(column)
        data = data.rename_columns(names)
        if partitioned_by:
            if names[-len(partitioned_by) :] != partitioned_by:
                raise statement.fail(
                    f"HIVE_COLUMN_ORDER_MISMATCH: partition columns {partitioned_by} must be the last "
                    "columns of "
                    f"the SELECT, in the same order as partitioned_by; the SELECT has {names}"
                )
            if len(partitioned_by) == len(names):
                raise statement.fail("a CTAS table needs at least one column that is not a partition column")
        data = normalise_for_write(data)
        data_columns = names[: len(names) - len(partitioned_by)]
        columns = [
            {"Name": c, "Type": arrow_to_glue_type(data.schema.field(c).type, c)} for c in data_columns
        ]
        keys = [{"Name": c, "Type": arrow_to_glue_type(data.schema.field(c).type, c)} for c in partitioned_by]
        written = self._write_parquet(
            statement,
            data,
            data_columns,
            partitioned_by,
            PARQUET_COMPRESSION[compression_name],
            lambda values: None,
            location,
        )
        table_input = parquet_table_input(name, location, columns, keys, compression_name)
        self.catalog.glue.create_table(DatabaseName=database, TableInput=table_input)
        if keys:
            inputs = [partition_input(table_input, values, loc) for values, loc in written]
            errors = batch_create_partitions(self.catalog.glue, database, name, inputs)
            if errors:
                raise statement.fail(
                    f"registering partitions of {database}.{name} failed: {'; '.join(errors[:3])}"
                )
        return ["rows"], [(data.num_rows,)], "DDL"

    def insert(self, statement: Statement, insert: exp.Insert) -> Outcome:
        """INSERT INTO a Parquet table: append files to its partitions, registering new ones."""
        if insert.args.get("overwrite"):
            raise statement.unsupported(
                "INSERT OVERWRITE", "Athena has no INSERT OVERWRITE for Hive tables either"
            )
        target = insert.this
        column_list: list[str] | None = None
        if isinstance(target, exp.Schema):
            column_list = [validate_column(c.name.lower()) for c in target.expressions]
            target = target.this
        if not isinstance(target, exp.Table):
            raise statement.unsupported(f"INSERT INTO {target.sql('trino')}")
        database, name = resolve_table_ref(statement, target)
        table = self.catalog.table(statement, database, name)
        if table.format != "parquet":
            raise statement.unsupported(
                f"INSERT INTO the {table.format} table {table.qualified}",
                "the local engine inserts into Parquet tables (made by CTAS)",
            )
        query = insert.expression
        if not isinstance(query, exp.Query):
            query = exp.select("*").from_(
                exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier("v")))
            )
        data = self._run_query(statement, query, False)
        all_columns = [*table.columns, *table.partition_keys]
        target_names = [c for c, _ in all_columns]
        if column_list is not None:
            unknown = [c for c in column_list if c not in target_names]
            if unknown:
                raise statement.fail(
                    f"Insert column name does not exist in target table {table.qualified}: {unknown[0]}"
                )
            sources = column_list
        else:
            sources = target_names
        if data.num_columns != len(sources):
            raise statement.fail(
                f"Insert query has {data.num_columns} column(s) but {table.qualified} expects {len(sources)} "
                f"({', '.join(sources)})"
            )
        by_name = dict(zip(sources, data.columns, strict=True))
        arrays = []
        for column, glue_type in all_columns:
            arrow_type = glue_type_to_arrow(glue_type)
            source = by_name.get(column)
            if source is None:
                arrays.append(pa.nulls(data.num_rows, arrow_type))
                continue
            try:
                arrays.append(source.cast(arrow_type) if source.type != arrow_type else source)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise statement.fail(
                    f"Insert query has mismatched column types: {column} is {source.type} in the query and "
                    f"{glue_type} in {table.qualified} ({exc})"
                ) from exc
        rows = pa.table(arrays, names=target_names)
        existing = (
            {p.values: p.location for p in self.catalog.partitions(table)} if table.partition_keys else {}
        )
        written = self._write_parquet(
            statement,
            rows,
            [c for c, _ in table.columns],
            table.key_names,
            PARQUET_COMPRESSION.get(
                str(table.raw.get("Parameters", {}).get("parquet.compression", "SNAPPY")).upper(), "snappy"
            ),
            existing.get,
            as_folder(table.location),
        )
        new = [(values, loc) for values, loc in written if values not in existing]
        if new:
            inputs = [partition_input(table.raw, values, loc) for values, loc in new]
            errors = batch_create_partitions(self.catalog.glue, database, name, inputs)
            if errors:
                raise statement.fail(
                    f"registering partitions of {table.qualified} failed: {'; '.join(errors[:3])}"
                )
        return ["rows"], [(rows.num_rows,)], "DML"

    def _write_parquet(
        self,
        statement: Statement,
        data: pa.Table,
        data_columns: Sequence[str],
        partition_columns: Sequence[str],
        compression: str,
        location_of: Callable[[tuple[str, ...]], str | None],
        base_location: str,
    ) -> list[tuple[tuple[str, ...], str]]:
        """Write rows as Parquet (one object per partition); returns (partition values, location)."""
        if not partition_columns:
            if data.num_rows:
                bucket, prefix = parse_s3_uri(base_location)
                self._put_parquet(
                    data.select(list(data_columns)),
                    bucket,
                    as_folder(prefix) + f"{statement.query_id}_00000.parquet",
                    compression,
                )
            return []
        groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
        texts = [[partition_text(v) for v in data.column(c).to_pylist()] for c in partition_columns]
        for row, values in enumerate(zip(*texts, strict=True)):
            groups[tuple(values)].append(row)
        if len(groups) > MAX_PARTITIONS_PER_WRITE:
            raise statement.fail(
                f"HIVE_TOO_MANY_OPEN_PARTITIONS: the statement would write {len(groups)} partitions; "
                "Athena writes "
                f"at most {MAX_PARTITIONS_PER_WRITE} per CTAS or INSERT INTO - split it by partition ranges"
            )
        written = []
        body = data.select(list(data_columns))
        for number, (values, rows) in enumerate(sorted(groups.items())):
            location = location_of(values) or as_folder(base_location) + partition_folder(
                partition_columns, values
            )
            bucket, prefix = parse_s3_uri(location)
            part = body.take(pa.array(rows, pa.int64()))
            self._put_parquet(
                part, bucket, as_folder(prefix) + f"{statement.query_id}_{number:05d}.parquet", compression
            )
            written.append((values, as_folder(location)))
        return written

    def _put_parquet(self, data: pa.Table, bucket: str, key: str, compression: str) -> None:
        pq.write_table(data, f"{bucket}/{key}", filesystem=self.fs, compression=compression)


def normalise_for_write(data: pa.Table) -> pa.Table:
    """Types Hive/Glue can declare: plain strings, NULL-typed columns as strings."""
    fields = []
    for column_field in data.schema:
        arrow_type = column_field.type
        if (
            pa.types.is_large_string(arrow_type)
            or arrow_to_glue_type(arrow_type, column_field.name) == "string"
        ):
            arrow_type = pa.string()
        fields.append(pa.field(column_field.name, arrow_type))
    return data.cast(pa.schema(fields)) if pa.schema(fields) != data.schema else data


def partition_text(value: Any) -> str:
    """A partition value as Hive writes it into a folder name."""
    if value is None:
        return HIVE_DEFAULT_PARTITION
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def ctas_properties(statement: Statement, create: exp.Create) -> dict[str, Any]:
    """CTAS ``WITH (...)`` properties as Python values; unknown properties are refused."""
    properties: dict[str, Any] = {}
    for prop in (create.args.get("properties") or exp.Properties(expressions=[])).expressions:
        if isinstance(prop, exp.FileFormatProperty):
            name, value = "format", prop.this
        elif isinstance(prop, exp.PartitionedByProperty):
            name, value = "partitioned_by", prop.this
        elif isinstance(prop, exp.Property):
            name, value = prop.name.lower(), prop.args.get("value")
        elif isinstance(prop, exp.LocationProperty):
            name, value = "location", prop.this
        else:
            raise statement.unsupported(f"CTAS property {prop.sql('athena')}")
        if name not in CTAS_PROPERTIES:
            raise statement.unsupported(
                f"CTAS property {name!r}",
                f"supported: {', '.join(sorted(CTAS_PROPERTIES - {'bucketed_by', 'bucket_count'}))}",
            )
        properties[name] = property_value(statement, name, value)
    return properties


def property_value(statement: Statement, name: str, value: exp.Expression | None) -> Any:
    """A CTAS property's value as a Python value (str, int, bool or list)."""
    if isinstance(value, exp.Array) or isinstance(value, exp.Tuple) or isinstance(value, exp.Schema):
        return [property_value(statement, name, item) for item in value.expressions]
    if isinstance(value, exp.Literal):
        return value.this if value.is_string else int(value.this)
    if isinstance(value, (exp.Var, exp.Identifier, exp.Column)):
        return value.name
    if isinstance(value, exp.Boolean):
        return bool(value.this)
    raise statement.fail(
        f"CTAS property {name} has a value the local engine cannot read: "
        f"{value.sql('athena') if value else None}"
    )


def parquet_table_input(
    name: str, location: str, columns: list[dict[str, str]], keys: list[dict[str, str]], compression: str
) -> dict[str, Any]:
    """A TableInput like the one Athena's CTAS registers for a Parquet table."""
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "classification": "parquet",
            "has_encrypted_data": "false",
            "parquet.compression": compression,
        },
        "StorageDescriptor": {
            "Columns": columns,
            "Location": location,
            "InputFormat": INPUT_FORMAT_PARQUET,
            "OutputFormat": OUTPUT_FORMAT_PARQUET,
            "Compressed": False,
            "NumberOfBuckets": -1,
            "SerdeInfo": {"SerializationLibrary": SERDE_PARQUET, "Parameters": {"serialization.format": "1"}},
            "StoredAsSubDirectories": False,
        },
        "PartitionKeys": keys,
    }
