"""What a generator run is asked to do (:class:`GeneratorConfig`), its validation and the errors."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

# New orders of a run when neither a number of orders nor of events is given (CLI and asset alike).
DEFAULT_ORDERS = 1000


class GeneratorError(RuntimeError):
    """The generator could not do what was asked; the message says what and what to do."""


class GeneratorConfigError(GeneratorError, ValueError):
    """A configuration value is invalid; raised before anything is written.

    ``field`` names the :class:`GeneratorConfig` field (the CLI maps it to its option).
    """

    def __init__(self, field: str, value: object, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate and how to write it.

    Give exactly one of ``orders`` (new orders; updates and deletes are added so that they make up
    ``update_ratio`` and ``delete_ratio`` of all events) or ``events`` (total change events, mixed
    by the same ratios). ``seed=None`` picks a random seed and ``start=None`` the current time;
    :meth:`resolved` fixes both, and the summary reports them, so any run can be reproduced.
    """

    orders: int | None = None
    events: int | None = None
    update_ratio: float = 0.3
    delete_ratio: float = 0.05
    seed: int | None = None
    rate: float | None = None  # change events per second; None = as fast as the table accepts
    start: datetime | None = None  # base time of the simulated clock (UTC); None = now
    days: float = 0.0  # > 0: spread createdAt over the ``days`` before ``start`` (daily partitions)
    table: str = "orders"
    customers: int | None = None  # customer pool size; None = about one customer per 3 orders
    writers: int = 2  # writer threads; each owns a shard of the order ids
    max_attempts: int = 8  # consecutive attempts without progress before a batch is given up
    retry_base_s: float = 0.05
    retry_cap_s: float = 5.0
    retry_deadline_s: float = 120.0  # longest time one batch may spend being retried

    def resolved(self) -> GeneratorConfig:
        """A copy with ``seed`` and ``start`` fixed (random seed, current time) if they were None."""
        seed = self.seed if self.seed is not None else random.SystemRandom().randrange(2**31)
        start = self.start if self.start is not None else datetime.now(UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)  # naive times are taken as UTC
        return replace(self, seed=seed, start=start.astimezone(UTC))


def _check_number(
    name: str,
    value: object,
    minimum: float,
    what: str,
    *,
    integer: bool = False,
    maximum: float | None = None,
    above_maximum: str | None = None,
) -> None:
    """Raise unless ``value`` is a finite number (an int if ``integer``, never a bool) from ``minimum``
    to ``maximum``; the message says ``what`` is expected (``above_maximum`` when it is too large)."""
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or value < minimum:  # type: ignore[arg-type]
        raise GeneratorConfigError(name, value, f"{name} = {value!r} is invalid: {what}.")
    if maximum is not None and value > maximum:  # type: ignore[operator]
        raise GeneratorConfigError(name, value, f"{name} = {value!r} is invalid: {above_maximum or what}.")


def validate_config(config: GeneratorConfig) -> None:
    """Raise :class:`GeneratorConfigError` naming the first invalid value and how to fix it."""
    if (config.orders is None) == (config.events is None):
        raise GeneratorConfigError(
            "orders",
            config.orders,
            "give exactly one of orders (new orders to create) or events (total change events)"
            f"; got orders={config.orders!r}, events={config.events!r}.",
        )
    if config.orders is not None:
        _check_number("orders", config.orders, 0, "the number of new orders must be ≥ 0", integer=True)
    if config.events is not None:
        _check_number("events", config.events, 0, "the number of events must be ≥ 0", integer=True)
    for name in ("update_ratio", "delete_ratio"):
        _check_number(name, getattr(config, name), 0, "a ratio must be between 0 and 1", maximum=1)
    total = config.update_ratio + config.delete_ratio
    if total >= 1:
        raise GeneratorConfigError(
            "update_ratio",
            config.update_ratio,
            f"update_ratio + delete_ratio = {config.update_ratio} + {config.delete_ratio} = {total:g}; "
            "they are shares of all change events and must add up to less than 1 (the rest are new orders).",
        )
    insert_ratio = 1 - total
    if config.delete_ratio > insert_ratio + 1e-9:
        raise GeneratorConfigError(
            "delete_ratio",
            config.delete_ratio,
            f"delete_ratio = {config.delete_ratio} exceeds the share of new orders ({insert_ratio:g}); "
            "an order can be deleted only once, so lower delete_ratio or update_ratio.",
        )
    if config.seed is not None:
        _check_number("seed", config.seed, 0, "the seed must be an integer ≥ 0", integer=True)
    if config.rate is not None:
        _check_number("rate", config.rate, 0, "the rate must be a positive number of events/s")
        if config.rate == 0:
            raise GeneratorConfigError(
                "rate",
                config.rate,
                "rate = 0 is invalid: give a positive number of events/s, or none for full speed.",
            )
    days_what = "days must be ≥ 0 (0 = timestamps from now on)"
    _check_number("days", config.days, 0, days_what, maximum=3660, above_maximum="at most 3660 (ten years)")
    if config.customers is not None:
        _check_number("customers", config.customers, 1, "the customer pool needs ≥ 1 customer", integer=True)
    writers_what = "at least one writer thread is needed"
    _check_number(
        "writers", config.writers, 1, writers_what, integer=True, maximum=64, above_maximum="at most 64"
    )
    if not isinstance(config.table, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", config.table):
        raise GeneratorConfigError(
            "table",
            config.table,
            f"table = {config.table!r} is not a DynamoDB table name (3-255 characters of A-Z a-z 0-9 _ . -).",
        )
    _check_number("max_attempts", config.max_attempts, 1, "at least one attempt is needed", integer=True)
    for name in ("retry_base_s", "retry_cap_s", "retry_deadline_s"):
        _check_number(name, getattr(config, name), 0, "a duration must be ≥ 0 seconds")
    if config.start is not None and not isinstance(config.start, datetime):
        raise GeneratorConfigError("start", config.start, f"start = {config.start!r} is not a datetime.")
