"""The ``orders`` asset: the DynamoDB orders table, materialized by a run of the order generator.

Each materialization is one generator run (:func:`sales_cdc.generator.generate_orders`) writing
new orders, status updates and deletions into the deployment's orders table; the table's stream
carries them into the data lake. Its metadata records what was written (by kind), how fast, and the
seed and start time that reproduce the run.
"""

from datetime import datetime

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field

from sales_cdc.commands.generate import DEFAULT_ORDERS
from sales_cdc.generator import (
    CHANGE_KINDS,
    GeneratorConfig,
    GeneratorConfigError,
    GeneratorSummary,
    GeneratorWriteError,
    ProgressReport,
    generate_orders,
    planned_counts,
    validate_config,
)
from sales_cdc.lake_identity import lake_id_metadata
from sales_cdc.resources.aws import DynamoDBResource, LakeResource, s3_client

RANDOM_SEED = -1  # launchpad value of `seed` that picks a random seed (reported in the metadata)
FULL_SPEED = 0.0  # launchpad value of `rate` that writes as fast as the table accepts


class OrderGeneratorConfig(dg.Config):
    """Run config of a generator run (the fields of :class:`sales_cdc.generator.GeneratorConfig`).

    Every field has a value (no ``None``), so the launchpad shows each one with its default. The
    ranges are checked when the run's step starts, before anything is written (Dagster 1.13 checks
    run config against types, not ranges, when a run is launched).
    """

    orders: int = Field(default=DEFAULT_ORDERS, ge=0, description="New orders to create (≥ 0).")
    seed: int = Field(
        default=RANDOM_SEED,
        ge=RANDOM_SEED,
        description="Random seed (≥ 0); -1 picks one, reported in the metadata to reproduce the run.",
    )
    rate: float = Field(
        default=FULL_SPEED,
        ge=0,
        description="Change events per second; 0 writes as fast as the table accepts.",
    )
    update_ratio: float = Field(
        default=0.3, ge=0, le=1, description="Share of all change events that are updates (0-1)."
    )
    delete_ratio: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Share of all change events that are deletions (0-1; with update_ratio below 1).",
    )
    days: float = Field(
        default=0.0,
        ge=0,
        le=3660,
        description="Spread the orders' timestamps over this many days before now (0 = from now on); "
        "fills that many daily partitions.",
    )
    start: str | None = Field(
        default=None,
        description="Base time of the simulated clock, ISO-8601 UTC (e.g. 2026-11-21T00:00:00Z); none = now. "
        "With the seed it makes a run byte-identical.",
    )

    def to_generator_config(self, table: str) -> GeneratorConfig:
        """The generator's config for ``table``; raises GeneratorConfigError for a bad ``start``."""
        start = None
        if self.start is not None:
            try:
                start = datetime.fromisoformat(self.start)
            except ValueError:
                raise GeneratorConfigError(
                    "start",
                    self.start,
                    f"start = {self.start!r} is not an ISO-8601 time; use e.g. 2026-11-21T00:00:00Z.",
                ) from None
        return GeneratorConfig(
            orders=self.orders,
            update_ratio=self.update_ratio,
            delete_ratio=self.delete_ratio,
            seed=None if self.seed == RANDOM_SEED else self.seed,
            rate=None if self.rate == FULL_SPEED else self.rate,
            start=start,
            days=self.days,
            table=table,
        )


def summary_metadata(summary: GeneratorSummary) -> dict[str, dg.MetadataValue]:
    """Materialization metadata of a generator run: writes by kind (each plottable), rate, reproduction."""
    kinds = summary.writes_by_kind
    preview = "\n".join(
        ["| change | writes |", "|---|---:|"]
        + [f"| {kind} | {kinds.get(kind, 0):,} |" for kind in CHANGE_KINDS]
        + [f"| **total** | **{summary.items_written:,}** |"]
    )
    return {
        "table": dg.MetadataValue.text(summary.table),
        "writes": dg.MetadataValue.int(summary.items_written),
        "inserts": dg.MetadataValue.int(kinds.get("INSERT", 0)),
        "modifies": dg.MetadataValue.int(kinds.get("MODIFY", 0)),
        "removes": dg.MetadataValue.int(kinds.get("REMOVE", 0)),
        "writes_by_kind": dg.MetadataValue.json(dict(kinds)),
        "rate_writes_per_s": dg.MetadataValue.float(round(summary.rate, 1)),
        "duration_s": dg.MetadataValue.float(round(summary.duration_s, 3)),
        "orders_created": dg.MetadataValue.int(summary.orders_created),
        "orders_deleted": dg.MetadataValue.int(summary.orders_deleted),
        "orders_in_table_from_run": dg.MetadataValue.int(summary.orders_in_table),
        "requests": dg.MetadataValue.int(summary.requests),
        "retries": dg.MetadataValue.int(summary.retries),
        "seed": dg.MetadataValue.int(summary.seed),
        "start": dg.MetadataValue.text(summary.start),
        "preview": dg.MetadataValue.md(preview),
    }


@dg.asset(
    group_name="ingest",
    kinds={"dynamodb", "python"},
    description="The DynamoDB orders table. Materializing it runs the order generator: new orders, "
    "status updates and deletions (run config: orders, seed, rate, update/delete ratio, days; progress "
    "in the run log).",
)
def orders(
    context: dg.AssetExecutionContext,
    config: OrderGeneratorConfig,
    dynamodb: DynamoDBResource,
    lake: LakeResource,
    s3: S3Resource,
) -> dg.MaterializeResult:
    """Write one generator run into the orders table."""
    try:
        generator_config = config.to_generator_config(lake.orders_table)
        validate_config(generator_config)
        planned = sum(planned_counts(generator_config).values())
        context.log.info(f"writing {planned:,} change events to {generator_config.table}")
        # Every 10 % or every few seconds in the run's log, so a long run shows it is alive.
        progress = ProgressReport(planned, context.log.info)
        summary = generate_orders(dynamodb.get_client(), generator_config, progress)
    except GeneratorConfigError as exc:
        # A config mistake: retrying cannot help, and the message names the field and the fix.
        raise dg.Failure(
            description=f"invalid generator run config `{exc.field}`: {exc}",
            metadata={"field": exc.field, "value": repr(exc.value)},
            allow_retries=False,
        ) from exc
    except GeneratorWriteError as exc:
        metadata = summary_metadata(exc.summary) if exc.summary is not None else {}
        raise dg.Failure(description=str(exc), metadata=metadata) from exc
    context.log.info(
        f"wrote {summary.items_written:,} changes to {summary.table} in {summary.duration_s:.1f} s "
        f"({summary.rate:,.0f}/s; seed {summary.seed}, start {summary.start})"
    )
    # The orders table lives in the lake's deployment: a lost or reset lake loses it too.
    return dg.MaterializeResult(
        metadata={**summary_metadata(summary), **lake_id_metadata(s3_client(s3), lake.bucket)}
    )
