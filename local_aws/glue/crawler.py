"""The local Glue crawler: runs the deployed crawler's definition against the emulator's S3 and catalog.

moto stores Glue catalog objects (databases, tables, partitions, crawlers) but runs no crawl. The
:class:`LocalCrawler` does what a Glue crawler does with the deployed crawler's definition
(``glue.get_crawler``):

- lists its S3 target path(s), honouring exclusions and Hive ``key=value`` folders (other folder
  levels become ``partition_0``, ``partition_1``... like Glue; see ``folders``); empty objects are
  skipped and folders whose values break the lake's partition rules (``dt`` a real date, ``hour``
  00-23: ``infra.lake``) are not catalogued, both reported in the result;
- samples a few objects per partition (the crawler's ``SampleSize``; new partitions first) and
  infers a Glue schema from their heads (``schema``);
- creates the table (named after the last folder of the target path, with the crawler's table
  prefix) as a JSON table (OpenX JSON SerDe, TextInputFormat) with the partition keys as strings;
- updates an existing table only under ``UpdateBehavior: UPDATE_IN_DATABASE``: with
  ``Tables.AddOrUpdateBehavior: MergeNewColumns`` new columns are appended and existing ones kept,
  otherwise the columns are replaced by the inferred ones. Under ``LOG`` the table is left as it
  is and the change is only reported;
- adds the partitions found in S3 and missing from the catalog (also under ``LOG``, as Glue does:
  partitions are not a schema change), each inheriting the table's storage descriptor;
- for partitions in the catalog whose folder no longer holds objects: ``DeleteBehavior:
  DELETE_FROM_DATABASE`` deletes them, ``LOG`` (and ``DEPRECATE_IN_DATABASE``) only reports them.

The crawl is also recorded in the emulator (``start_crawler`` then moto's ``list_crawls``, which
completes it), so ``get_crawler`` shows ``LastCrawl`` like on AWS. moto cannot record a failed crawl:
a failure is raised as :class:`CrawlError` and the emulator's crawl is stopped.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from infra.clients import boto3_clients
from infra.lake import (
    NAME_PATTERN,
    as_folder,
    batch_create_partitions,
    batch_delete_partitions,
    get_partitions,
    is_hidden_key,
    list_objects,
    parse_s3_uri,
    partition_input,
    s3_uri,
)
from lambda_transform.schema import COLUMN_TYPES as DECLARED_CDC_TYPES
from local_aws.glue.folders import Folder, partition_folders, split_invalid_folders, table_name_from_path
from local_aws.glue.result import CrawlError, CrawlResult
from local_aws.glue.schema import SAMPLE_HEAD_BYTES, describe_changes, infer_schema
from local_aws.glue.tables import json_table_input, table_input_with_columns

# Objects sampled per partition when the crawler has no SampleSize (Glue would read every file).
DEFAULT_SAMPLE_SIZE = 3
# Upper bound of objects read per crawl, so a crawl over months of partitions stays quick. New
# partitions are sampled first (one object each, newest first), then the newest known ones: new fields
# arrive with new data. Every partition found is registered whether sampled or not.
MAX_SAMPLED_OBJECTS = 120


@dataclass(frozen=True)
class _Policy:
    """The parts of a crawler's definition that decide what a crawl may change."""

    update_behavior: str
    delete_behavior: str
    merge_columns: bool
    new_folders_only: bool

    @classmethod
    def of(cls, crawler: Mapping[str, Any]) -> _Policy:
        config = _crawler_configuration(crawler)
        policy = crawler.get("SchemaChangePolicy") or {}
        recrawl = (crawler.get("RecrawlPolicy") or {}).get("RecrawlBehavior", "CRAWL_EVERYTHING")
        tables = (config.get("CrawlerOutput") or {}).get("Tables", {})
        return cls(
            update_behavior=policy.get("UpdateBehavior", "UPDATE_IN_DATABASE"),
            delete_behavior=policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE"),
            merge_columns=tables.get("AddOrUpdateBehavior") == "MergeNewColumns",
            new_folders_only=recrawl == "CRAWL_NEW_FOLDERS_ONLY",
        )


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
        policy = _Policy.of(crawler)
        result = CrawlResult(crawler_name=name, database=database)
        targets = (crawler.get("Targets") or {}).get("S3Targets") or []
        if not targets:
            raise CrawlError(f"crawler {name} has no S3 targets; the local crawler crawls S3 targets only")
        for target in targets:
            self._crawl_target(crawler, target, database, result, policy)
        return result

    def _crawl_target(
        self,
        crawler: Mapping[str, Any],
        target: Mapping[str, Any],
        database: str,
        result: CrawlResult,
        policy: _Policy,
    ) -> None:
        path = target["Path"]
        bucket, prefix = parse_s3_uri(path)
        prefix = as_folder(prefix)
        table_name = (crawler.get("TablePrefix") or "") + table_name_from_path(prefix or bucket)
        if not NAME_PATTERN.fullmatch(table_name):
            raise CrawlError(
                f"the table name {table_name!r} derived from target {path} is not a valid Glue table name"
            )
        objects = self._list_target(bucket, prefix, target.get("Exclusions") or [])
        result.objects_listed += len(objects)
        # An empty object has nothing to classify (and a ranged read of it fails with InvalidRange).
        empty = [obj["Key"] for obj in objects if not int(obj.get("Size") or 0)]
        if empty:
            result.empty_objects.extend(empty)
            result.warnings.append(f"{path}: {len(empty)} empty object(s) skipped (0 bytes), e.g. {empty[0]}")
            objects = [obj for obj in objects if int(obj.get("Size") or 0)]
        if not objects:
            result.warnings.append(f"{path}: no objects found; nothing to catalog")
            return
        keys, folders, unpartitioned = partition_folders(objects, prefix)
        if unpartitioned:
            result.warnings.append(
                f"{path}: {len(unpartitioned)} object(s) outside the partition folders {'/'.join(keys)} "
                f"were ignored (e.g. {unpartitioned[0]})"
            )
        folders, invalid = split_invalid_folders(keys, folders)
        if invalid:
            result.invalid_partitions.extend(invalid)
            result.warnings.append(
                f"{path}: {len(invalid)} folder(s) with invalid partition values were not catalogued, "
                f"e.g. {invalid[0]}"
            )
        if not folders:
            result.warnings.append(f"{path}: no valid partition folder found; nothing to catalog")
            return

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
        to_sample = new_folders if (policy.new_folders_only and existing is not None) else folders
        sample_size = int(target.get("SampleSize") or DEFAULT_SAMPLE_SIZE)
        sampled = self._sample(bucket, to_sample, new_folders, sample_size, result)

        inferred, compression = infer_schema(sampled, self.declared_types)
        columns = [{"Name": name, "Type": glue_type} for name, glue_type in inferred.items()]
        if existing is None:
            partition_keys = [{"Name": key, "Type": "string"} for key in keys]
            table_input = json_table_input(
                table_name, path, columns, partition_keys, compression, crawler["Name"], objects
            )
            self.glue.create_table(DatabaseName=database, TableInput=table_input)
            result.tables_created.append(table_name)
            result.columns_added[table_name] = [c["Name"] for c in columns]
            table = {**table_input, "DatabaseName": database}
        else:
            table = self._update_columns(existing, columns, crawler["Name"], result, policy)
        self._sync_partitions(table, bucket, folders, new_folders, existing_partitions, result, policy)

    def _list_target(self, bucket: str, prefix: str, exclusions: Sequence[str]) -> list[dict[str, Any]]:
        """The target's objects, without the hidden ones and those matching an exclusion pattern."""
        return [
            obj
            for obj in list_objects(self.s3, bucket, prefix)
            if not is_hidden_key(obj["Key"][len(prefix) :])
            and not any(fnmatch.fnmatch(obj["Key"][len(prefix) :], pattern) for pattern in exclusions)
        ]

    def _update_columns(
        self,
        existing: dict[str, Any],
        columns: list[dict[str, str]],
        crawler_name: str,
        result: CrawlResult,
        policy: _Policy,
    ) -> dict[str, Any]:
        """Apply (UPDATE_IN_DATABASE) or log the column changes of an existing table; the table after."""
        table_name, database = existing["Name"], existing["DatabaseName"]
        current = [
            {"Name": c["Name"], "Type": c["Type"]}
            for c in (existing.get("StorageDescriptor") or {}).get("Columns") or []
        ]
        current_names = {c["Name"] for c in current}
        new_columns = [c for c in columns if c["Name"] not in current_names]
        wanted = current + new_columns if policy.merge_columns else columns
        if wanted == current:
            return existing
        if policy.update_behavior != "UPDATE_IN_DATABASE":
            result.changes_logged.append(
                f"table {database}.{table_name}: schema change not applied "
                f"(UpdateBehavior {policy.update_behavior}): {describe_changes(current, wanted)}"
            )
            return existing
        table_input = table_input_with_columns(existing, wanted, crawler_name)
        self.glue.update_table(DatabaseName=database, TableInput=table_input)
        result.tables_updated.append(table_name)
        added = [c["Name"] for c in wanted if c["Name"] not in current_names]
        if added:
            result.columns_added[table_name] = added
        return {**table_input, "DatabaseName": database}

    def _sync_partitions(
        self,
        table: Mapping[str, Any],
        bucket: str,
        folders: Sequence[Folder],
        new_folders: Sequence[Folder],
        existing_partitions: set[tuple[str, ...]],
        result: CrawlResult,
        policy: _Policy,
    ) -> None:
        """Add the new folders as partitions; delete (or log) catalogued partitions without objects."""
        database, table_name = table["DatabaseName"], table["Name"]
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
        if not gone:
            return
        if policy.delete_behavior == "DELETE_FROM_DATABASE":
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
                f"(DeleteBehavior {policy.delete_behavior}), e.g. {'/'.join(gone[0])}"
            )

    def _get_table(self, database: str, table: str) -> dict[str, Any] | None:
        try:
            return self.glue.get_table(DatabaseName=database, Name=table)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                return None
            raise

    def _sample(
        self,
        bucket: str,
        folders: Sequence[Folder],
        new_folders: Sequence[Folder],
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
