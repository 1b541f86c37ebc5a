"""The daily partitions of the analytics assets.

One :data:`DAILY_PARTITIONS` serves every daily asset, with the day meaning what the asset documents:
the order date (UTC day of ``createdAt``) for ``sales_daily``, ``sales_hourly`` and ``daily_report``,
the event day (raw partition ``dt``) for ``cdc_event_stats``.

Why the start date is a fixed date and not "N days ago": a partitions definition that moves with
the clock renames history. The default, 2026-01-01, lies before the project's first data and before
what ``sales-cdc generate --days N`` produces for the usual N (it backdates ``createdAt`` by up to N
days, so orders get order dates in the past while their change events all land in today's raw
partition). Set ``SALES_CDC_PARTITIONS_START=YYYY-MM-DD`` to start earlier (backdating further, or
older data on AWS). ``end_offset=1`` makes today's partition exist, so the near-real-time refresh
of the current day has a partition to write.
"""

from __future__ import annotations

import os
from datetime import date

from dagster import DailyPartitionsDefinition

from infra.lake import InvalidIdentifierError

DEFAULT_PARTITIONS_START = "2026-01-01"
PARTITIONS_START_ENV = "SALES_CDC_PARTITIONS_START"


def partitions_start(environ: dict[str, str] | None = None) -> str:
    """The first partition day: ``$SALES_CDC_PARTITIONS_START`` (YYYY-MM-DD) or 2026-01-01."""
    value = (environ if environ is not None else os.environ).get(PARTITIONS_START_ENV, "").strip()
    if not value:
        return DEFAULT_PARTITIONS_START
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.isoformat() != value:
        raise InvalidIdentifierError(
            PARTITIONS_START_ENV, value, f"a date YYYY-MM-DD (unset it to use {DEFAULT_PARTITIONS_START})"
        )
    return value


DAILY_PARTITIONS = DailyPartitionsDefinition(start_date=partitions_start(), end_offset=1, timezone="UTC")
