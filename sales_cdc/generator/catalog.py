"""What orders are made of: the product catalog, the customer pool and the order lifecycle.

Products and their prices are data, the same in every run and for every seed: only the orders
drawn from them are random.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from decimal import Decimal

from faker import Faker

from lambda_transform.schema import ORDER_STATUSES


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
# The quantities an order line may have; per category, cumulative weights for ``random.choices``.
QUANTITIES = tuple(range(1, 1 + max(len(c.quantity_weights) for c in CATEGORIES)))
QUANTITY_CUM_WEIGHTS: dict[str, list[float]] = {
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


# The order lifecycle: status transitions of an open order, (next status, weight). DELIVERED may
# still become RETURNED; CANCELLED and RETURNED are final.
STATUS_TRANSITIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "PLACED": (("PAID", 0.85), ("CANCELLED", 0.15)),
    "PAID": (("SHIPPED", 0.93), ("CANCELLED", 0.07)),
    "SHIPPED": (("DELIVERED", 1.0),),
}
OPEN_STATUSES = frozenset(STATUS_TRANSITIONS)
assert OPEN_STATUSES | {"DELIVERED", "CANCELLED", "RETURNED"} == set(ORDER_STATUSES)
