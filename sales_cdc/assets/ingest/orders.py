"""The ``orders`` asset: the DynamoDB orders table, materialized by a run of the order generator.

Each materialization is one generator run (:func:`sales_cdc.generator.generate_orders`) writing
new orders, status updates and deletions into the deployment's orders table; the table's stream
carries them into the data lake. Its metadata records what was written (by kind), how fast, and the
seed and start time that reproduce the run.
"""

from datetime import datetime

import dagster as dg
from pydantic import Field

from sales_cdc.commands.generate import DEFAULT_ORDERS
from sales_cdc.generator import (
    CHANGE_KINDS,
    GeneratorConfig,
    GeneratorConfigError,
    GeneratorSummary,
    GeneratorWriteError,
    generate_orders,
)
from sales_cdc.resources.aws import DynamoDBResource, LakeResource

# Log progress about this often (in writes) so a long run shows it is alive.
_PROGRESS_EVERY = 5_000


class OrderGeneratorConfig(dg.Config):
    """Run config of a generator run (the fields of :class:`sales_cdc.generator.GeneratorConfig`)."""

    orders: int = Field(default=DEFAULT_ORDERS, description="New orders to create (≥ 0).")
    seed: int | None = Field(
        default=None,
        description="Random seed; none picks one (reported in the metadata to reproduce the run).",
    )
    update_ratio: float = Field(default=0.3, description="Share of all change events that are updates (0-1).")
    delete_ratio: float = Field(
        default=0.05, description="Share of all change events that are deletions (0-1)."
    )
    days: float = Field(
        default=0.0,
        description="Spread the orders' timestamps over this many days before now (0 = from now on); "
        "fills that many daily partitions.",
    )
    rate: float | None = Field(
        default=None, description="Change events per second; none writes as fast as the table accepts."
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
            seed=self.seed,
            rate=self.rate,
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
    "status updates and deletions (run config: orders, seed, update/delete ratio, days, rate).",
)
def orders(
    context: dg.AssetExecutionContext,
    config: OrderGeneratorConfig,
    dynamodb: DynamoDBResource,
    lake: LakeResource,
) -> dg.MaterializeResult:
    """Write one generator run into the orders table."""
    written = 0

    def progress(count: int) -> None:
        nonlocal written
        before, written = written, written + count
        if before // _PROGRESS_EVERY != written // _PROGRESS_EVERY:
            context.log.info(f"{written:,} writes acknowledged")

    try:
        generator_config = config.to_generator_config(lake.orders_table)
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
    return dg.MaterializeResult(metadata=summary_metadata(summary))
