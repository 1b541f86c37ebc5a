"""``cdc_event_stats``: what the change stream delivered, one partition per *event day*.

Unlike the sales summaries, the day here is the raw partition ``dt``: the UTC day DynamoDB recorded
the change. So a day's statistics depend on that raw partition only, and the sensor's "new objects in
``dt=D``" maps to exactly this partition. Per day: changes by kind (deduplicated by ``event_id``),
deliveries and duplicate deliveries, late changes, arrival lag, and the records Firehose failed that
day (read from the error prefix: ``errors/<table>/<error-output-type>/dt=D/``, where ``D`` is the day
Firehose failed the record, not its event day - a failed record has no trustworthy event time),
and the raw objects of that event day partition repair moved to quarantine (unreadable: their rows
are not in the figures; ``<quarantine prefix><raw prefix>dt=D/``).
"""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at runtime.
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset
from dagster_aws.s3 import S3Resource

from infra.lake import list_objects
from sales_cdc.analytics.daily_partitions import DAILY_PARTITIONS
from sales_cdc.analytics.derived_tables import (
    DerivedTable,
    Statements,
    object_lines,
    preview_metadata,
    table_metadata,
)
from sales_cdc.analytics.orders_current import PARTITION_REPAIR_KEY
from sales_cdc.analytics.queries import render
from sales_cdc.catalog.quarantine import quarantine_key, quarantined_objects
from sales_cdc.lake_identity import lake_id_metadata
from sales_cdc.resources.aws import LakeResource
from sales_cdc.resources.query_engine import QueryEngineResource

CDC_EVENT_STATS_TABLE = "cdc_event_stats"
EVENT_DAY_COLUMN = "dt"
# A change is late when its first delivery reached Kinesis this long after DynamoDB recorded it.
# The default is well above the pipe's batching window; override with SALES_CDC_LATE_EVENT_SECONDS.
DEFAULT_LATE_EVENT_SECONDS = 300


def late_event_seconds() -> int:
    """The lateness threshold in seconds (``$SALES_CDC_LATE_EVENT_SECONDS`` or 300)."""
    value = os.environ.get("SALES_CDC_LATE_EVENT_SECONDS", "").strip()
    if not value:
        return DEFAULT_LATE_EVENT_SECONDS
    if not value.isdigit():
        raise ValueError(
            f"SALES_CDC_LATE_EVENT_SECONDS={value!r} is not a whole number of seconds; unset it or fix it"
        )
    return int(value)


@dataclass
class ErrorRecords:
    """Failed records found under the error prefix."""

    records: int = 0
    objects: list[str] = field(default_factory=list)
    by_error_code: Counter[str] = field(default_factory=Counter)
    by_output_type: Counter[str] = field(default_factory=Counter)
    quarantined_objects: list[str] = field(default_factory=list)  # raw objects of the day in quarantine


def error_output_types(s3: Any, bucket: str, error_prefix: str) -> list[str]:
    """The ``<error-output-type>`` folders under the error prefix (processing-failed, ...)."""
    types: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=error_prefix, Delimiter="/"
    ):
        types.extend(
            item["Prefix"][len(error_prefix) :].rstrip("/") for item in page.get("CommonPrefixes", [])
        )
    return types


def read_error_records(s3: Any, bucket: str, keys: list[str], error_prefix: str) -> ErrorRecords:
    """Count the failed records (one JSON line each) in ``keys`` by error code and output type."""
    found = ErrorRecords(objects=list(keys))
    for key in keys:
        lines = object_lines(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        output_type = key[len(error_prefix) :].split("/", 1)[0]
        found.records += len(lines)
        found.by_output_type[output_type] += len(lines)
        for line in lines:
            try:
                code = str(json.loads(line).get("errorCode") or "unknown")
            except (ValueError, AttributeError):
                code = "unreadable"
            found.by_error_code[code] += 1
    return found


def error_records_of_day(s3: Any, lake: LakeResource, day: str) -> ErrorRecords:
    """The failed records Firehose wrote under ``<error prefix><type>/dt=<day>/``.

    Lists only that day's folder of each error output type, so the cost does not grow with history.
    """
    keys: list[str] = []
    for output_type in error_output_types(s3, lake.bucket, lake.error_prefix):
        keys.extend(
            obj["Key"] for obj in list_objects(s3, lake.bucket, f"{lake.error_prefix}{output_type}/dt={day}/")
        )
    return read_error_records(s3, lake.bucket, sorted(keys), lake.error_prefix)


def quarantined_objects_of_day(s3: Any, lake: LakeResource, day: str) -> list[str]:
    """The raw objects of event day ``day`` in quarantine (lists that day's quarantine folder only)."""
    return quarantined_objects(
        s3, lake.bucket, quarantine_key(lake.quarantine_prefix, f"{lake.raw_prefix}dt={day}/")
    )


def refresh_event_days(
    days: list[str], statements: Statements, lake: LakeResource, s3: Any
) -> tuple[DerivedTable, dict[str, int], dict[str, ErrorRecords]]:
    """Rewrite the partitions ``days`` from their raw partitions; returns rows written and errors by day."""
    table = DerivedTable(CDC_EVENT_STATS_TABLE, EVENT_DAY_COLUMN, lake, statements, s3)
    rows: dict[str, int] = {}
    errors: dict[str, ErrorRecords] = {}
    for day in days:
        errors[day] = error_records_of_day(s3, lake, day)
        errors[day].quarantined_objects = quarantined_objects_of_day(s3, lake, day)
        query = render(
            "cdc_event_stats",
            database=lake.glue_database,
            raw_table=lake.raw_table,
            day=day,
            late_seconds=late_event_seconds(),
            error_records=errors[day].records,
            quarantined_objects=len(errors[day].quarantined_objects),
        )
        rows[day] = table.replace_partition(day, query)
    return table, rows, errors


@asset(
    key=CDC_EVENT_STATS_TABLE,
    group_name="analytics",
    partitions_def=DAILY_PARTITIONS,
    deps=[PARTITION_REPAIR_KEY],
    kinds={"athena", "parquet"},
    pool="lake_cdc_event_stats",
    description=(
        "Change-stream statistics per event day (raw partition dt): changes by kind, duplicate deliveries, "
        "late changes, arrival lag, and records Firehose failed that day."
    ),
)
def cdc_event_stats(
    context: AssetExecutionContext,
    query_engine: QueryEngineResource,
    lake: LakeResource,
    s3: S3Resource,
) -> MaterializeResult:
    """Rewrite the partition of each event day in the run from that day's raw partition."""
    statements = Statements(query_engine, lake.glue_database)
    days = list(context.partition_keys)
    table, rows, errors = refresh_event_days(days, statements, lake, s3.get_client())
    errors_by_day = {day: found.records for day, found in errors.items()}
    codes: Counter[str] = Counter()
    for found in errors.values():
        codes.update(found.by_error_code)
    stats = table.preview(days[-1]) if days else None
    figures = stats.as_dicts()[0] if stats is not None and stats.rows else {}
    metadata: dict[str, Any] = {
        **table_metadata(table, days, rows),
        "error_records": MetadataValue.int(sum(errors_by_day.values())),
        "error_records_by_code": MetadataValue.json(dict(codes)),
        "quarantined_objects": MetadataValue.int(sum(len(e.quarantined_objects) for e in errors.values())),
        "preview": preview_metadata(stats) if stats is not None else MetadataValue.md("_no partitions_"),
        **statements.metadata(),
        **lake_id_metadata(s3.get_client(), lake.bucket),
    }
    # Numeric figures of the last day, so the UI can plot them across runs.
    for name in ("events", "deliveries", "duplicate_deliveries", "late_events", "removes"):
        if figures.get(name) is not None:
            metadata[name] = MetadataValue.int(int(figures[name]))
    return MaterializeResult(metadata=metadata)
