"""What the engine reads from the catalogs: Glue tables and their registered partitions, and the
Athena workgroup's settings (output location, scan cutoff)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from botocore.exceptions import ClientError
from sqlglot import exp

from infra.lake import (
    CatalogError,
    as_folder,
    get_partitions,
    glue_type_to_arrow,
    partition_folder,
    table_format,
    validate_column,
    validate_database,
    validate_table,
)
from local_aws.athena.statement import Statement


@dataclass(frozen=True)
class Table:
    """A Glue table as the engine reads it."""

    database: str
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, Glue type)
    partition_keys: tuple[tuple[str, str], ...]
    location: str
    format: str  # json | parquet | iceberg
    serde_parameters: Mapping[str, str]
    raw: Mapping[str, Any]

    @property
    def qualified(self) -> str:
        """``database.table``."""
        return f"{self.database}.{self.name}"

    @property
    def is_iceberg(self) -> bool:
        """True for an Iceberg table (read and written through pyiceberg, see :mod:`.iceberg`)."""
        return self.format == "iceberg"

    @property
    def key_names(self) -> list[str]:
        """Names of the partition keys, in order."""
        return [name for name, _ in self.partition_keys]

    def arrow_fields(self) -> list[tuple[str, str, pa.DataType]]:
        """(name, Glue type, Arrow type) of each data column."""
        return [(name, glue_type, glue_type_to_arrow(glue_type)) for name, glue_type in self.columns]


@dataclass(frozen=True)
class Partition:
    """A registered partition: its values (in key order) and its own location."""

    values: tuple[str, ...]
    location: str


class GlueCatalog:
    """Tables and partitions of the Glue catalog, validated as they are read."""

    def __init__(self, glue: Any) -> None:
        self.glue = glue

    def table(self, statement: Statement, database: str, name: str) -> Table:
        """The table ``database.name`` (resolved once per statement); fails like Athena if absent."""
        key = (database, name)
        if key in statement.tables:
            return statement.tables[key]
        raw = self.table_definition(database, name)
        if raw is None:
            raise statement.fail(f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{database}.{name}' does not exist")
        table = table_from_glue(raw, database, name)
        statement.tables[key] = table
        return table

    def table_definition(self, database: str, name: str) -> dict[str, Any] | None:
        """Glue's ``Table`` of ``database.name``, or None if there is none."""
        try:
            return self.glue.get_table(DatabaseName=database, Name=name)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                return None
            raise

    def partitions(self, table: Table, expression: str | None = None) -> list[Partition]:
        """The registered partitions of ``table`` (those matching a Glue ``expression``), sorted."""
        partitions = []
        for item in get_partitions(self.glue, table.database, table.name, expression):
            values = tuple(item["Values"])
            location = (item.get("StorageDescriptor") or {}).get("Location") or (
                as_folder(table.location) + partition_folder(table.key_names, values)
            )
            partitions.append(Partition(values, location))
        return sorted(partitions, key=lambda p: p.values)


def table_from_glue(raw: Mapping[str, Any], database: str, name: str) -> Table:
    """A :class:`Table` from Glue's table definition; column names are validated."""
    sd = raw.get("StorageDescriptor") or {}
    iceberg = str((raw.get("Parameters") or {}).get("table_type", "")).upper() == "ICEBERG"
    columns = tuple(
        (validate_column(c["Name"].lower()), c["Type"])
        for c in sd.get("Columns") or []
        # pyiceberg also lists the columns of earlier schemas, flagged as not current.
        if not (iceberg and (c.get("Parameters") or {}).get("iceberg.field.current") == "false")
    )
    keys = tuple(
        (validate_column(k["Name"].lower()), k.get("Type", "string")) for k in raw.get("PartitionKeys") or []
    )
    location = sd.get("Location") or ""
    if not location:
        raise CatalogError(f"table {database}.{name} has no Location in the Glue catalog")
    return Table(
        database=database,
        name=name,
        columns=columns,
        partition_keys=keys,
        location=location,
        format="iceberg" if iceberg else table_format({**raw, "DatabaseName": database, "Name": name}),
        serde_parameters=dict((sd.get("SerdeInfo") or {}).get("Parameters") or {}),
        raw=raw,
    )


def resolve_table_ref(statement: Statement, table: exp.Table) -> tuple[str, str]:
    """Validated (database, table) of a table reference, lower-cased like Athena."""
    catalog = table.catalog
    if catalog and catalog.lower() != "awsdatacatalog":
        raise statement.unsupported(
            f"catalog {catalog!r}", "only the Glue catalog (awsdatacatalog) is available"
        )
    database = validate_database((table.db or statement.database).lower())
    name = validate_table(table.name.lower())
    return database, name


class Workgroup:
    """The Athena workgroup's output location and scan cutoff, read once on first use."""

    def __init__(self, athena: Any, name: str | None, output_location: str | None) -> None:
        self.athena = athena
        self.name = name
        self._output_location = output_location
        self._bytes_cutoff: int | None = None
        self._loaded = False

    @property
    def output_location(self) -> str | None:
        """Where CTAS without ``external_location`` writes (the override, else the workgroup's)."""
        self._load()
        return self._output_location

    @property
    def bytes_cutoff(self) -> int | None:
        """``BytesScannedCutoffPerQuery`` of the workgroup, if it has one."""
        self._load()
        return self._bytes_cutoff

    def _load(self) -> None:
        if self._loaded or not self.name:
            return
        self._loaded = True
        try:
            config = self.athena.get_work_group(WorkGroup=self.name)["WorkGroup"].get("Configuration") or {}
        except ClientError:
            return
        if self._output_location is None:
            self._output_location = (config.get("ResultConfiguration") or {}).get("OutputLocation")
        cutoff = config.get("BytesScannedCutoffPerQuery")
        self._bytes_cutoff = int(cutoff) if cutoff else None
