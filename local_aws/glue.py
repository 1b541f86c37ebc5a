"""The local Glue crawler, and the Glue catalog conventions shared with the local Athena engine.

moto stores Glue catalog objects (databases, tables, partitions, crawlers) but runs no crawl. The
:class:`LocalCrawler` does what a Glue crawler does with the deployed crawler's definition
(``glue.get_crawler``):

- lists its S3 target path(s), honouring exclusions and Hive ``key=value`` folders (other folder
  levels become ``partition_0``, ``partition_1``... like Glue);
- samples a few objects per partition (the crawler's ``SampleSize``; new partitions first) and
  reads the head of each one (gzip or plain newline-delimited JSON);
- infers a Glue schema: the declared CDC columns (``lambda_transform.schema``) keep their declared
  types - those are the crawler's expectations - and fields beyond them get inferred types (int ->
  bigint, number -> double, text -> string, objects -> struct, lists -> array);
- creates the table (named after the last folder of the target path, with the crawler's table
  prefix) as a JSON table (OpenX JSON SerDe, TextInputFormat) with the partition keys as strings;
- updates an existing table only under ``UpdateBehavior: UPDATE_IN_DATABASE``: with
  ``Tables.AddOrUpdateBehavior: MergeNewColumns`` new columns are appended and existing ones kept,
  otherwise the columns are replaced by the inferred ones. Under ``LOG`` the table is left as it
  is and the change is only reported;
- adds the partitions found in S3 and missing from the catalog (also under ``LOG``, as Glue does:
  partitions are not a schema change), each inheriting the table's storage descriptor
  (``Partitions.AddOrUpdateBehavior: InheritFromTable``);
- for partitions in the catalog whose folder no longer holds objects: ``DeleteBehavior:
  DELETE_FROM_DATABASE`` deletes them, ``LOG`` (and ``DEPRECATE_IN_DATABASE``) only reports them.

The crawl is also recorded in the emulator (``start_crawler`` then moto's ``list_crawls``, which
completes it), so ``get_crawler`` shows ``LastCrawl`` like on AWS. moto cannot record a failed crawl:
a failure is raised as :class:`CrawlError` and the emulator's crawl is stopped.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from infra.clients import boto3_clients
from infra.lake import (
    INPUT_FORMAT_TEXT,
    NAME_PATTERN,
    OUTPUT_FORMAT_TEXT,
    SERDE_OPENX_JSON,
    as_folder,
    batch_create_partitions,
    batch_delete_partitions,
    get_partitions,
    hive_unescape,
    is_hidden_key,
    list_objects,
    parse_s3_uri,
    partition_input,
    s3_uri,
)
from lambda_transform.schema import COLUMN_TYPES as DECLARED_CDC_TYPES


# ----------------------------------------------------------------------------- the crawler
class CrawlError(RuntimeError):
    """A local crawl failed; the message says what was wrong and what to do."""


@dataclass
class CrawlResult:
    """What a local crawl did, in the terms of Glue's crawl metrics and logs."""

    crawler_name: str
    database: str
    status: str = "SUCCEEDED"  # Glue LastCrawl status: SUCCEEDED | FAILED | CANCELLED
    tables_created: list[str] = field(default_factory=list)
    tables_updated: list[str] = field(default_factory=list)
    partitions_added: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    partitions_deleted: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    columns_added: dict[str, list[str]] = field(default_factory=dict)
    # Schema changes seen but not applied (UpdateBehavior LOG), and partitions missing in S3
    # (DeleteBehavior LOG).
    changes_logged: list[str] = field(default_factory=list)
    objects_listed: int = 0
    objects_sampled: int = 0
    warnings: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0
    crawl_id: str | None = None

    @property
    def partitions_added_count(self) -> int:
        """Partitions added over all tables."""
        return sum(len(values) for values in self.partitions_added.values())

    def summary(self) -> str:
        """One line like a Glue crawler's log summary."""
        return (
            f"crawler {self.crawler_name}: {self.status}; tables created {len(self.tables_created)}, "
            f"updated {len(self.tables_updated)}; partitions added {self.partitions_added_count}; "
            f"columns added {sum(len(c) for c in self.columns_added.values())}; "
            f"objects listed {self.objects_listed}, sampled {self.objects_sampled}"
        )


@dataclass
class _Folder:
    """One partition folder found in S3: its values and objects."""

    values: tuple[str, ...]
    prefix: str
    objects: list[dict[str, Any]] = field(default_factory=list)


# Bytes of each sampled object the crawler reads (Glue reads the head of a file to classify it).
SAMPLE_HEAD_BYTES = 1 << 20
# Objects sampled per partition when the crawler has no SampleSize (Glue would read every file).
DEFAULT_SAMPLE_SIZE = 3
# Upper bound of objects read per crawl, so a crawl over months of partitions stays quick. New
# partitions are sampled first (one object each, newest first), then the newest known ones: new fields
# arrive with new data. Every partition found is registered whether sampled or not.
MAX_SAMPLED_OBJECTS = 120


class LocalCrawler:
    """Runs the deployed Glue crawler's definition against the emulator's S3 and Glue catalog."""

    def __init__(
        self,
        glue: Any,
        s3: Any,
        *,
        declared_types: Mapping[str, str] | None = None,
        max_workers: int = 8,
    ) -> None:
        """``glue`` and ``s3`` are boto3 clients; ``declared_types`` are the column types the crawler
        expects (default: the CDC row schema), applied to fields of those names."""
        self.glue = glue
        self.s3 = s3
        self.declared_types = dict(DECLARED_CDC_TYPES if declared_types is None else declared_types)
        self.max_workers = max_workers
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls,
        endpoint_url: str | None,
        region: str,
        credentials: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> LocalCrawler:
        """A crawler with its own boto3 clients for the emulator at ``endpoint_url``."""
        clients = boto3_clients(endpoint_url, region, credentials)
        return cls(clients["glue"], clients["s3"], **kwargs)

    # ------------------------------------------------------------------ public API
    def crawl(self, crawler_name: str) -> CrawlResult:
        """Run one crawl of ``crawler_name``; raises CrawlError when it fails."""
        started = time.perf_counter()
        with self._lock:  # one crawl at a time per crawler object, like a Glue crawler
            crawler = self._get_crawler(crawler_name)
            self._begin_crawl(crawler_name)
            try:
                result = self._crawl(crawler)
            except Exception as exc:
                self._abort_crawl(crawler_name)
                if isinstance(exc, CrawlError):
                    raise
                raise CrawlError(f"crawler {crawler_name} failed: {type(exc).__name__}: {exc}") from exc
            result.crawl_id = self._finish_crawl(crawler_name)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    # ------------------------------------------------------------------ emulator bookkeeping
    def _get_crawler(self, name: str) -> dict[str, Any]:
        try:
            return self.glue.get_crawler(Name=name)["Crawler"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "EntityNotFoundException":
                raise CrawlError(
                    f"crawler {name!r} does not exist in the Glue catalog; provision the stack first "
                    "(`sales-cdc local up`) or check the CrawlerName stack output"
                ) from exc
            raise

    def _begin_crawl(self, name: str) -> None:
        """Mark the crawl RUNNING in the emulator (so get_crawler shows it like on AWS)."""
        try:
            self.glue.start_crawler(Name=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "CrawlerRunningException":
                return  # bookkeeping only; the crawl itself does not need it
            # A crawl recorded by a process that stopped half-way stays RUNNING in moto until its crawls
            # are listed; listing settles it, then this crawl starts.
            self._finish_crawl(name)
            try:
                self.glue.start_crawler(Name=name)
            except ClientError:
                return

    def _finish_crawl(self, name: str) -> str | None:
        try:
            crawls = self.glue.list_crawls(CrawlerName=name).get("Crawls", [])
        except ClientError:
            return None
        return crawls[-1].get("CrawlId") if crawls else None

    def _abort_crawl(self, name: str) -> None:
        try:
            self.glue.stop_crawler(Name=name)
            self.glue.list_crawls(CrawlerName=name)
        except ClientError:
            pass

    # ------------------------------------------------------------------ the crawl
    def _crawl(self, crawler: Mapping[str, Any]) -> CrawlResult:
        name = crawler["Name"]
        database = crawler.get("DatabaseName")
        if not database:
            raise CrawlError(f"crawler {name} has no DatabaseName; set one in the template")
        try:
            self.glue.get_database(Name=database)
        except ClientError as exc:
            raise CrawlError(
                f"crawler {name} writes to database {database!r}, which does not exist; "
                "provision the stack first"
            ) from exc
        config = _crawler_configuration(crawler)
        policy = crawler.get("SchemaChangePolicy") or {}
        update_behavior = policy.get("UpdateBehavior", "UPDATE_IN_DATABASE")
        delete_behavior = policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE")
        recrawl = (crawler.get("RecrawlPolicy") or {}).get("RecrawlBehavior", "CRAWL_EVERYTHING")
        merge_columns = (config.get("CrawlerOutput") or {}).get("Tables", {}).get(
            "AddOrUpdateBehavior"
        ) == "MergeNewColumns"
        result = CrawlResult(crawler_name=name, database=database)
        targets = (crawler.get("Targets") or {}).get("S3Targets") or []
        if not targets:
            raise CrawlError(f"crawler {name} has no S3 targets; the local crawler crawls S3 targets only")
        for target in targets:
            self._crawl_target(
                crawler,
                target,
                database,
                result,
                update_behavior=update_behavior,
                delete_behavior=delete_behavior,
                merge_columns=merge_columns,
                new_folders_only=recrawl == "CRAWL_NEW_FOLDERS_ONLY",
            )
        return result

    def _crawl_target(
        self,
        crawler: Mapping[str, Any],
        target: Mapping[str, Any],
        database: str,
        result: CrawlResult,
        *,
        update_behavior: str,
        delete_behavior: str,
        merge_columns: bool,
        new_folders_only: bool,
    ) -> None:
        path = target["Path"]
        bucket, prefix = parse_s3_uri(path)
        prefix = as_folder(prefix)
        table_name = (crawler.get("TablePrefix") or "") + _table_name_from_path(prefix or bucket)
        if not NAME_PATTERN.fullmatch(table_name):
            raise CrawlError(
                f"the table name {table_name!r} derived from target {path} is not a valid Glue table name"
            )
        exclusions = list(target.get("Exclusions") or [])
        sample_size = int(target.get("SampleSize") or DEFAULT_SAMPLE_SIZE)

        objects = [
            obj
            for obj in list_objects(self.s3, bucket, prefix)
            if not is_hidden_key(obj["Key"][len(prefix) :])
            and not any(fnmatch.fnmatch(obj["Key"][len(prefix) :], pattern) for pattern in exclusions)
        ]
        result.objects_listed += len(objects)
        if not objects:
            result.warnings.append(f"{path}: no objects found; nothing to catalog")
            return
        keys, folders, unpartitioned = _partition_folders(objects, prefix)
        if unpartitioned:
            result.warnings.append(
                f"{path}: {len(unpartitioned)} object(s) outside the partition folders {'/'.join(keys)} "
                f"were ignored (e.g. {unpartitioned[0]})"
            )

        existing = self._get_table(database, table_name)
        existing_partitions: set[tuple[str, ...]] = set()
        if existing is not None:
            existing_partitions = {
                tuple(p["Values"]) for p in get_partitions(self.glue, database, table_name)
            }
            existing_keys = [k["Name"] for k in existing.get("PartitionKeys") or []]
            if existing_keys and keys and existing_keys != keys:
                raise CrawlError(
                    f"table {database}.{table_name} is partitioned by {existing_keys} but the folders under "
                    f"{path} are partitioned by {keys}; fix the layout or drop the table"
                )
        new_folders = [f for f in folders if f.values not in existing_partitions]
        to_sample = new_folders if (new_folders_only and existing is not None) else folders
        sampled = self._sample(bucket, to_sample, new_folders, sample_size, result)

        inferred, compression = _infer_schema(sampled, self.declared_types)
        columns = [{"Name": name, "Type": glue_type} for name, glue_type in inferred.items()]
        partition_keys = [{"Name": key, "Type": "string"} for key in keys]

        if existing is None:
            table_input = _json_table_input(
                table_name, path, columns, partition_keys, compression, crawler["Name"], objects
            )
            self.glue.create_table(DatabaseName=database, TableInput=table_input)
            result.tables_created.append(table_name)
            result.columns_added[table_name] = [c["Name"] for c in columns]
            table = {**table_input, "DatabaseName": database}
        else:
            table = existing
            current = [
                {"Name": c["Name"], "Type": c["Type"]}
                for c in (existing.get("StorageDescriptor") or {}).get("Columns") or []
            ]
            current_names = {c["Name"] for c in current}
            new_columns = [c for c in columns if c["Name"] not in current_names]
            if merge_columns:
                wanted = current + new_columns
            else:
                wanted = columns
            if wanted != current:
                changes = _describe_changes(current, wanted)
                if update_behavior == "UPDATE_IN_DATABASE":
                    table = self._update_table_columns(existing, wanted, crawler["Name"])
                    result.tables_updated.append(table_name)
                    added = [c["Name"] for c in wanted if c["Name"] not in current_names]
                    if added:
                        result.columns_added[table_name] = added
                else:
                    result.changes_logged.append(
                        f"table {database}.{table_name}: schema change not applied "
                        f"(UpdateBehavior {update_behavior}): {changes}"
                    )

        if new_folders:
            inputs = [partition_input(table, f.values, s3_uri(bucket, f.prefix)) for f in new_folders]
            errors = batch_create_partitions(self.glue, database, table_name, inputs)
            if errors:
                raise CrawlError(
                    f"adding partitions to {database}.{table_name} failed: {'; '.join(errors[:5])}"
                )
            result.partitions_added[table_name] = [f.values for f in new_folders]

        found = {f.values for f in folders}
        gone = sorted(values for values in existing_partitions if values not in found)
        if gone:
            if delete_behavior == "DELETE_FROM_DATABASE":
                errors = batch_delete_partitions(self.glue, database, table_name, gone)
                if errors:
                    raise CrawlError(
                        f"deleting partitions of {database}.{table_name} failed: {'; '.join(errors[:5])}"
                    )
                result.partitions_deleted[table_name] = gone
            else:
                result.changes_logged.append(
                    f"table {database}.{table_name}: {len(gone)} partition(s) have no objects in S3 "
                    "and were kept "
                    f"(DeleteBehavior {delete_behavior}), e.g. {'/'.join(gone[0])}"
                )

    def _get_table(self, database: str, table: str) -> dict[str, Any] | None:
        try:
            return self.glue.get_table(DatabaseName=database, Name=table)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                return None
            raise

    def _update_table_columns(
        self, table: Mapping[str, Any], columns: list[dict[str, str]], crawler_name: str
    ) -> dict[str, Any]:
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
        self.glue.update_table(DatabaseName=table["DatabaseName"], TableInput=table_input)
        return {**table_input, "DatabaseName": table["DatabaseName"]}

    def _sample(
        self,
        bucket: str,
        folders: Sequence[_Folder],
        new_folders: Sequence[_Folder],
        sample_size: int,
        result: CrawlResult,
    ) -> list[tuple[str, bytes]]:
        """Read the head of up to ``sample_size`` objects per folder, new folders first, newest first."""
        new_ids = {id(f) for f in new_folders}
        newest_first = sorted(folders, key=lambda f: f.values, reverse=True)
        ordered = [f for f in newest_first if id(f) in new_ids] + [
            f for f in newest_first if id(f) not in new_ids
        ]
        picks: list[str] = []
        for round_index in range(sample_size):
            for folder in ordered:
                if len(picks) >= MAX_SAMPLED_OBJECTS:
                    break
                if round_index < len(folder.objects):
                    newest = sorted(folder.objects, key=lambda o: o.get("LastModified") or 0, reverse=True)
                    picks.append(newest[round_index]["Key"])
        if len(picks) >= MAX_SAMPLED_OBJECTS:
            result.warnings.append(
                f"schema inferred from {MAX_SAMPLED_OBJECTS} sampled objects "
                "(new partitions first, newest first)"
            )

        def read_head(key: str) -> tuple[str, bytes]:
            body = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{SAMPLE_HEAD_BYTES - 1}")[
                "Body"
            ]
            return key, body.read()

        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            sampled = list(pool.map(read_head, picks))
        result.objects_sampled += len(sampled)
        return sampled


def _crawler_configuration(crawler: Mapping[str, Any]) -> dict[str, Any]:
    text = crawler.get("Configuration") or "{}"
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CrawlError(f"crawler {crawler.get('Name')} has an invalid Configuration JSON: {exc}") from exc
    return config if isinstance(config, dict) else {}


def _table_name_from_path(prefix: str) -> str:
    """Glue names a table after the last folder of its path, lower-cased, other characters as ``_``."""
    last = prefix.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^a-z0-9_]", "_", last.lower())


def _partition_folders(
    objects: Sequence[Mapping[str, Any]], prefix: str
) -> tuple[list[str], list[_Folder], list[str]]:
    """Partition keys and folders from object keys (Hive ``k=v`` levels, others ``partition_N``).

    The most common folder depth wins, as a crawler builds one table per compatible layout; objects
    at other depths are returned separately (reported, not catalogued).
    """
    by_depth: dict[int, list[Mapping[str, Any]]] = {}
    for obj in objects:
        depth = obj["Key"][len(prefix) :].count("/")
        by_depth.setdefault(depth, []).append(obj)
    depth = max(by_depth, key=lambda d: (len(by_depth[d]), d))
    others = [obj["Key"] for d, objs in by_depth.items() if d != depth for obj in objs]
    keys: list[str] | None = None
    folders: dict[tuple[str, ...], _Folder] = {}
    for obj in by_depth[depth]:
        parts = obj["Key"][len(prefix) :].split("/")[:-1]
        level_keys, values = [], []
        for index, part in enumerate(parts):
            if "=" in part:
                key, value = part.split("=", 1)
                level_keys.append(key.lower())
                values.append(hive_unescape(value))
            else:
                level_keys.append(f"partition_{index}")
                values.append(part)
        if keys is None:
            keys = level_keys
        elif level_keys != keys:
            others.append(obj["Key"])
            continue
        folder_prefix = prefix + "".join(p + "/" for p in parts)
        folders.setdefault(tuple(values), _Folder(tuple(values), folder_prefix)).objects.append(obj)
    for key in keys or []:
        if not NAME_PATTERN.fullmatch(key):
            raise CrawlError(f"partition key {key!r} under s3 prefix {prefix} is not a valid column name")
    return keys or [], sorted(folders.values(), key=lambda f: f.values), others


def _read_lines(data: bytes, complete_only: bool) -> list[bytes]:
    """Lines of a (possibly truncated) plain or gzip object; a cut-off last line is dropped."""
    truncated = complete_only
    if data[:2] == b"\x1f\x8b":
        # A ranged read cuts the gzip stream; decompress what arrived and drop the cut-off line.
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = decompressor.decompress(data, SAMPLE_HEAD_BYTES * 8)
        truncated = not decompressor.eof
    else:
        text = data
    lines = text.split(b"\n")
    if truncated and not text.endswith(b"\n"):
        lines = lines[:-1]
    return [line for line in lines if line.strip()]


def _infer_schema(
    sampled: Sequence[tuple[str, bytes]], declared: Mapping[str, str]
) -> tuple[dict[str, str], str]:
    """Columns (name -> Glue type) of the sampled JSON rows, and the compression seen.

    Declared columns come first, in declared order, with their declared types (always present: they
    are the crawler's expectations); other fields follow in order of first appearance, typed by
    what the rows hold.
    """
    inferred: dict[str, str] = {}
    gzip_seen = plain_seen = False
    for key, data in sampled:
        is_gzip = data[:2] == b"\x1f\x8b"
        gzip_seen |= is_gzip
        plain_seen |= not is_gzip
        for line in _read_lines(data, complete_only=len(data) >= SAMPLE_HEAD_BYTES):
            try:
                row = json.loads(line, parse_float=Decimal)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise CrawlError(
                    f"object s3://.../{key} is not newline-delimited JSON ({exc}); the raw CDC table is JSON "
                    "- move the object out of the crawled path or exclude it in the crawler's Exclusions"
                ) from exc
            if not isinstance(row, dict):
                continue
            for name, value in row.items():
                column = name.lower()
                if column in declared or not NAME_PATTERN.fullmatch(column):
                    continue
                inferred[column] = _merge_types(inferred.get(column), _json_type(value))
    columns = {name: glue_type for name, glue_type in declared.items()}
    for name, glue_type in inferred.items():
        columns[name] = glue_type or "string"
    compression = "gzip" if gzip_seen and not plain_seen else "none"
    return columns, compression


def _json_type(value: Any) -> str | None:
    """Glue's JSON classifier type for one value (None for null: decided by other rows)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint" if abs(value) >= 2**31 else "int"
    if isinstance(value, (float, Decimal)):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        element: str | None = None
        for item in value:
            element = _merge_types(element, _json_type(item))
        return f"array<{element or 'string'}>"
    if isinstance(value, dict):
        fields = []
        for name, item in value.items():
            if NAME_PATTERN.fullmatch(name.lower()):
                fields.append(f"{name.lower()}:{_json_type(item) or 'string'}")
        return f"struct<{','.join(fields)}>" if fields else "string"
    return "string"


def _merge_types(left: str | None, right: str | None) -> str | None:
    """The Glue type holding values of both types (Glue widens numbers, anything else to string)."""
    if left is None or left == right:
        return right if left is None else left
    if right is None:
        return left
    numeric = ["int", "bigint", "double"]
    if left in numeric and right in numeric:
        return numeric[max(numeric.index(left), numeric.index(right))]
    return "string"


def _describe_changes(current: Sequence[Mapping[str, str]], wanted: Sequence[Mapping[str, str]]) -> str:
    before = {c["Name"]: c["Type"] for c in current}
    after = {c["Name"]: c["Type"] for c in wanted}
    parts = [f"add {n} {t}" for n, t in after.items() if n not in before]
    parts += [f"change {n} {before[n]} -> {t}" for n, t in after.items() if n in before and before[n] != t]
    parts += [f"drop {n}" for n in before if n not in after]
    return ", ".join(parts) or "column order"


def _json_table_input(
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


__all__ = ["CrawlError", "CrawlResult", "LocalCrawler"]
