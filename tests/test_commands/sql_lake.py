"""Test helper (no tests): a provisioned local deployment whose raw CDC table holds a few recent changes.

Four orders changed within the current UTC hour, so the README's example questions ("this week",
"today", "the last hour") have answers: o1 placed then paid, o2 placed then cancelled, o3 placed
(delivered twice), o4 placed then deleted. Used by the ``sales-cdc sql`` and DB-API tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from test_local_aws.test_athena.lake import Lake, cdc_row, redelivery

from local_aws.provision import provision
from local_aws.server import reset_emulator
from sales_cdc.settings import Settings, load_settings, outputs_path

# (order, sequence, event, status, product, category, quantity, unit price, seconds after the first change)
CHANGES = [
    ("o1", 1, "INSERT", "PLACED", "p1", "books", 2, "10.00", 0),
    ("o2", 2, "INSERT", "PLACED", "p2", "books", 1, "5.00", 1),
    ("o3", 3, "INSERT", "PLACED", "p1", "toys", 1, "10.00", 2),
    ("o4", 4, "INSERT", "PLACED", "p3", "toys", 4, "1.25", 3),
    ("o1", 5, "MODIFY", "PAID", "p1", "books", 2, "10.00", 4),
    ("o2", 6, "MODIFY", "CANCELLED", "p2", "books", 1, "5.00", 5),
    ("o4", 7, "REMOVE", "PLACED", "p3", "toys", 4, "1.25", 6),
]
LAG_MS = [100, 200, 300, 400, 500, 600, 1000]  # arrival lag of each change, in CHANGES order


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def deploy_small_lake(endpoint: str) -> tuple[Settings, Lake]:
    """Reset and provision the emulator, create the raw CDC table and write CHANGES into this hour."""
    reset_emulator(endpoint)
    provision(endpoint, report=lambda line: None, outputs_path=outputs_path("local"))
    settings = load_settings("local")
    lake = Lake(endpoint, database=settings.glue_database, bucket=settings.bucket)
    lake.create_raw_table(settings.raw_cdc_table)
    now = datetime.now(UTC).replace(tzinfo=None)
    first = max(now.replace(minute=0, second=0, microsecond=0), now - timedelta(seconds=30))
    created: dict[str, str] = {}
    rows = []
    for (order, sequence, event, status, product, category, quantity, price, offset), lag in zip(
        CHANGES, LAG_MS, strict=True
    ):
        moment = first + timedelta(seconds=offset)
        created.setdefault(order, _text(moment))
        rows.append(
            cdc_row(
                order,
                sequence,
                event,
                event_time=_text(moment),
                arrival_time=_text(moment + timedelta(milliseconds=lag)),
                status=status,
                quantity=quantity,
                unit_price=price,
                product_id=product,
                category=category,
                created_at=created[order],
            )
        )
    rows.append(redelivery(rows[2], _text(first + timedelta(seconds=9))))  # o3's insert, delivered again
    dt, hour = first.strftime("%Y-%m-%d"), first.strftime("%H")
    lake.put_rows(rows, dt, hour)
    lake.register(dt, hour, settings.raw_cdc_table)
    return settings, lake
