"""The Glue TableInputs a crawler writes: a new JSON table, or an existing table with new columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infra.lake import INPUT_FORMAT_TEXT, OUTPUT_FORMAT_TEXT, SERDE_OPENX_JSON


def json_table_input(
    name: str,
    location: str,
    columns: list[dict[str, str]],
    partition_keys: list[dict[str, str]],
    compression: str,
    crawler_name: str,
    objects: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A TableInput like the one a Glue crawler writes for a JSON table."""
    total_size = sum(int(obj.get("Size") or 0) for obj in objects)
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "json",
            "compressionType": compression,
            "typeOfData": "file",
            "CrawlerSchemaSerializerVersion": "1.0",
            "CrawlerSchemaDeserializerVersion": "1.0",
            "UPDATED_BY_CRAWLER": crawler_name,
            "objectCount": str(len(objects)),
            "sizeKey": str(total_size),
            "EXTERNAL": "TRUE",
        },
        "StorageDescriptor": {
            "Columns": columns,
            "Location": location,
            "InputFormat": INPUT_FORMAT_TEXT,
            "OutputFormat": OUTPUT_FORMAT_TEXT,
            "Compressed": compression != "none",
            "NumberOfBuckets": -1,
            "SerdeInfo": {
                "SerializationLibrary": SERDE_OPENX_JSON,
                "Parameters": {"paths": ",".join(c["Name"] for c in columns)},
            },
            "BucketColumns": [],
            "SortColumns": [],
            "Parameters": {
                "classification": "json",
                "compressionType": compression,
                "typeOfData": "file",
            },
            "StoredAsSubDirectories": False,
        },
        "PartitionKeys": partition_keys,
    }


def table_input_with_columns(
    table: Mapping[str, Any], columns: list[dict[str, str]], crawler_name: str
) -> dict[str, Any]:
    """The TableInput of an existing table with ``columns`` (a JSON SerDe's ``paths`` follow them)."""
    sd = dict(table.get("StorageDescriptor") or {})
    sd["Columns"] = columns
    serde = dict(sd.get("SerdeInfo") or {})
    if "json" in (serde.get("SerializationLibrary") or "").lower():
        serde["Parameters"] = {
            **(serde.get("Parameters") or {}),
            "paths": ",".join(c["Name"] for c in columns),
        }
        sd["SerdeInfo"] = serde
    parameters = {**(table.get("Parameters") or {}), "UPDATED_BY_CRAWLER": crawler_name}
    table_input = {
        "Name": table["Name"],
        "TableType": table.get("TableType", "EXTERNAL_TABLE"),
        "Parameters": parameters,
        "StorageDescriptor": sd,
        "PartitionKeys": table.get("PartitionKeys") or [],
    }
    if table.get("Description"):
        table_input["Description"] = table["Description"]
    return table_input
