"""Asset checks of the analytics group: keys, values, freshness, reconciliation, error records.

On ``orders_current``:

- ``order_id_unique`` (ERROR, blocking: the sales summaries would double count) - no order id twice;
- ``order_values_valid`` (ERROR) - quantity > 0, unit price > 0, a known status, product and creation
  time present; names the first offending ids per rule;
- ``newest_event_fresh`` (WARN) - the newest change ``orders_current`` reflects is younger than
  ``$SALES_CDC_FRESHNESS_MINUTES`` (60): older means the pipeline or the generator stopped;
- ``reconciles_with_dynamodb`` (ERROR) - every business column of every order equals a consistent
  scan of the DynamoDB table, and no order's newest change is a Firehose error record; passes with 0
  mismatches once the pipeline has drained, and names each diverged order with its differing columns
  and the failed change's reason when not.

On ``cdc_event_stats``:

- ``no_new_error_records`` (WARN) - no Firehose error records appeared under the error prefix since
  the previous evaluation (the objects seen are remembered in a small JSON state object).
"""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations at runtime.
import os
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)
from dagster_aws.s3 import S3Resource

from infra.lake import list_objects
from sales_cdc.analytics.cdc_event_stats import cdc_event_stats, read_error_records
from sales_cdc.analytics.derived_tables import (
    Statements,
    markdown_table,
    plain,
    read_json_object,
    state_key,
    write_json_object,
)
from sales_cdc.analytics.orders_current import ORDERS_CURRENT_TABLE, orders_current
from sales_cdc.analytics.reconciliation import BUSINESS_COLUMN_NAMES, SAMPLE_IDS, reconcile_orders
from sales_cdc.missing_tables import unless_table_missing
from sales_cdc.resources.aws import DynamoDBResource, LakeResource, s3_client
from sales_cdc.resources.query_engine import QueryEngineResource

DEFAULT_FRESHNESS_MINUTES = 60
VALUE_RULES = (
    "missing_order_id",
    "quantity_not_positive",
    "unit_price_not_positive",
    "status_unknown",
    "product_missing",
    "created_at_missing",
)


def freshness_minutes() -> float:
    """The freshness threshold in minutes (``$SALES_CDC_FRESHNESS_MINUTES`` or 60)."""
    value = os.environ.get("SALES_CDC_FRESHNESS_MINUTES", "").strip()
    if not value:
        return DEFAULT_FRESHNESS_MINUTES
    try:
        minutes = float(value)
    except ValueError:
        minutes = -1.0
    if minutes <= 0:
        raise ValueError(
            f"SALES_CDC_FRESHNESS_MINUTES={value!r} is not a positive number of minutes; fix or unset it"
        )
    return minutes


def check_order_id_unique(statements: Statements) -> AssetCheckResult:
    """Every order id appears once in orders_current; names the duplicated ids."""
    result = statements.run("check_order_id_unique", table=ORDERS_CURRENT_TABLE, limit=SAMPLE_IDS)
    duplicated = [str(row[0]) for row in result.rows]
    return AssetCheckResult(
        passed=not duplicated,
        description=(
            "every order id is unique"
            if not duplicated
            else f"{len(duplicated)}{'+' if len(duplicated) == SAMPLE_IDS else ''} order id(s) appear "
            f"more than once, e.g. {', '.join(duplicated[:5])}"
        ),
        metadata={
            "duplicated_ids": MetadataValue.json(duplicated),
            "sample": MetadataValue.md(markdown_table(result.columns, result.rows, SAMPLE_IDS)),
            "bytes_scanned": MetadataValue.int(statements.bytes_scanned),
        },
    )


def check_order_values(statements: Statements) -> AssetCheckResult:
    """Quantities and prices are positive, statuses known, product and creation time present."""
    result = statements.run("check_order_values", table=ORDERS_CURRENT_TABLE, limit=SAMPLE_IDS)
    rows = result.as_dicts()
    counts = {rule: int(rows[0][f"{rule}_orders"]) if rows else 0 for rule in VALUE_RULES}
    samples = {rule: [str(row["order_id"]) for row in rows if row[rule]] for rule in VALUE_RULES}
    broken = int(rows[0]["broken_orders"]) if rows else 0
    problems = [
        f"{rule}: {count} (e.g. {', '.join(samples[rule][:3])})" for rule, count in counts.items() if count
    ]
    return AssetCheckResult(
        passed=broken == 0,
        description="all values valid"
        if not broken
        else f"{broken} order(s) with invalid values; " + "; ".join(problems),
        metadata={
            "invalid_orders": MetadataValue.int(broken),
            **{rule: MetadataValue.int(count) for rule, count in counts.items()},
            "sample_ids": MetadataValue.json({rule: ids for rule, ids in samples.items() if ids}),
            "sample": MetadataValue.md(
                markdown_table(
                    ["order_id", "quantity", "unit_price", "status"],
                    [(r["order_id"], r["quantity"], plain(r["unit_price"]), r["status"]) for r in rows],
                    SAMPLE_IDS,
                )
            ),
            "bytes_scanned": MetadataValue.int(statements.bytes_scanned),
        },
    )


def check_freshness(statements: Statements, now: datetime | None = None) -> AssetCheckResult:
    """The newest change reflected in orders_current is recent (WARN: data may simply have stopped)."""
    row = statements.run("newest_change", table=ORDERS_CURRENT_TABLE).as_dicts()[0]
    threshold = freshness_minutes()
    newest = row["newest_event_time"]
    metadata: dict[str, Any] = {
        "threshold_minutes": MetadataValue.float(float(threshold)),
        "orders": MetadataValue.int(int(row["orders"] or 0)),
        "bytes_scanned": MetadataValue.int(statements.bytes_scanned),
    }
    if newest is None:
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.WARN,
            description="orders_current holds no orders: no change has reached the lake yet",
            metadata=metadata,
        )
    newest_utc = newest.replace(tzinfo=UTC) if newest.tzinfo is None else newest.astimezone(UTC)
    age_minutes = ((now or datetime.now(UTC)) - newest_utc).total_seconds() / 60
    metadata["newest_event_time"] = MetadataValue.text(newest_utc.isoformat())
    metadata["age_minutes"] = MetadataValue.float(round(age_minutes, 2))
    fresh = age_minutes <= threshold
    return AssetCheckResult(
        passed=fresh,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"newest change is {age_minutes:.1f} min old (threshold {threshold:g} min)"
            if fresh
            else f"newest change is {age_minutes:.1f} min old, over the {threshold:g} min threshold: "
            "is the generator, the data plane or the sensor stopped?"
        ),
        metadata=metadata,
    )


RECONCILIATION_DESCRIPTION = (
    "orders_current equals DynamoDB, order by order: every business column ("
    + ", ".join(BUSINESS_COLUMN_NAMES)
    + ") against a consistent scan of the table, numbers exact and timestamps as UTC milliseconds; "
    "an order whose newest change is a Firehose error record is diverged, with the record's reason. "
    "Costs one scan, one query of orders_current and reading the error objects."
)


def check_reconciliation(
    statements: Statements, dynamodb: Any, lake: LakeResource, s3: Any
) -> AssetCheckResult:
    """orders_current equals the DynamoDB table on every business column of every order (ERROR),
    naming each diverged order, its differing columns and the reason of its failed change."""
    report = reconcile_orders(statements, dynamodb, s3, lake)
    return AssetCheckResult(
        passed=report.ok,
        severity=AssetCheckSeverity.ERROR,
        description=report.describe(limit=5),
        metadata={
            "compares": MetadataValue.text(RECONCILIATION_DESCRIPTION),
            "dynamodb_orders": MetadataValue.int(report.dynamodb_orders),
            "lake_orders": MetadataValue.int(report.lake_orders),
            "mismatches": MetadataValue.int(report.mismatches),
            "missing_in_lake": MetadataValue.int(len(report.missing)),
            "extra_in_lake": MetadataValue.int(len(report.extra)),
            "failed_changes": MetadataValue.int(len(report.failed)),
            "missing_ids": MetadataValue.json(report.missing[:SAMPLE_IDS]),
            "extra_ids": MetadataValue.json(report.extra[:SAMPLE_IDS]),
            "diverged_ids": MetadataValue.json([order.order_id for order in report.diverged[:100]]),
            "diverged_orders": MetadataValue.json(
                [order.as_json() for order in report.diverged[:SAMPLE_IDS]]
            ),
            "error_records_read": MetadataValue.int(report.error_records),
            "error_records_without_order": MetadataValue.int(report.unattributed_error_records),
            "bytes_scanned": MetadataValue.int(statements.bytes_scanned),
        },
    )


def check_new_error_records(lake: LakeResource, client: Any, log: Any = None) -> AssetCheckResult:
    """No new Firehose error records since the last evaluation (WARN, naming codes and objects)."""
    key = state_key(lake, "error_objects_seen")
    seen: dict[str, str] = read_json_object(client, lake.bucket, key) or {}
    objects = {
        obj["Key"]: str(obj.get("ETag", "")) for obj in list_objects(client, lake.bucket, lake.error_prefix)
    }
    new_keys = sorted(name for name, etag in objects.items() if seen.get(name) != etag)
    found = read_error_records(client, lake.bucket, new_keys, lake.error_prefix)
    # Remember what exists now (expired objects drop out), so each object warns once.
    write_json_object(client, lake.bucket, key, objects)
    if found.records and log is not None:
        log.warning("%d new Firehose error record(s) in %d object(s)", found.records, len(new_keys))
    return AssetCheckResult(
        passed=found.records == 0,
        severity=AssetCheckSeverity.WARN,
        description=(
            "no new error records"
            if not found.records
            else f"{found.records} new error record(s) in {len(new_keys)} object(s) under "
            f"s3://{lake.bucket}/{lake.error_prefix}; codes: "
            + ", ".join(f"{code} x{count}" for code, count in found.by_error_code.most_common(5))
        ),
        metadata={
            "new_error_records": MetadataValue.int(found.records),
            "new_error_objects": MetadataValue.int(len(new_keys)),
            "error_objects_total": MetadataValue.int(len(objects)),
            "by_error_code": MetadataValue.json(dict(found.by_error_code)),
            "by_output_type": MetadataValue.json(dict(found.by_output_type)),
            "first_new_objects": MetadataValue.json(
                [f"s3://{lake.bucket}/{k}" for k in new_keys[:SAMPLE_IDS]]
            ),
        },
    )


# ------------------------------------------------------------------------------ the asset checks
# Thin wrappers: Dagster wiring here, the logic in the functions above (testable without a run). A check
# of orders_current when the table does not exist (lake reset, never materialized) fails saying so.


def _on_orders_current(check: Any, lake: LakeResource) -> AssetCheckResult:
    return unless_table_missing(
        check,
        database=lake.glue_database,
        table=ORDERS_CURRENT_TABLE,
        asset=orders_current.key.to_user_string(),
    )


@asset_check(asset=orders_current, name="order_id_unique", blocking=True)
def order_id_unique(query_engine: QueryEngineResource, lake: LakeResource) -> AssetCheckResult:
    """Every order id appears once in orders_current (blocking: sales would double count)."""
    return _on_orders_current(
        lambda: check_order_id_unique(Statements(query_engine, lake.glue_database)), lake
    )


@asset_check(asset=orders_current, name="order_values_valid")
def order_values_valid(query_engine: QueryEngineResource, lake: LakeResource) -> AssetCheckResult:
    """Quantities and prices are positive, statuses known, product and creation time present."""
    return _on_orders_current(lambda: check_order_values(Statements(query_engine, lake.glue_database)), lake)


@asset_check(asset=orders_current, name="newest_event_fresh")
def newest_event_fresh(query_engine: QueryEngineResource, lake: LakeResource) -> AssetCheckResult:
    """The newest change reflected in orders_current is recent (WARN)."""
    return _on_orders_current(lambda: check_freshness(Statements(query_engine, lake.glue_database)), lake)


@asset_check(asset=orders_current, name="reconciles_with_dynamodb", description=RECONCILIATION_DESCRIPTION)
def reconciles_with_dynamodb(
    query_engine: QueryEngineResource, lake: LakeResource, dynamodb: DynamoDBResource, s3: S3Resource
) -> AssetCheckResult:
    """orders_current equals the DynamoDB table on every business column of every order (ERROR)."""
    return _on_orders_current(
        lambda: check_reconciliation(
            Statements(query_engine, lake.glue_database), dynamodb.get_client(), lake, s3_client(s3)
        ),
        lake,
    )


@asset_check(asset=cdc_event_stats, name="no_new_error_records")
def no_new_error_records(
    context: AssetCheckExecutionContext, lake: LakeResource, s3: S3Resource
) -> AssetCheckResult:
    """No new Firehose error records since the last evaluation (WARN)."""
    return check_new_error_records(lake, s3.get_client(), context.log)


ANALYTICS_CHECKS = [
    order_id_unique,
    order_values_valid,
    newest_event_fresh,
    reconciles_with_dynamodb,
    no_new_error_records,
]
