"""``sales-cdc generate``: write realistic order change events to the deployment's orders table."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import datetime
from typing import Any

import click

from infra.clients import LOCAL_CREDENTIALS, boto3_client
from sales_cdc.commands import from_options
from sales_cdc.generator import (
    DEFAULT_ORDERS,
    GeneratorConfig,
    GeneratorConfigError,
    GeneratorError,
    GeneratorSummary,
    ProgressReport,
    check_table,
    client_config,
    generate_orders,
    planned_counts,
    validate_config,
)
from sales_cdc.settings import Settings, SettingsError, load_settings

# GeneratorConfig field -> the option a user typed, so that errors point at the option.
_OPTION_OF_FIELD = {
    "orders": "--orders",
    "events": "--events",
    "seed": "--seed",
    "rate": "--rate",
    "update_ratio": "--update-ratio",
    "delete_ratio": "--delete-ratio",
    "days": "--days",
    "start": "--start",
    "table": "--table",
    "writers": "--writers",
}


def _parse_start(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 time; use e.g. 2026-11-21T00:00:00Z.", ctx, param
        ) from None


def dynamodb_client(settings: Settings, writers: int) -> Any:
    """A DynamoDB client for the deployment, with a connection per writer thread."""
    local = settings.deployment == "local"
    if local and not settings.endpoint_url:
        raise click.ClickException(
            "the local emulator is not running; start it with `sales-cdc local up` "
            "(or set SALES_CDC_ENDPOINT_URL to its endpoint)."
        )
    # Locally the emulator's credentials; on AWS the profile's or the standard chain's (``{}``), even
    # at a custom endpoint.
    return boto3_client(
        "dynamodb",
        settings.endpoint_url,
        settings.region,
        config=client_config(writers),
        credentials=LOCAL_CREDENTIALS if local else {},
        profile_name=None if local else settings.profile_name,
    )


def _bad_parameter(error: GeneratorConfigError) -> click.BadParameter:
    return click.BadParameter(str(error), param_hint=_OPTION_OF_FIELD.get(error.field, error.field))


def _summary_text(summary: GeneratorSummary) -> str:
    kinds = summary.writes_by_kind
    width = max(len(f"{n:,}") for n in kinds.values())
    lines = [
        f"Wrote {summary.items_written:,} change events to table {summary.table!r} "
        f"in {summary.duration_s:.2f} s ({summary.rate:,.0f} events/s).",
        *(f"  {kind:<7} {count:>{width},}" for kind, count in kinds.items()),
        f"  orders created {summary.orders_created:,}, deleted {summary.orders_deleted:,}, "
        f"in the table {summary.orders_in_table:,}",
        f"  {summary.requests:,} BatchWriteItem requests, {summary.retries:,} retries",
        f"  reproduce with --seed {summary.seed} --start {summary.start}",
    ]
    return "\n".join(lines)


@click.command("generate")
@click.option("--orders", type=int, help=f"New orders to create [default: {DEFAULT_ORDERS} unless --events].")
@click.option("--events", type=int, help="Total change events to write instead of a number of new orders.")
@click.option("--seed", type=int, help="Random seed; the same seed and --start write the same events.")
@click.option("--rate", type=float, help="Change events per second [default: as fast as the table accepts].")
@click.option(
    "--update-ratio", type=float, default=0.3, show_default=True, help="Share of events that are updates."
)
@click.option(
    "--delete-ratio", type=float, default=0.05, show_default=True, help="Share of events that are deletions."
)
@click.option(
    "--days",
    type=float,
    default=0,
    show_default=True,
    help="Spread createdAt over the last N days (fills daily partitions of the analytics).",
)
@click.option(
    "--start",
    callback=_parse_start,
    help="Base time of the timestamps, ISO-8601 (e.g. 2026-11-21T00:00:00Z) [default: now].",
)
@click.option("--table", help="DynamoDB table [default: the deployment's orders table].")
@click.option(
    "--writers", type=int, default=2, show_default=True, help="Concurrent writers (orders are sharded by id)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def generate(
    ctx: click.Context,
    orders: int | None,
    events: int | None,
    seed: int | None,
    rate: float | None,
    update_ratio: float,
    delete_ratio: float,
    days: float,
    start: datetime | None,
    table: str | None,
    writers: int,
    as_json: bool,
) -> None:
    """Write realistic tech-gadget orders and their changes (inserts, updates, deletes) to DynamoDB.

    Every argument and the table are checked before anything is written.
    """
    config = from_options(
        GeneratorConfig,
        ctx.params,
        orders=DEFAULT_ORDERS if orders is None and events is None else orders,
        table=table or "orders",  # a placeholder until the deployment's table is known
    )
    try:
        validate_config(config)
    except GeneratorConfigError as exc:
        raise _bad_parameter(exc) from None

    try:
        # With --table only the endpoint and region are needed, not the whole stack's outputs.
        settings = load_settings(require_outputs=table is None)
        config = replace(config, table=table or settings.orders_table)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    client = dynamodb_client(settings, writers)
    try:
        check_table(client, config.table)
    except GeneratorConfigError as exc:
        if table is not None:
            raise _bad_parameter(exc) from None
        raise click.ClickException(str(exc)) from None
    except GeneratorError as exc:
        raise click.ClickException(str(exc)) from None

    planned = sum(planned_counts(config).values())
    try:
        if sys.stderr.isatty():
            with click.progressbar(length=planned, label="Writing change events", file=sys.stderr) as bar:
                summary = generate_orders(client, config, progress=bar.update)
        else:
            # No terminal to draw a bar on (a pipe, a CI log): the run log's lines instead.
            report = ProgressReport(planned, lambda line: click.echo(line, err=True))
            summary = generate_orders(client, config, progress=report)
    except GeneratorError as exc:
        raise click.ClickException(str(exc)) from None

    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        click.echo(_summary_text(summary))
