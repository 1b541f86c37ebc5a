"""The order generator: realistic tech-gadget orders written to the DynamoDB ``orders`` table.

Three parts, each usable on its own:

- **catalog** — products with categories, list prices and price bands; customers from Faker.
- **lifecycle** — :func:`iter_writes` (and :func:`plan_writes`, its list) turns a
  :class:`GeneratorConfig` into the exact sequence of change events (INSERT new orders, MODIFY
  status transitions and corrections, REMOVE deletions). It is pure: the same config (seed and
  start time) gives byte-identical items.
- **writer** — :func:`generate_orders` validates, plans and writes with ``batch_write_item``
  (25 per request), retrying UnprocessedItems and throttling with exponential backoff and full
  jitter, optionally paced to a rate, with a few writer threads that each own a shard of the keys
  so that an order's writes always land in plan order. Planning runs alongside the writes: the
  first requests go out while the rest of the run is still being planned.

Every write is a full image: a MODIFY is a PutItem of the order's new state (so the stream carries
complete NEW_AND_OLD_IMAGES) and always changes at least ``updatedAt`` and one business field,
because a no-op write would still appear as a MODIFY in moto's stream.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from queue import Empty, SimpleQueue
from typing import Any, Literal

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from faker import Faker

from lambda_transform.schema import ATTRIBUTE_TO_COLUMN, ORDER_STATUSES

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

BATCH_LIMIT = 25  # DynamoDB's maximum number of writes in one BatchWriteItem request
# Error codes after which the same request may simply be sent again later.
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
# In rate-limited mode, due events are gathered for at most this long before they are sent: it
# keeps the request count bounded at high rates (the emulator pays ~4 ms per request) while
# adding at most this much latency. Due times are absolute, so the pace never drifts.
PACING_TICK_S = 0.05
# Without a rate, planned events are queued for the writers in chunks of this many, so that the
# first requests are sent while the rest of the run is still being planned.
DISPATCH_CHUNK = 500
# Without --days and without a rate, consecutive events are this far apart in simulated time,
# roughly the pace the emulator accepts writes at.
DEFAULT_EVENT_SPACING_MS = 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CENT = Decimal("0.01")


# --------------------------------------------------------------------------------------- errors


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


class GeneratorWriteError(GeneratorError):
    """Writes could not be completed; ``summary`` counts what was acknowledged before the failure."""

    def __init__(self, message: str, summary: GeneratorSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


# -------------------------------------------------------------------------------------- catalog


@dataclass(frozen=True)
class Category:
    """A product category with its price band (every list price in it lies within the band)."""

    name: str
    code: str
    min_price: Decimal
    max_price: Decimal
    weight: float  # relative popularity: how often an order is for this category
    quantity_weights: tuple[float, ...]  # weight of quantity 1, 2, 3, ...


@dataclass(frozen=True)
class Product:
    """One product of the catalog."""

    product_id: str
    name: str
    category: str
    list_price: Decimal


def _category(name: str, code: str, band: tuple[str, str], weight: float, qty: tuple[float, ...]) -> Category:
    return Category(name, code, Decimal(band[0]), Decimal(band[1]), weight, qty)


_SINGLE = (0.93, 0.06, 0.01)  # big-ticket items: almost always one
_FEW = (0.85, 0.11, 0.04)
_MANY = (0.55, 0.22, 0.12, 0.06, 0.05)  # cables, plugs: people buy several

CATEGORIES: tuple[Category, ...] = (
    _category("laptops", "LAP", ("499.00", "3499.00"), 0.08, _SINGLE),
    _category("phones", "PHN", ("149.00", "1599.00"), 0.14, _FEW),
    _category("tablets", "TAB", ("99.00", "1499.00"), 0.07, _FEW),
    _category("audio", "AUD", ("29.00", "599.00"), 0.15, _FEW),
    _category("wearables", "WEA", ("39.00", "999.00"), 0.10, _FEW),
    _category("accessories", "ACC", ("9.00", "199.00"), 0.22, _MANY),
    _category("monitors", "MON", ("129.00", "1499.00"), 0.04, _FEW),
    _category("smart-home", "SMH", ("19.00", "349.00"), 0.10, _MANY),
    _category("gaming", "GAM", ("49.00", "799.00"), 0.07, _FEW),
    _category("cameras", "CAM", ("199.00", "2999.00"), 0.03, _SINGLE),
)
CATEGORY_BY_NAME: dict[str, Category] = {c.name: c for c in CATEGORIES}

# (category, product name, list price). Kept as data so that a product's price is the same in every
# run and every seed: only the orders are random.
_PRODUCTS: tuple[tuple[str, str, str], ...] = (
    ("laptops", "Apple MacBook Air 13", "1099.00"),
    ("laptops", "Apple MacBook Pro 14", "1999.00"),
    ("laptops", "Dell XPS 13", "1299.99"),
    ("laptops", "Dell Inspiron 15", "649.99"),
    ("laptops", "Lenovo ThinkPad X1 Carbon", "1849.00"),
    ("laptops", "Lenovo IdeaPad Slim 5", "749.99"),
    ("laptops", "HP Spectre x360 14", "1549.99"),
    ("laptops", "HP Pavilion 15", "599.99"),
    ("laptops", "ASUS Zenbook 14 OLED", "999.99"),
    ("laptops", "Acer Swift Go 14", "799.99"),
    ("laptops", "Microsoft Surface Laptop 7", "1199.99"),
    ("laptops", "Framework Laptop 13", "1049.00"),
    ("phones", "Apple iPhone 16", "799.00"),
    ("phones", "Apple iPhone 16 Pro Max", "1199.00"),
    ("phones", "Samsung Galaxy S25", "799.99"),
    ("phones", "Samsung Galaxy S25 Ultra", "1299.99"),
    ("phones", "Samsung Galaxy A55", "449.99"),
    ("phones", "Google Pixel 9", "799.00"),
    ("phones", "Google Pixel 9a", "499.00"),
    ("phones", "OnePlus 13", "899.99"),
    ("phones", "Motorola Edge 2024", "549.99"),
    ("phones", "Nothing Phone (2a)", "349.00"),
    ("tablets", "Apple iPad Air 11", "599.00"),
    ("tablets", "Apple iPad Pro 13", "1299.00"),
    ("tablets", "Apple iPad mini", "499.00"),
    ("tablets", "Samsung Galaxy Tab S10+", "999.99"),
    ("tablets", "Samsung Galaxy Tab A9", "179.99"),
    ("tablets", "Amazon Fire HD 10", "139.99"),
    ("tablets", "Lenovo Tab P12", "349.99"),
    ("tablets", "Microsoft Surface Pro 11", "999.99"),
    ("audio", "Sony WH-1000XM5", "399.99"),
    ("audio", "Apple AirPods Pro 2", "249.00"),
    ("audio", "Apple AirPods 4", "129.00"),
    ("audio", "Bose QuietComfort Ultra Headphones", "429.00"),
    ("audio", "Sennheiser Momentum 4", "379.95"),
    ("audio", "JBL Flip 6", "129.95"),
    ("audio", "JBL Tune 770NC", "129.95"),
    ("audio", "Sonos Era 100", "249.00"),
    ("audio", "Anker Soundcore Liberty 4 NC", "99.99"),
    ("audio", "Beats Studio Buds+", "169.99"),
    ("wearables", "Apple Watch Series 10", "399.00"),
    ("wearables", "Apple Watch Ultra 2", "799.00"),
    ("wearables", "Samsung Galaxy Watch 7", "299.99"),
    ("wearables", "Garmin Forerunner 265", "449.99"),
    ("wearables", "Garmin Fenix 8", "899.99"),
    ("wearables", "Fitbit Charge 6", "159.95"),
    ("wearables", "Google Pixel Watch 3", "349.99"),
    ("wearables", "Oura Ring 4", "349.00"),
    ("wearables", "Xiaomi Smart Band 9", "49.99"),
    ("accessories", "Anker 737 Power Bank", "109.99"),
    ("accessories", "Belkin 3-in-1 MagSafe Charger", "129.99"),
    ("accessories", "Logitech MX Master 3S", "99.99"),
    ("accessories", "Logitech MX Keys S", "109.99"),
    ("accessories", "Apple USB-C Charge Cable 2m", "19.00"),
    ("accessories", "Samsung 45W USB-C Charger", "49.99"),
    ("accessories", "Spigen Ultra Hybrid Case", "15.99"),
    ("accessories", "SanDisk Extreme 1TB Portable SSD", "119.99"),
    ("accessories", "UGREEN 7-in-1 USB-C Hub", "39.99"),
    ("accessories", "Apple AirTag 4-Pack", "99.00"),
    ("accessories", "Tempered Glass Screen Protector", "12.99"),
    ("monitors", "Dell UltraSharp U2723QE", "629.99"),
    ("monitors", "LG UltraGear 27GR95QE", "999.99"),
    ("monitors", "Samsung Odyssey G7 32", "699.99"),
    ("monitors", "ASUS ProArt PA278CV", "329.00"),
    ("monitors", "BenQ PD2705U", "549.00"),
    ("monitors", "LG 27UP850-W", "449.99"),
    ("smart-home", "Amazon Echo Dot", "49.99"),
    ("smart-home", "Google Nest Hub", "99.99"),
    ("smart-home", "Philips Hue White and Color Starter Kit", "199.99"),
    ("smart-home", "Ring Video Doorbell 4", "219.99"),
    ("smart-home", "TP-Link Kasa Smart Plug 4-Pack", "29.99"),
    ("smart-home", "Ecobee Smart Thermostat Premium", "249.99"),
    ("smart-home", "Arlo Pro 5S Camera", "249.99"),
    ("gaming", "Sony PlayStation 5 Slim", "499.99"),
    ("gaming", "Microsoft Xbox Series X", "599.99"),
    ("gaming", "Nintendo Switch OLED", "349.99"),
    ("gaming", "Valve Steam Deck OLED 512GB", "549.00"),
    ("gaming", "Xbox Wireless Controller", "59.99"),
    ("gaming", "DualSense Wireless Controller", "74.99"),
    ("gaming", "Meta Quest 3S", "299.99"),
    ("cameras", "Sony Alpha 7 IV", "2499.99"),
    ("cameras", "Canon EOS R6 Mark II", "2299.00"),
    ("cameras", "Fujifilm X-T5", "1699.00"),
    ("cameras", "GoPro HERO13 Black", "399.99"),
    ("cameras", "DJI Osmo Pocket 3", "519.00"),
    ("cameras", "DJI Mini 4 Pro", "759.00"),
    ("cameras", "Insta360 X4", "499.99"),
)


def _build_catalog() -> tuple[Product, ...]:
    numbers: dict[str, int] = {}
    products = []
    for category, name, price in _PRODUCTS:
        code = CATEGORY_BY_NAME[category].code
        numbers[code] = numbers.get(code, 0) + 1
        products.append(Product(f"{code}-{numbers[code]:03d}", name, category, Decimal(price)))
    return tuple(products)


CATALOG: tuple[Product, ...] = _build_catalog()
PRODUCTS_BY_CATEGORY: dict[str, tuple[Product, ...]] = {
    c.name: tuple(p for p in CATALOG if p.category == c.name) for c in CATEGORIES
}
PRODUCTS_BY_ID: dict[str, Product] = {p.product_id: p for p in CATALOG}
_QUANTITIES = tuple(range(1, 1 + max(len(c.quantity_weights) for c in CATEGORIES)))
_QUANTITY_CUM_WEIGHTS: dict[str, list[float]] = {
    c.name: list(itertools.accumulate(c.quantity_weights)) for c in CATEGORIES
}


@dataclass(frozen=True)
class Customer:
    """A customer of the pool orders are drawn from."""

    customer_id: str
    name: str


def make_customers(count: int, *, seed: int, id_rng: random.Random) -> list[Customer]:
    """``count`` customers with realistic names (Faker, seeded) and ids drawn from ``id_rng``."""
    # Unweighted draws from Faker's name lists: just as realistic names, about 12x faster than
    # frequency-weighted ones, which matters because the pool is built on every run.
    fake = Faker("en_US", use_weighting=False)
    fake.seed_instance(seed)
    return [
        Customer(f"C-{id_rng.getrandbits(40):010x}", f"{fake.first_name()} {fake.last_name()}")
        for _ in range(count)
    ]


# --------------------------------------------------------------------------------------- config


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


def _number(name: str, value: object, *, minimum: float, integer: bool, what: str) -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or value < minimum:  # type: ignore[arg-type]
        raise GeneratorConfigError(name, value, f"{name} = {value!r} is invalid: {what}.")


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
        _number("orders", config.orders, minimum=0, integer=True, what="the number of new orders must be ≥ 0")
    if config.events is not None:
        _number("events", config.events, minimum=0, integer=True, what="the number of events must be ≥ 0")
    for name in ("update_ratio", "delete_ratio"):
        value = getattr(config, name)
        _number(name, value, minimum=0, integer=False, what="a ratio must be between 0 and 1")
        if value > 1:
            raise GeneratorConfigError(
                name, value, f"{name} = {value!r} is invalid: a ratio must be between 0 and 1."
            )
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
        _number("seed", config.seed, minimum=0, integer=True, what="the seed must be an integer ≥ 0")
    if config.rate is not None:
        _number(
            "rate",
            config.rate,
            minimum=0,
            integer=False,
            what="the rate must be a positive number of events/s",
        )
        if config.rate == 0:
            raise GeneratorConfigError(
                "rate",
                config.rate,
                "rate = 0 is invalid: give a positive number of events/s, or none for full speed.",
            )
    _number(
        "days", config.days, minimum=0, integer=False, what="days must be ≥ 0 (0 = timestamps from now on)"
    )
    if config.days > 3660:
        raise GeneratorConfigError(
            "days", config.days, f"days = {config.days!r} is invalid: at most 3660 (ten years)."
        )
    if config.customers is not None:
        _number(
            "customers",
            config.customers,
            minimum=1,
            integer=True,
            what="the customer pool needs ≥ 1 customer",
        )
    _number("writers", config.writers, minimum=1, integer=True, what="at least one writer thread is needed")
    if config.writers > 64:
        raise GeneratorConfigError(
            "writers", config.writers, f"writers = {config.writers} is invalid: at most 64."
        )
    if not isinstance(config.table, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", config.table):
        raise GeneratorConfigError(
            "table",
            config.table,
            f"table = {config.table!r} is not a DynamoDB table name (3-255 characters of A-Z a-z 0-9 _ . -).",
        )
    _number(
        "max_attempts", config.max_attempts, minimum=1, integer=True, what="at least one attempt is needed"
    )
    for name in ("retry_base_s", "retry_cap_s", "retry_deadline_s"):
        _number(name, getattr(config, name), minimum=0, integer=False, what="a duration must be ≥ 0 seconds")
    if config.start is not None and not isinstance(config.start, datetime):
        raise GeneratorConfigError("start", config.start, f"start = {config.start!r} is not a datetime.")


def client_config(writers: int = 2) -> Config:
    """botocore settings for a DynamoDB client dedicated to the generator.

    A pooled connection per writer thread; botocore's own quick retries (the generator's backoff
    handles what remains); no client-side parameter validation, which costs about a quarter of the
    client's CPU per batch and is redundant for requests built by :class:`PlannedWrite` (DynamoDB
    validates them anyway).
    """
    return Config(
        max_pool_connections=max(10, 2 * writers),
        retries={"mode": "standard", "max_attempts": 3},
        parameter_validation=False,
    )


def check_table(client: Any, table: str) -> None:
    """Check that ``table`` exists, is ACTIVE and is keyed by ``orderId`` (string), before any write."""
    try:
        description = client.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise GeneratorConfigError(
                "table",
                table,
                f"table {table!r} does not exist at {client.meta.endpoint_url}; provision the deployment "
                "first (`sales-cdc local up`) or pass the name of an existing orders table.",
            ) from None
        raise GeneratorError(f"cannot describe table {table!r} at {client.meta.endpoint_url}: {exc}") from exc
    except BotoCoreError as exc:
        raise GeneratorError(
            f"cannot reach DynamoDB at {client.meta.endpoint_url} ({exc}); "
            "is the emulator running (`sales-cdc local up`)?"
        ) from exc
    keys = {(k["AttributeName"], k["KeyType"]) for k in description.get("KeySchema", [])}
    types = {a["AttributeName"]: a["AttributeType"] for a in description.get("AttributeDefinitions", [])}
    if keys != {("orderId", "HASH")} or types.get("orderId") != "S":
        raise GeneratorConfigError(
            "table",
            table,
            f"table {table!r} is keyed by {sorted(keys)}, not by the string partition key orderId; "
            "pass the orders table of the deployment.",
        )
    status = description.get("TableStatus", "ACTIVE")
    if status != "ACTIVE":
        raise GeneratorConfigError(
            "table", table, f"table {table!r} is {status}, not ACTIVE; wait until it is ACTIVE and run again."
        )


# ------------------------------------------------------------------------------------ lifecycle


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
            return {"DeleteRequest": {"Key": {"orderId": {"S": self.order_id}}}}
        return {"PutRequest": {"Item": to_attribute_values(self.item)}}


def to_attribute_values(item: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """An order item in DynamoDB's attribute-value form (numbers exact, attribute order kept)."""
    out: dict[str, dict[str, str]] = {}
    for name, value in item.items():
        if isinstance(value, str):
            out[name] = {"S": value}
        elif isinstance(value, Decimal):
            out[name] = {"N": format(value, "f")}
        elif isinstance(value, int) and not isinstance(value, bool):
            out[name] = {"N": str(value)}
        else:
            raise TypeError(f"attribute {name!r} has unsupported value {value!r} ({type(value).__name__})")
    return out


def iso_utc(ms: int) -> str:
    """Milliseconds since the epoch as ISO-8601 UTC with milliseconds, e.g. ``2026-11-21T23:20:58.123Z``."""
    t = _EPOCH + timedelta(milliseconds=ms)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{ms % 1000:03d}Z"
    )


def _epoch_ms(moment: datetime) -> int:
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
    base = _epoch_ms(config.start)
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


# Status transitions of an open order: (next status, weight).
_TRANSITIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "PLACED": (("PAID", 0.85), ("CANCELLED", 0.15)),
    "PAID": (("SHIPPED", 0.93), ("CANCELLED", 0.07)),
    "SHIPPED": (("DELIVERED", 1.0),),
}
_OPEN_STATUSES = frozenset(_TRANSITIONS)
assert _OPEN_STATUSES | {"DELIVERED", "CANCELLED", "RETURNED"} == set(ORDER_STATUSES)
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
        # Each kind is drawn in proportion to how many of it remain, among the kinds possible now.
        # A delete may not take the last live order while updates still need one and no new order
        # will come: with deletes ≤ inserts this guarantees the plan always completes.
        weights = {
            "INSERT": remaining["INSERT"],
            "MODIFY": remaining["MODIFY"] if live else 0,
            "REMOVE": remaining["REMOVE"]
            if live and (live > 1 or remaining["INSERT"] or not remaining["MODIFY"])
            else 0,
        }
        assert any(weights.values()), f"no change is possible at event {seq} (remaining {remaining})"
        pick = rng.random() * sum(weights.values())
        kind: ChangeKind = "REMOVE"
        for candidate in CHANGE_KINDS:
            if pick < weights[candidate]:
                kind = candidate
                break
            pick -= weights[candidate]
        remaining[kind] -= 1

        if kind == "INSERT":
            order_id = str(uuid.UUID(int=id_rng.getrandbits(128), version=4))
            category = rng.choices(CATEGORIES, cum_weights=category_weights)[0]
            product = rng.choice(PRODUCTS_BY_CATEGORY[category.name])
            # Repeat customers: low pool indexes are drawn more often.
            customer = customers[int(len(customers) * rng.random() ** 2)]
            cum_weights = _QUANTITY_CUM_WEIGHTS[category.name]
            quantity = rng.choices(_QUANTITIES[: len(cum_weights)], cum_weights=cum_weights)[0]
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
            item = dict(state[order_id])
            status = item["status"]
            if status in _OPEN_STATUSES and rng.random() < 0.8:
                targets, target_weights = zip(*_TRANSITIONS[status], strict=True)
                item["status"] = rng.choices(targets, weights=target_weights)[0]
            elif status == "DELIVERED" and rng.random() < 0.5:
                item["status"] = "RETURNED"
            elif status == "PLACED" and rng.random() < 0.75:
                product_price = PRODUCTS_BY_ID[item["productId"]].list_price
                if rng.random() < 0.7:  # quantity fix: always a different quantity
                    max_qty = len(CATEGORY_BY_NAME[item["category"]].quantity_weights)
                    item["quantity"] = rng.choice(
                        [q for q in range(1, max(max_qty, 2) + 1) if q != item["quantity"]]
                    )
                elif item["unitPrice"] != product_price:  # price correction: a discount withdrawn
                    item["unitPrice"] = product_price
                else:  # price adjustment: a discount granted after the fact
                    item["unitPrice"] = _discounted(product_price, rng)
            else:  # customer data correction, possible in every status
                item["customerName"] = _name_correction(item["customerName"], rng)
            # Strictly increasing per order, so an update is never a no-op and orders by time.
            stamp_ms = max(now, updated_ms[order_id] + 1)
            updated_ms[order_id] = stamp_ms
            item["updatedAt"] = iso_utc(stamp_ms)
            if status in _OPEN_STATUSES and item["status"] not in _OPEN_STATUSES:
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


def shard_of(order_id: str, shards: int) -> int:
    """The writer shard of an order id; stable across processes (unlike ``hash``)."""
    return zlib.crc32(order_id.encode()) % shards


def pack_batches(writes: Iterable[PlannedWrite], limit: int = BATCH_LIMIT) -> list[list[PlannedWrite]]:
    """Pack writes into batches of at most ``limit`` with no key twice in a batch.

    A write goes into the first batch that is after every earlier batch holding the same key and
    has room. Writes of one key therefore keep their order when the batches are sent one after the
    other, while writes of other keys fill the gaps, so batches stay full.
    """
    batches: list[list[PlannedWrite]] = []
    last_batch: dict[str, int] = {}
    first_open = 0
    for write in writes:
        i = max(last_batch.get(write.order_id, -1) + 1, first_open)
        while i < len(batches) and len(batches[i]) >= limit:
            i += 1
        if i == len(batches):
            batches.append([])
        batches[i].append(write)
        last_batch[write.order_id] = i
        while first_open < len(batches) and len(batches[first_open]) >= limit:
            first_open += 1
    return batches


def plan_batches(writes: Sequence[PlannedWrite], writers: int) -> list[list[list[PlannedWrite]]]:
    """Writes split by key into ``writers`` shards, each packed into batches (see :func:`pack_batches`)."""
    shards: list[list[PlannedWrite]] = [[] for _ in range(writers)]
    for write in writes:
        shards[shard_of(write.order_id, writers)].append(write)
    return [pack_batches(shard) for shard in shards]


# --------------------------------------------------------------------------------------- writer


@dataclass
class GeneratorSummary:
    """What a run wrote. Counts are of writes DynamoDB acknowledged."""

    table: str
    seed: int
    start: str  # the simulated clock's base time, ISO-8601 UTC; pass it back to reproduce the run
    planned: int
    writes_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANGE_KINDS, 0))
    items_written: int = 0
    duration_s: float = 0.0
    rate: float = 0.0  # achieved writes per second
    requests: int = 0  # BatchWriteItem calls, including retries
    retries: int = 0  # calls that re-sent unprocessed or throttled writes
    orders_created: int = 0
    orders_deleted: int = 0
    orders_in_table: int = 0  # orders of this run the table holds at the end

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (also the CLI's ``--json`` output)."""
        return asdict(self)


class _Progress:
    """Counters shared by the writer threads."""

    def __init__(self, summary: GeneratorSummary) -> None:
        self.lock = threading.Lock()
        self.summary = summary

    def acknowledged(self, writes: Iterable[PlannedWrite]) -> None:
        with self.lock:
            for write in writes:
                self.summary.writes_by_kind[write.kind] += 1
                self.summary.items_written += 1

    def request(self, retry: bool) -> None:
        with self.lock:
            self.summary.requests += 1
            self.summary.retries += int(retry)


class _ShardWriter(threading.Thread):
    """Writes the batches of one shard in order; a batch is complete before the next one starts.

    Finishing a batch (including retries of its unprocessed writes) before sending the next keeps
    every order's writes in plan order, which the CDC sequence numbers must reflect.
    """

    def __init__(
        self,
        shard: int,
        client: Any,
        config: GeneratorConfig,
        progress: _Progress,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"order-writer-{shard}", daemon=True)
        self.client = client
        self.config = config
        self.progress = progress
        self.stop = stop
        self.batches: SimpleQueue[list[PlannedWrite] | None] = SimpleQueue()
        self.error: BaseException | None = None
        self.jitter = random.Random(f"jitter/{config.seed}/{shard}")  # delays only, never the data

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    batch = self.batches.get(timeout=0.1)
                except Empty:
                    continue
                if batch is None:
                    return
                self.write_batch(batch)
        except BaseException as exc:  # handed to the coordinating thread, which raises it
            self.error = exc
            self.stop.set()

    def write_batch(self, batch: list[PlannedWrite]) -> None:
        """Write one batch until every write is acknowledged, or raise GeneratorWriteError."""
        table = self.config.table
        pending = {write.order_id: write for write in batch}
        requests = [write.request() for write in batch]
        attempt = 0  # consecutive attempts that acknowledged nothing
        retries = 0
        first_failure: float | None = None
        last_problem = ""
        while True:
            self.progress.request(retry=retries > 0)
            acknowledged: list[PlannedWrite] = []
            try:
                response = self.client.batch_write_item(RequestItems={table: requests})
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in RETRYABLE_ERROR_CODES:
                    raise GeneratorWriteError(
                        f"BatchWriteItem on table {table!r} failed with {code or 'an error'}: {exc}; "
                        f"{len(pending)} write(s) of this batch were not written."
                    ) from exc
                last_problem = code
            except (BotoConnectionError, HTTPClientError) as exc:
                # The request may or may not have been applied; re-sending full images and deletes
                # is idempotent, so retrying is safe.
                last_problem = f"connection error ({exc})"
            else:
                unprocessed = response.get("UnprocessedItems", {}).get(table, [])
                still = {_request_key(r) for r in unprocessed}
                acknowledged = [w for key, w in pending.items() if key not in still]
                self.progress.acknowledged(acknowledged)
                if not unprocessed:
                    return
                pending = {key: pending[key] for key in still}
                requests = unprocessed
                last_problem = f"{len(unprocessed)} unprocessed item(s)"
            attempt = 0 if acknowledged else attempt + 1
            retries += 1
            now = time.monotonic()
            first_failure = first_failure if first_failure is not None else now
            if attempt >= self.config.max_attempts or now - first_failure > self.config.retry_deadline_s:
                raise GeneratorWriteError(
                    f"gave up on {len(pending)} write(s) to table {table!r} after {retries} retries over "
                    f"{now - first_failure:.1f} s (last problem: {last_problem}); the table is throttling or "
                    "failing — check its capacity and the endpoint, then run again (ids: "
                    f"{', '.join(sorted(pending)[:3])}{', ...' if len(pending) > 3 else ''})."
                )
            # Exponential backoff with full jitter (AWS architecture blog): spreads retries of
            # concurrent writers instead of synchronising them.
            ceiling = min(self.config.retry_cap_s, self.config.retry_base_s * 2**retries)
            if self.stop.wait(self.jitter.uniform(0, ceiling)):
                raise GeneratorWriteError(f"stopped with {len(pending)} write(s) of a batch not written.")


def _request_key(request: Mapping[str, Any]) -> str:
    if "PutRequest" in request:
        return request["PutRequest"]["Item"]["orderId"]["S"]
    return request["DeleteRequest"]["Key"]["orderId"]["S"]


def write_planned(
    client: Any,
    writes: Iterable[PlannedWrite],
    config: GeneratorConfig,
    progress: Callable[[int], None] | None = None,
) -> GeneratorSummary:
    """Write planned events to ``config.table``; returns the summary or raises GeneratorWriteError.

    ``writes`` is a list, or the iterator :func:`iter_writes` returns for ``config``: then planning
    overlaps with writing (the first batches are on their way while later events are planned) and
    the summary's planned counts come from :func:`planned_counts`. ``config`` must be resolved (see
    :meth:`GeneratorConfig.resolved`). ``progress`` is called from this thread with the number of
    writes acknowledged since its previous call.
    """
    assert config.seed is not None and config.start is not None, "pass a resolved config"
    start = iso_utc(_epoch_ms(config.start))
    summary = GeneratorSummary(table=config.table, seed=config.seed, start=start, planned=0)
    if isinstance(writes, Sequence):
        created = {w.order_id for w in writes if w.kind == "INSERT"}
        summary.planned = len(writes)
        summary.orders_created = len(created)
        summary.orders_deleted = sum(1 for w in writes if w.kind == "REMOVE")
        summary.orders_in_table = len(expected_table(writes))
    else:  # iter_writes(config): exactly planned_counts(config), every INSERT a new order
        counts = planned_counts(config)
        summary.planned = sum(counts.values())
        summary.orders_created = counts["INSERT"]
        summary.orders_deleted = counts["REMOVE"]
        summary.orders_in_table = counts["INSERT"] - counts["REMOVE"]
    shared = _Progress(summary)
    stop = threading.Event()
    workers = [_ShardWriter(i, client, config, shared, stop) for i in range(config.writers)]
    reported = 0
    held: list[list[PlannedWrite]] = [[] for _ in workers]  # per shard: a last batch not yet full

    def report() -> None:
        nonlocal reported
        with shared.lock:
            done = summary.items_written
        if progress is not None and done > reported:
            progress(done - reported)
        reported = done

    def dispatch(chunk: Sequence[PlannedWrite], hold: bool = False) -> None:
        """Queue ``chunk`` on the shards' writers. ``hold`` keeps each shard's last batch back when it
        is not full, to be packed with the next chunk: every write of a key in it comes after every
        earlier batch, and later writes of that key are packed after it, so order is kept."""
        pending = [*itertools.chain.from_iterable(held), *chunk]  # held writes came first in the plan
        shards = plan_batches(pending, config.writers)
        for i, (worker, batches) in enumerate(zip(workers, shards, strict=True)):
            held[i] = batches.pop() if hold and batches and len(batches[-1]) < BATCH_LIMIT else []
            for batch in batches:
                worker.batches.put(batch)

    started = time.monotonic()
    for worker in workers:
        worker.start()
    try:
        if config.rate is None:
            # Planning overlaps with writing: a chunk is queued as soon as it is planned.
            iterator = iter(writes)
            while not stop.is_set():
                chunk = list(itertools.islice(iterator, DISPATCH_CHUNK))
                if not chunk:
                    break
                dispatch(chunk, hold=True)
                report()
            dispatch([])  # what was held back
        else:
            writes = writes if isinstance(writes, Sequence) else list(writes)
            # Scheduled pacing: event i is due at started + i / rate. Each tick sends everything due,
            # so a slow tick is made up by the next one and the average rate does not drift.
            sent, last_dispatch = 0, 0.0
            while sent < len(writes) and not stop.is_set():
                elapsed = time.monotonic() - started
                due = min(len(writes), math.floor(elapsed * config.rate) + 1)
                if due > sent:
                    dispatch(writes[sent:due])
                    sent, last_dispatch = due, elapsed
                report()
                if sent < len(writes):
                    # Sleep until the next event is due, but gather for at least one tick after a
                    # dispatch so that high rates are sent in a few larger batches.
                    wake_at = max(sent / config.rate, last_dispatch + PACING_TICK_S)
                    stop.wait(max(0.0, wake_at - (time.monotonic() - started)))
        for worker in workers:
            worker.batches.put(None)
        while any(worker.is_alive() for worker in workers):
            for worker in workers:
                worker.join(timeout=0.1)
                report()
    except BaseException:
        stop.set()  # Ctrl-C or a failing callback: let the writers finish their current request
        for worker in workers:
            worker.join()
        raise
    summary.duration_s = time.monotonic() - started
    summary.rate = summary.items_written / summary.duration_s if summary.duration_s > 0 else 0.0
    report()
    errors = [worker.error for worker in workers if worker.error is not None]
    if errors:
        first = errors[0]
        message = str(first) if isinstance(first, GeneratorWriteError) else f"a writer failed: {first!r}"
        raise GeneratorWriteError(
            f"{message} Acknowledged {summary.items_written} of {summary.planned} planned writes.", summary
        ) from first
    if summary.items_written != summary.planned:  # a bug, not a table problem: never pass silently
        raise GeneratorWriteError(
            f"only {summary.items_written} of {summary.planned} planned writes were acknowledged", summary
        )
    return summary


def generate_orders(
    client: Any,
    config: GeneratorConfig,
    progress: Callable[[int], None] | None = None,
) -> GeneratorSummary:
    """Validate, plan and write a run of orders; the entry point of the CLI and the Dagster asset.

    ``client`` is a boto3 DynamoDB client (injectable: any object with ``describe_table`` and
    ``batch_write_item``). The config and the table are checked before anything is written
    (:class:`GeneratorConfigError`); write failures raise :class:`GeneratorWriteError` carrying the
    partial summary. ``progress`` receives the number of newly acknowledged writes.
    """
    validate_config(config)
    config = config.resolved()
    check_table(client, config.table)
    return write_planned(client, iter_writes(config), config, progress)
