"""Planning a run: the exact, ordered change events a :class:`GeneratorConfig` stands for.

:func:`iter_writes` (and :func:`plan_writes`, its list) is pure: the same config (seed and start
time) gives byte-identical items. Every order starts with an INSERT; MODIFYs follow its lifecycle
or correct a field; a REMOVE deletes it. Every write is a full image: a MODIFY is a PutItem of the
order's new state (so the stream carries complete NEW_AND_OLD_IMAGES) and always changes at least
``updatedAt`` and one business field, because a no-op write would still appear as a MODIFY in
moto's stream.
"""

from __future__ import annotations

import itertools
import random
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from boto3.dynamodb.types import TypeSerializer

from lambda_transform.schema import ATTRIBUTE_TO_COLUMN
from sales_cdc.generator.catalog import (
    CATEGORIES,
    CATEGORY_BY_NAME,
    OPEN_STATUSES,
    PRODUCTS_BY_CATEGORY,
    PRODUCTS_BY_ID,
    QUANTITIES,
    QUANTITY_CUM_WEIGHTS,
    STATUS_TRANSITIONS,
    make_customers,
)
from sales_cdc.generator.config import GeneratorConfig, validate_config

ChangeKind = Literal["INSERT", "MODIFY", "REMOVE"]
CHANGE_KINDS: tuple[ChangeKind, ...] = ("INSERT", "MODIFY", "REMOVE")

# The attributes of an order item, in the order they are written (byte-identical output needs a
# fixed order). They are exactly the business fields of the CDC row schema.
ITEM_ATTRIBUTES: tuple[str, ...] = (
    "orderId",
    "customerId",
    "customerName",
    "productId",
    "productName",
    "category",
    "quantity",
    "unitPrice",
    "status",
    "createdAt",
    "updatedAt",
)
assert set(ITEM_ATTRIBUTES) == set(ATTRIBUTE_TO_COLUMN), "item attributes drifted from the CDC row schema"

# Without --days and without a rate, consecutive events are this far apart in simulated time,
# roughly the pace the emulator accepts writes at.
DEFAULT_EVENT_SPACING_MS = 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CENT = Decimal("0.01")
# boto3's encoder of DynamoDB attribute values; it keeps no state, so the writer threads share it.
# It costs ~6 µs more per item than the hand-written encoder it replaced (10.1 vs 3.6 µs on 3,000
# planned items): ~1 % of the 0.48 CPU ms per event bench_generator.py measures end to end, whose
# verdict still passes (11.1x, target 10x). Not worth keeping a copy of boto3's encoder for.
_SERIALIZE = TypeSerializer().serialize


@dataclass(frozen=True)
class PlannedWrite:
    """One planned change event: a full new image (INSERT, MODIFY) or a deletion (REMOVE).

    ``item`` holds Python values (``quantity`` int, ``unitPrice`` Decimal with 2 places); for a
    REMOVE it is the image being deleted, which the stream will carry as the old image.
    """

    seq: int
    kind: ChangeKind
    order_id: str
    item: Mapping[str, Any]

    def request(self) -> dict[str, Any]:
        """This write as one entry of a BatchWriteItem request."""
        if self.kind == "REMOVE":
            return {"DeleteRequest": {"Key": to_attribute_values({"orderId": self.order_id})}}
        return {"PutRequest": {"Item": to_attribute_values(self.item)}}


def to_attribute_values(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """An order item in DynamoDB's attribute-value form (numbers exact, attribute order kept).

    Strings become ``S``, ints and Decimals ``N`` (written as given: ``Decimal("19.90")`` stays
    ``"19.90"``); a float raises TypeError, since it would not be exact.
    """
    return {name: _SERIALIZE(value) for name, value in item.items()}


def iso_utc(ms: int) -> str:
    """Milliseconds since the epoch as ISO-8601 UTC with milliseconds, e.g. ``2026-11-21T23:20:58.123Z``."""
    t = _EPOCH + timedelta(milliseconds=ms)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{ms % 1000:03d}Z"
    )


def epoch_ms(moment: datetime) -> int:
    """``moment`` as whole milliseconds since the epoch (the unit of the simulated clock)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def planned_counts(config: GeneratorConfig) -> dict[ChangeKind, int]:
    """How many writes of each kind :func:`plan_writes` produces for a (valid) config."""
    u, d = config.update_ratio, config.delete_ratio
    if config.orders is not None:
        inserts = config.orders
        total = round(inserts / (1 - u - d)) if inserts else 0
        updates, deletes = round(total * u), min(round(total * d), inserts)
    else:
        total = config.events or 0
        updates, deletes = round(total * u), round(total * d)
        inserts = total - updates - deletes
        if total and inserts < 1:  # rounding left no new order, but the first event must be one
            if updates:
                updates -= 1
            else:
                deletes -= 1
            inserts = 1
        if deletes > inserts:  # rounding again: validation guarantees the ratios allow deletes ≤ inserts
            excess = deletes - inserts
            inserts, deletes = inserts + excess, deletes - excess
    return {"INSERT": inserts, "MODIFY": updates, "REMOVE": deletes}


# Relative order volume by hour of day (UTC): quiet nights, busy evenings. Used with --days so that
# the hourly trend looks like a shop's.
_HOURLY_WEIGHTS = (
    0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.25, 0.45, 0.65, 0.80, 0.90, 0.95,
    1.00, 0.95, 0.90, 0.90, 0.95, 1.00, 1.00, 1.00, 0.95, 0.80, 0.60, 0.40,
)  # fmt: skip


def _event_times(config: GeneratorConfig, total: int, rng: random.Random) -> list[int]:
    """Non-decreasing simulated times (epoch ms) for ``total`` events."""
    assert config.start is not None
    base = epoch_ms(config.start)
    if config.days > 0:
        # Backdated: a Poisson-like spread over [start - days, start] shaped by the hour of day.
        low = base - round(config.days * 86_400_000)
        times = []
        while len(times) < total:
            t = rng.randint(low, base)
            if rng.random() < _HOURLY_WEIGHTS[(t // 3_600_000) % 24]:
                times.append(t)
        times.sort()
        return times
    if config.rate:
        # Simulated time then matches the paced write schedule: event i is due at start + i / rate.
        return [base + round(i * 1000 / config.rate) for i in range(total)]
    return [base + i * DEFAULT_EVENT_SPACING_MS for i in range(total)]


class _Pool:
    """A set of order ids with O(1) add, remove and seeded random choice (order is deterministic)."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, key: str) -> None:
        self._index[key] = len(self._items)
        self._items.append(key)

    def remove(self, key: str) -> None:
        i = self._index.pop(key)
        last = self._items.pop()
        if i < len(self._items):
            self._items[i] = last
            self._index[last] = i

    def choice(self, rng: random.Random) -> str:
        return self._items[rng.randrange(len(self._items))]


_MIDDLE_INITIAL = re.compile(r"^(\S+) [A-Z]\. (.+)$")


def _name_correction(name: str, rng: random.Random) -> str:
    """A corrected spelling of a customer name: adds or removes a middle initial (always differs)."""
    match = _MIDDLE_INITIAL.match(name)
    if match:
        return f"{match.group(1)} {match.group(2)}"
    first, _, rest = name.partition(" ")
    return f"{first} {chr(ord('A') + rng.randrange(26))}. {rest}".rstrip()


def _discounted(price: Decimal, rng: random.Random) -> Decimal:
    percent = rng.choice((5, 10, 15, 20, 25))
    return (price * (100 - percent) / 100).quantize(_CENT, rounding=ROUND_HALF_UP)


def _pick_kind(remaining: Mapping[ChangeKind, int], live: int, rng: random.Random) -> ChangeKind:
    """The kind of the next event, drawn in proportion to how many of each remain, among the kinds
    possible with ``live`` orders in the table.

    A delete may not take the last live order while updates still need one and no new order will
    come: with deletes ≤ inserts this guarantees the plan always completes.
    """
    weights = {
        "INSERT": remaining["INSERT"],
        "MODIFY": remaining["MODIFY"] if live else 0,
        "REMOVE": remaining["REMOVE"]
        if live and (live > 1 or remaining["INSERT"] or not remaining["MODIFY"])
        else 0,
    }
    assert any(weights.values()), f"no change is possible (remaining {dict(remaining)}, live orders {live})"
    pick = rng.random() * sum(weights.values())
    for candidate in CHANGE_KINDS:
        if pick < weights[candidate]:
            return candidate
        pick -= weights[candidate]
    return "REMOVE"


def _changed(item: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of ``item`` with one business change: its next lifecycle status, or a correction (a
    quantity, a price, a customer name). Never the same values, so the write is never a no-op."""
    item = dict(item)
    status = item["status"]
    if status in OPEN_STATUSES and rng.random() < 0.8:
        targets, target_weights = zip(*STATUS_TRANSITIONS[status], strict=True)
        item["status"] = rng.choices(targets, weights=target_weights)[0]
    elif status == "DELIVERED" and rng.random() < 0.5:
        item["status"] = "RETURNED"
    elif status == "PLACED" and rng.random() < 0.75:
        product_price = PRODUCTS_BY_ID[item["productId"]].list_price
        if rng.random() < 0.7:  # quantity fix: always a different quantity
            max_qty = len(CATEGORY_BY_NAME[item["category"]].quantity_weights)
            item["quantity"] = rng.choice([q for q in range(1, max(max_qty, 2) + 1) if q != item["quantity"]])
        elif item["unitPrice"] != product_price:  # price correction: a discount withdrawn
            item["unitPrice"] = product_price
        else:  # price adjustment: a discount granted after the fact
            item["unitPrice"] = _discounted(product_price, rng)
    else:  # customer data correction, possible in every status
        item["customerName"] = _name_correction(item["customerName"], rng)
    return item


def plan_writes(config: GeneratorConfig) -> list[PlannedWrite]:
    """The complete, ordered sequence of change events for ``config`` (see :func:`iter_writes`)."""
    return list(iter_writes(config))


def iter_writes(config: GeneratorConfig) -> Iterator[PlannedWrite]:
    """The ordered change events for ``config`` (validated first), produced one at a time.

    Pure and deterministic: all randomness comes from the seed, all timestamps from ``start``
    (``start=None`` means now, so pass it for byte-identical output). Every order starts with an
    INSERT; MODIFYs follow the lifecycle PLACED → PAID → SHIPPED → DELIVERED (or CANCELLED, or
    RETURNED after delivery) or correct a field; nothing is written to an order after its REMOVE.
    The numbers of each kind are exactly :func:`planned_counts`, mixed evenly through the run.
    """
    validate_config(config)
    config = config.resolved()
    assert config.seed is not None and config.start is not None
    counts = planned_counts(config)
    total = sum(counts.values())
    rng = random.Random(config.seed)
    # Ids also depend on the start time, so that a rerun with the same seed at another time adds new
    # orders instead of overwriting the earlier run's (which the stream would show as MODIFY).
    id_rng = random.Random(f"{config.seed}/{config.start.isoformat()}")
    pool_size = config.customers or max(10, min(5000, counts["INSERT"] // 3))
    customers = make_customers(pool_size, seed=config.seed, id_rng=id_rng)
    times = _event_times(config, total, rng)
    category_weights = list(itertools.accumulate(c.weight for c in CATEGORIES))

    remaining = dict(counts)
    open_orders, closed_orders = _Pool(), _Pool()
    state: dict[str, dict[str, Any]] = {}
    updated_ms: dict[str, int] = {}

    for seq in range(total):
        now = times[seq]
        live = len(open_orders) + len(closed_orders)
        kind = _pick_kind(remaining, live, rng)
        remaining[kind] -= 1

        if kind == "INSERT":
            order_id = str(uuid.UUID(int=id_rng.getrandbits(128), version=4))
            category = rng.choices(CATEGORIES, cum_weights=category_weights)[0]
            product = rng.choice(PRODUCTS_BY_CATEGORY[category.name])
            # Repeat customers: low pool indexes are drawn more often.
            customer = customers[int(len(customers) * rng.random() ** 2)]
            cum_weights = QUANTITY_CUM_WEIGHTS[category.name]
            quantity = rng.choices(QUANTITIES[: len(cum_weights)], cum_weights=cum_weights)[0]
            price = _discounted(product.list_price, rng) if rng.random() < 0.15 else product.list_price
            stamp = iso_utc(now)
            item = {
                "orderId": order_id,
                "customerId": customer.customer_id,
                "customerName": customer.name,
                "productId": product.product_id,
                "productName": product.name,
                "category": product.category,
                "quantity": quantity,
                "unitPrice": price,
                "status": "PLACED",
                "createdAt": stamp,
                "updatedAt": stamp,
            }
            open_orders.add(order_id)
            updated_ms[order_id] = now
        elif kind == "MODIFY":
            use_open = len(open_orders) and (not len(closed_orders) or rng.random() < 0.9)
            order_id = (open_orders if use_open else closed_orders).choice(rng)
            item = _changed(state[order_id], rng)
            # Strictly increasing per order, so an update is never a no-op and orders by time.
            stamp_ms = max(now, updated_ms[order_id] + 1)
            updated_ms[order_id] = stamp_ms
            item["updatedAt"] = iso_utc(stamp_ms)
            if state[order_id]["status"] in OPEN_STATUSES and item["status"] not in OPEN_STATUSES:
                open_orders.remove(order_id)
                closed_orders.add(order_id)
        else:
            in_open = rng.randrange(live) < len(open_orders)
            order_id = (open_orders if in_open else closed_orders).choice(rng)
            (open_orders if in_open else closed_orders).remove(order_id)
            item = state.pop(order_id)
            del updated_ms[order_id]
            yield PlannedWrite(seq, "REMOVE", order_id, item)
            continue
        state[order_id] = item
        yield PlannedWrite(seq, kind, order_id, item)


def expected_table(writes: Iterable[PlannedWrite]) -> dict[str, Mapping[str, Any]]:
    """The items the table holds after ``writes`` were applied to it in order (order id → item)."""
    final: dict[str, Mapping[str, Any]] = {}
    for write in writes:
        if write.kind == "REMOVE":
            final.pop(write.order_id, None)
        else:
            final[write.order_id] = write.item
    return final
