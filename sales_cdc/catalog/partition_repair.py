"""Partition repair: register in the Glue catalog exactly the raw CDC partitions S3 holds and it lacks.

Athena (and the local engine) read only partitions registered in the catalog, so a new
``dt=.../hour=.../`` folder is invisible until it is added. A full ``MSCK REPAIR TABLE`` lists the
whole table location on every run; here the repair is incremental instead:

- the sensor passes the hours it saw new objects in (``hours``); a run for one day (its partition
  key, or ``days``) looks at that day's hour folders only;
- each candidate folder is checked in S3 with one small listing (a delimiter listing for a day,
  ``MaxKeys=1`` for an hour), so the cost grows with the folders asked about, not with the objects;
- the candidates are looked up in the catalog in batches and the missing ones are created in
  batches (``BatchCreatePartition``), each inheriting the table's storage descriptor, as Athena's
  ``ALTER TABLE ADD IF NOT EXISTS PARTITION`` does. A partition another run added in the meantime
  is not an error, so the repair is idempotent and safe to run concurrently.

Before the summaries read them, the new raw objects (the keys the sensor passes in ``objects``, and
the objects of the partitions this run adds) are read and the unreadable ones moved to quarantine
(:mod:`sales_cdc.catalog.quarantine`); the check ``raw_objects_readable`` names what waits there.

With no target at all, the repair discovers the day folders under the table location by delimiter
listing (one call per page of days, then one per day), still never listing objects. A full
``MSCK REPAIR TABLE`` through the query engine stays available with ``full: true``.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dagster as dg
from botocore.exceptions import ClientError
from dagster_aws.s3 import S3Resource
from pydantic import Field

from infra.lake import (
    InvalidIdentifierError,
    as_folder,
    batch_create_partitions,
    get_partitions,
    parse_s3_uri,
    partition_folder,
    partition_input,
    quote_identifier,
    validate_database,
    validate_partition_value,
    validate_s3_uri,
    validate_table,
)
from sales_cdc.catalog.quarantine import (
    QuarantineReport,
    expects_gzip,
    objects_of_folders,
    quarantine_unreadable,
    quarantined_objects,
    read_reason,
)
from sales_cdc.lake_identity import lake_id_metadata
from sales_cdc.resources.aws import GlueResource, LakeResource, s3_client
from sales_cdc.resources.query_engine import QueryEngineResource

# The raw CDC table's Hive partition keys, in the order of the folders (lambda_transform.schema).
PARTITION_KEY_NAMES = ("dt", "hour")
# The pool of the assets that change the raw table's catalog entry (the crawl and partition repair).
RAW_CATALOG_POOL = "lake_raw_catalog"
GLUE_GET_BATCH = 1000  # BatchGetPartition takes at most 1000 partitions per call

Partition = tuple[str, str]  # (dt, hour)


class PartitionRepairError(RuntimeError):
    """The repair cannot run (table missing, unexpected layout, catalog errors); the message says why."""


class RawTableMissingError(PartitionRepairError):
    """The raw CDC table is not in the catalog yet: the crawl has to create it first."""


@dataclass
class RepairReport:
    """What a repair looked at and changed."""

    mode: str  # "hours", "days", "discover" or "full"
    checked: list[Partition] = field(default_factory=list)  # folders found in S3
    added: list[Partition] = field(default_factory=list)  # registered by this run
    already_registered: int = 0
    total: int = 0  # partitions the table has after the repair
    s3_list_calls: int = 0
    ignored_folders: list[str] = field(default_factory=list)  # folders that are not dt=/hour= partitions
    bytes_scanned: int = 0  # MSCK only: what the query engine reports

    @property
    def days(self) -> list[str]:
        """The days whose partitions were checked."""
        return sorted({day for day, _ in self.checked})


def parse_hour_target(value: str) -> Partition:
    """``2026-11-21/23`` (or ``dt=2026-11-21/hour=23``) → ``("2026-11-21", "23")``, validated."""
    text = value.strip().strip("/")
    parts = [part.split("=", 1)[-1] for part in text.split("/")]
    if len(parts) != 2:
        raise InvalidIdentifierError("hour partition", value, "YYYY-MM-DD/HH, e.g. 2026-11-21/07")
    return validate_partition_value("dt", parts[0]), validate_partition_value("hour", parts[1])


def parse_day_target(value: str) -> str:
    """``2026-11-21`` (or ``dt=2026-11-21``) validated as a day partition value."""
    return validate_partition_value("dt", value.strip().strip("/").split("=", 1)[-1])


def _split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` → ``("bucket", "a/b/")`` (prefix as a folder), validated for SQL."""
    validate_s3_uri(uri.rstrip("/"))
    bucket, prefix = parse_s3_uri(uri)
    return bucket, as_folder(prefix)


def get_raw_table(glue: Any, database: str, table: str) -> dict[str, Any]:
    """The Glue table, checked to be partitioned by (dt, hour); RawTableMissingError when absent."""
    validate_database(database)
    validate_table(table)
    try:
        found = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
            raise RawTableMissingError(
                f"table {database}.{table} is not in the Glue catalog yet; materialize the asset "
                "raw_orders_cdc (the crawl creates the table) and run the repair again."
            ) from None
        raise
    keys = tuple(key["Name"] for key in found.get("PartitionKeys", []))
    if keys != PARTITION_KEY_NAMES:
        raise PartitionRepairError(
            f"table {database}.{table} is partitioned by {list(keys)}, expected {list(PARTITION_KEY_NAMES)} "
            "(the raw layout dt=YYYY-MM-DD/hour=HH); recrawl it or fix the table definition."
        )
    if not found.get("StorageDescriptor", {}).get("Location"):
        raise PartitionRepairError(f"table {database}.{table} has no storage location; recrawl it.")
    return found


def registered_partitions(glue: Any, database: str, table: str) -> set[Partition]:
    """Every partition of the table (all pages), as (dt, hour) values."""
    return {
        (partition["Values"][0], partition["Values"][1])
        for partition in get_partitions(glue, database, table)
        if len(partition["Values"]) == 2
    }


class _S3Folders:
    """Delimiter listings of the table location, counting the calls made."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.calls = 0
        self.ignored: list[str] = []

    def subfolders(self, prefix: str, key: str) -> list[str]:
        """Values of ``key=value/`` folders directly under ``prefix`` (invalid ones are recorded, skipped)."""
        values: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            self.calls += 1
            for common in page.get("CommonPrefixes", []):
                folder = common["Prefix"][len(prefix) :].rstrip("/")
                name, sep, value = folder.partition("=")
                try:
                    if name != key or not sep:
                        raise InvalidIdentifierError(f"{key} folder", folder, f"{key}=<value>")
                    values.append(validate_partition_value(key, value))
                except InvalidIdentifierError:
                    self.ignored.append(common["Prefix"])
        return values

    def hours_of_day(self, day: str) -> list[Partition]:
        """The (day, hour) folders of ``day``."""
        return [(day, hour) for hour in self.subfolders(f"{self.prefix}dt={day}/", "hour")]

    def days(self) -> list[str]:
        """The day folders under the table location."""
        return self.subfolders(self.prefix, "dt")

    def hour_exists(self, day: str, hour: str) -> bool:
        """Whether the hour folder holds at least one object (one ``MaxKeys=1`` listing)."""
        self.calls += 1
        response = self.s3.list_objects_v2(
            Bucket=self.bucket, Prefix=f"{self.prefix}dt={day}/hour={hour}/", MaxKeys=1
        )
        return response.get("KeyCount", 0) > 0


def _registered(glue: Any, database: str, table: str, candidates: Sequence[Partition]) -> set[Partition]:
    found: set[Partition] = set()
    for start in range(0, len(candidates), GLUE_GET_BATCH):
        chunk = candidates[start : start + GLUE_GET_BATCH]
        response = glue.batch_get_partition(
            DatabaseName=database,
            TableName=table,
            PartitionsToGet=[{"Values": list(values)} for values in chunk],
        )
        for partition in response.get("Partitions", []):
            day, hour = partition["Values"]
            found.add((day, hour))
        if response.get("UnprocessedKeys"):
            # Glue returns unprocessed keys under throttling; look them up one by one rather than
            # treat them as missing (creating them would then just report AlreadyExists).
            for key in response["UnprocessedKeys"]:
                try:
                    glue.get_partition(DatabaseName=database, TableName=table, PartitionValues=key["Values"])
                    found.add(tuple(key["Values"]))  # type: ignore[arg-type]
                except ClientError:
                    pass
    return found


def _create(
    glue: Any, database: str, table: Mapping[str, Any], location: str, missing: Sequence[Partition]
) -> list[Partition]:
    """Create partitions at their Hive folders, inheriting the table's storage descriptor (as Athena's
    ``ALTER TABLE ADD IF NOT EXISTS PARTITION`` does); returns them. One already there is not an error:
    a concurrent repair got there first."""
    inputs = [
        partition_input(table, partition, f"{location}{partition_folder(PARTITION_KEY_NAMES, partition)}")
        for partition in missing
    ]
    problems = batch_create_partitions(glue, database, table["Name"], inputs)
    if problems:
        raise PartitionRepairError(
            f"Glue refused {len(problems)} partition(s) of {database}.{table['Name']}: "
            + "; ".join(problems[:5])
            + (" ..." if len(problems) > 5 else "")
        )
    return list(missing)


def repair_partitions(
    *,
    s3: Any,
    glue: Any,
    database: str,
    table: str,
    hours: Iterable[Partition] = (),
    days: Iterable[str] = (),
) -> RepairReport:
    """Register the partitions present in S3 and missing from the catalog, for the given targets.

    ``hours`` are exact (dt, hour) folders; ``days`` are whole days (all their hour folders). With
    neither, every day folder under the table location is discovered by delimiter listing.
    """
    hours = sorted(set(hours))
    days = sorted(set(days))
    glue_table = get_raw_table(glue, database, table)
    location = glue_table["StorageDescriptor"]["Location"].rstrip("/") + "/"
    bucket, prefix = _split_s3_uri(location)
    folders = _S3Folders(s3, bucket, prefix)

    mode = "hours" if hours or days else "discover"
    if days and not hours:
        mode = "days"
    candidates: set[Partition] = set()
    for day in days if (hours or days) else folders.days():
        candidates.update(folders.hours_of_day(day))
    covered = set(days)
    for day, hour in hours:
        if day not in covered and folders.hour_exists(day, hour):
            candidates.add((day, hour))

    checked = sorted(candidates)
    registered = _registered(glue, database, table, checked)
    missing = [p for p in checked if p not in registered]
    added = _create(glue, database, glue_table, location, missing) if missing else []
    return RepairReport(
        mode=mode,
        checked=checked,
        added=added,
        already_registered=len(checked) - len(added),
        total=len(registered_partitions(glue, database, table)),
        s3_list_calls=folders.calls,
        ignored_folders=folders.ignored,
    )


def full_repair(*, glue: Any, query_engine: Any, database: str, table: str) -> RepairReport:
    """``MSCK REPAIR TABLE`` through the query engine: a full scan of the table location, on request."""
    get_raw_table(glue, database, table)
    before = registered_partitions(glue, database, table)
    sql = f"MSCK REPAIR TABLE {quote_identifier(table, 'table', style='`')}"
    result = query_engine.execute(sql, database=database)
    after = registered_partitions(glue, database, table)
    return RepairReport(
        mode="full",
        checked=sorted(after),
        added=sorted(after - before),
        already_registered=len(after & before),
        total=len(after),
        bytes_scanned=int(result.bytes_scanned or 0),
    )


# --------------------------------------------------------------------------------------- the asset
# (No `from __future__ import annotations` in this module: Dagster reads the asset's parameter
# annotations at runtime to find its config and resources.)

PREVIEW_ROWS = 48  # partitions listed in the markdown preview


class PartitionRepairConfig(dg.Config):
    """What to repair. Empty config: the run's days (a partitioned run), else every day folder."""

    hours: list[str] = Field(
        default_factory=list,
        description="Hour partitions to check, YYYY-MM-DD/HH; the raw objects sensor passes the hours it saw "
        "new objects in.",
    )
    days: list[str] = Field(default_factory=list, description="Whole days to check, YYYY-MM-DD.")
    objects: list[str] = Field(
        default_factory=list,
        description="Keys of new raw objects to validate before the summaries read them (the raw objects "
        "sensor passes the objects it saw); unreadable ones are moved to the quarantine prefix.",
    )
    scan_objects: bool = Field(
        default=False,
        description="Also validate every object of the partitions checked (not only the new ones): use it "
        "once to clear a partition that holds an unreadable object from before.",
    )
    full: bool = Field(
        default=False,
        description="Run MSCK REPAIR TABLE through the query engine instead: lists the whole table location.",
    )


def run_days(context: dg.AssetExecutionContext) -> list[str]:
    """The days of a partitioned run this (unpartitioned) asset runs in: its key, or its key range."""
    if context.has_partition_key:
        return [parse_day_target(context.partition_key)]
    if context.has_partition_key_range:
        first = date.fromisoformat(parse_day_target(context.partition_key_range.start))
        last = date.fromisoformat(parse_day_target(context.partition_key_range.end))
        return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return []


def report_metadata(report: RepairReport) -> dict[str, dg.MetadataValue]:
    """Materialization metadata of a repair: partitions added and total, what was looked at, cost."""
    rows = [f"| {day} | {hour} |" for day, hour in report.added[:PREVIEW_ROWS]]
    more = len(report.added) - len(rows)
    preview = (
        "\n".join(["| dt | hour |", "|---|---|", *rows] + ([f"| … {more} more | |"] if more > 0 else []))
        if report.added
        else "No partition was missing from the catalog."
    )
    metadata = {
        "mode": dg.MetadataValue.text(report.mode),
        "partitions_added": dg.MetadataValue.int(len(report.added)),
        "partitions_total": dg.MetadataValue.int(report.total),
        "partitions_checked": dg.MetadataValue.int(len(report.checked)),
        "partitions_already_registered": dg.MetadataValue.int(report.already_registered),
        "days_touched": dg.MetadataValue.json(report.days),
        "s3_list_calls": dg.MetadataValue.int(report.s3_list_calls),
        "bytes_scanned": dg.MetadataValue.int(report.bytes_scanned),
        "added": dg.MetadataValue.md(preview),
    }
    if report.ignored_folders:
        metadata["ignored_folders"] = dg.MetadataValue.json(report.ignored_folders[:PREVIEW_ROWS])
    return metadata


QUARANTINE_CHECK = "raw_objects_readable"
QUARANTINE_PREVIEW = 20  # quarantined objects named (with their reason) in the check's metadata


def raw_object_keys(keys: Iterable[str], raw_prefix: str) -> list[str]:
    """The keys to validate, each checked to be a raw object (never move anything outside the raw prefix)."""
    checked = []
    for key in keys:
        if not key.startswith(raw_prefix) or "/../" in f"/{key}/" or key.endswith("/"):
            raise InvalidIdentifierError(
                "raw object key", key, f"a key of an object under the raw prefix {raw_prefix!r}"
            )
        checked.append(key)
    return checked


def partition_prefixes(table: Mapping[str, Any], partitions: Iterable[Partition]) -> tuple[str, list[str]]:
    """The bucket and the key prefixes of the partitions' Hive folders under the table location."""
    bucket, prefix = _split_s3_uri(table["StorageDescriptor"]["Location"].rstrip("/") + "/")
    return bucket, [f"{prefix}{partition_folder(PARTITION_KEY_NAMES, p)}" for p in partitions]


def validate_objects(
    s3: Any,
    glue: Any,
    lake: LakeResource,
    *,
    keys: Sequence[str],
    partitions: Iterable[Partition] = (),
    done: QuarantineReport | None = None,
) -> QuarantineReport:
    """Validate ``keys`` and every object of ``partitions`` (those not validated in ``done``); the
    unreadable ones go to quarantine. Reads only these objects: the cost follows the new data."""
    wanted = sorted(set(partitions))
    if not keys and not wanted:
        return QuarantineReport()
    table = get_raw_table(glue, lake.glue_database, lake.raw_table)
    bucket, folders = partition_prefixes(table, wanted)
    seen = set(done.quarantined_keys) | set(done.validated_keys) if done else set()
    all_keys = [k for k in [*keys, *objects_of_folders(s3, bucket, folders)] if k not in seen]
    return quarantine_unreadable(
        s3, bucket, all_keys, quarantine_prefix=lake.quarantine_prefix, table_gzip=expects_gzip(table)
    )


def quarantine_check(s3: Any, lake: LakeResource, reports: Sequence[QuarantineReport]) -> dg.AssetCheckResult:
    """Passes while no raw object waits in quarantine; else a warning naming each one and its reason."""
    moved = {q.quarantine_key: q for report in reports for q in report.quarantined}
    waiting = quarantined_objects(s3, lake.bucket, lake.quarantine_prefix)
    named = {
        key: (moved[key].reason if key in moved else read_reason(s3, lake.bucket, key))
        for key in waiting[:QUARANTINE_PREVIEW]
    }
    rows = [f"| {key} | {reason} |" for key, reason in named.items()]
    more = len(waiting) - len(rows)
    return dg.AssetCheckResult(
        check_name=QUARANTINE_CHECK,
        passed=not waiting,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(waiting)} raw object(s) wait in s3://{lake.bucket}/{lake.quarantine_prefix}: "
            "fix and release them (README: Quarantine), or delete them"
            if waiting
            else "no raw object is in quarantine"
        ),
        metadata={
            "quarantined_this_run": dg.MetadataValue.json({q.key: q.reason for q in moved.values()}),
            "objects_in_quarantine": dg.MetadataValue.int(len(waiting)),
            "quarantine": dg.MetadataValue.md(
                "\n".join(
                    ["| object | reason |", "|---|---|", *rows]
                    + ([f"| … {more} more | |"] if more > 0 else [])
                )
                if rows
                else "Quarantine is empty."
            ),
        },
    )


@dg.asset(
    group_name="catalog",
    deps=["raw_orders_cdc"],
    kinds={"glue", "s3"},
    pool=RAW_CATALOG_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset="partition_repair",
            description="No raw object is in quarantine (unreadable objects moved aside by partition "
            "repair); a warning names each quarantined object and its reason.",
        )
    ],
    description="The raw CDC table's registered partitions: adds exactly the dt/hour partitions present in "
    "S3 and missing from the catalog, for the hours or days given (incremental, idempotent); "
    "`full: true` runs MSCK REPAIR TABLE instead. New raw objects (those the sensor passes, and those of "
    "the partitions it adds) are validated first: unreadable ones are moved to the quarantine prefix.",
)
def partition_repair(
    context: dg.AssetExecutionContext,
    config: PartitionRepairConfig,
    s3: S3Resource,
    glue: GlueResource,
    lake: LakeResource,
    query_engine: QueryEngineResource,
) -> dg.MaterializeResult:
    """Validate the new raw objects and register the missing raw CDC partitions of the targeted hours/days."""
    s3c = s3_client(s3)
    try:
        # The objects the sensor saw are validated before their partitions are registered.
        before = validate_objects(
            s3c, glue.get_client(), lake, keys=raw_object_keys(config.objects, lake.raw_prefix)
        )
        if config.full:
            report = full_repair(
                glue=glue.get_client(),
                query_engine=query_engine,
                database=lake.glue_database,
                table=lake.raw_table,
            )
        else:
            hours = [parse_hour_target(value) for value in config.hours]
            days = [parse_day_target(value) for value in config.days]
            if not hours and not days:
                days = run_days(context)
            report = repair_partitions(
                s3=s3c,
                glue=glue.get_client(),
                database=lake.glue_database,
                table=lake.raw_table,
                hours=hours,
                days=days,
            )
        # Partitions registered now hold only objects never read before: validate them too.
        after = validate_objects(
            s3c,
            glue.get_client(),
            lake,
            keys=[],
            partitions=[*report.added, *(report.checked if config.scan_objects else [])],
            done=before,
        )
    except (PartitionRepairError, InvalidIdentifierError) as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    quarantined = before.quarantined + after.quarantined
    for item in quarantined:
        context.log.warning(
            f"quarantined s3://{lake.bucket}/{item.key} -> {item.quarantine_key}: {item.reason}"
        )
    context.log.info(
        f"{report.mode} repair of {lake.glue_database}.{lake.raw_table}: checked {len(report.checked)} "
        f"partition(s) in {len(report.days)} day(s), added {len(report.added)}, total {report.total}"
    )
    for folder in report.ignored_folders:
        context.log.warning(
            f"ignored s3://{lake.bucket}/{folder}: not a dt=YYYY-MM-DD/hour=HH partition folder"
        )
    metadata = {
        **report_metadata(report),
        "objects_validated": dg.MetadataValue.int(before.validated + after.validated),
        "objects_quarantined": dg.MetadataValue.json({q.key: q.reason for q in quarantined}),
        **lake_id_metadata(s3c, lake.bucket),
    }
    check_key = dg.AssetCheckKey(context.asset_key, QUARANTINE_CHECK)
    checks = (
        [quarantine_check(s3c, lake, [before, after])]
        if check_key in context.selected_asset_check_keys
        else []
    )
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
