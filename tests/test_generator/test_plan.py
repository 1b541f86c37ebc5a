"""The planned sequence of writes: realistic, valid, deterministic and mixed as configured (no emulator)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lambda_transform.schema import ORDER_STATUSES
from sales_cdc.generator import (
    BATCH_LIMIT,
    CATALOG,
    CATEGORIES,
    CATEGORY_BY_NAME,
    ITEM_ATTRIBUTES,
    PRODUCTS_BY_ID,
    GeneratorConfig,
    GeneratorConfigError,
    expected_table,
    plan_batches,
    plan_writes,
    shard_of,
    validate_config,
)

START = datetime(2026, 11, 21, 23, 20, 58, 123000, tzinfo=UTC)
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# Allowed status changes of one MODIFY (same status = a correction).
NEXT_STATUSES = {
    "PLACED": {"PLACED", "PAID", "CANCELLED"},
    "PAID": {"PAID", "SHIPPED", "CANCELLED"},
    "SHIPPED": {"SHIPPED", "DELIVERED"},
    "DELIVERED": {"DELIVERED", "RETURNED"},
    "CANCELLED": {"CANCELLED"},
    "RETURNED": {"RETURNED"},
}


def wire(writes) -> bytes:
    """The exact bytes the writes would be sent as."""
    return json.dumps([w.request() for w in writes]).encode()


def test_same_seed_and_start_give_byte_identical_writes() -> None:
    config = GeneratorConfig(orders=300, seed=11, start=START, update_ratio=0.4, delete_ratio=0.1)
    assert wire(plan_writes(config)) == wire(plan_writes(config))
    assert wire(plan_writes(config)) != wire(plan_writes(GeneratorConfig(orders=300, seed=12, start=START)))


def test_a_rerun_at_another_time_creates_new_orders() -> None:
    first = plan_writes(GeneratorConfig(orders=100, seed=1, start=START))
    later = plan_writes(GeneratorConfig(orders=100, seed=1, start=START + timedelta(minutes=5)))
    assert not {w.order_id for w in first} & {w.order_id for w in later}


@pytest.mark.parametrize(("update_ratio", "delete_ratio"), [(0.3, 0.05), (0.5, 0.2), (0.0, 0.0), (0.6, 0.2)])
def test_orders_mode_creates_the_orders_and_mixes_changes_by_the_ratios(update_ratio, delete_ratio) -> None:
    writes = plan_writes(
        GeneratorConfig(
            orders=2000, seed=5, start=START, update_ratio=update_ratio, delete_ratio=delete_ratio
        )
    )
    kinds = Counter(w.kind for w in writes)
    assert kinds["INSERT"] == 2000
    assert kinds["MODIFY"] / len(writes) == pytest.approx(update_ratio, abs=0.005)
    assert kinds["REMOVE"] / len(writes) == pytest.approx(delete_ratio, abs=0.005)
    # Mixed through the run, not bunched: the second half has changes of every configured kind too.
    second_half = Counter(w.kind for w in writes[len(writes) // 2 :])
    assert all(
        second_half[kind] > 0 for kind, share in (("MODIFY", update_ratio), ("REMOVE", delete_ratio)) if share
    )


def test_events_mode_writes_exactly_that_many_events_of_all_three_kinds() -> None:
    writes = plan_writes(GeneratorConfig(events=1000, seed=2, start=START))
    assert len(writes) == 1000
    assert set(Counter(w.kind for w in writes)) == {"INSERT", "MODIFY", "REMOVE"}
    assert [w.seq for w in writes] == list(range(1000))


def test_every_order_follows_the_lifecycle_and_items_are_well_formed() -> None:
    writes = plan_writes(
        GeneratorConfig(orders=1500, seed=9, start=START, update_ratio=0.55, delete_ratio=0.1)
    )
    current: dict[str, dict] = {}
    deleted: set[str] = set()
    statuses: Counter[str] = Counter()
    for write in writes:
        item = write.item
        assert tuple(item) == ITEM_ATTRIBUTES
        assert write.order_id == item["orderId"] and write.order_id not in deleted
        assert ISO_UTC.match(item["createdAt"]) and ISO_UTC.match(item["updatedAt"])
        assert isinstance(item["unitPrice"], Decimal) and item["unitPrice"].as_tuple().exponent == -2
        assert isinstance(item["quantity"], int) and 1 <= item["quantity"] <= 5
        product = PRODUCTS_BY_ID[item["productId"]]
        assert (item["productName"], item["category"]) == (product.name, product.category)
        # At most a 25 % discount on the catalog price.
        assert (product.list_price * Decimal("0.75")).quantize(Decimal("0.01")) <= item["unitPrice"]
        assert item["unitPrice"] <= product.list_price
        before = current.get(write.order_id)
        if write.kind == "INSERT":
            assert before is None and item["status"] == "PLACED" and item["createdAt"] == item["updatedAt"]
            current[write.order_id] = dict(item)
        elif write.kind == "MODIFY":
            assert before is not None
            assert item["status"] in NEXT_STATUSES[before["status"]]
            assert item["createdAt"] == before["createdAt"] and item["updatedAt"] > before["updatedAt"]
            changed = {k for k in ITEM_ATTRIBUTES if item[k] != before[k]} - {"updatedAt"}
            assert changed, f"no-op update of {write.order_id}"  # moto would still emit MODIFY
            assert changed <= {"status", "quantity", "unitPrice", "customerName"}
            current[write.order_id] = dict(item)
        else:
            assert before == dict(item)  # the REMOVE carries the image being deleted
            del current[write.order_id]
            deleted.add(write.order_id)
        statuses[item["status"]] += 1
    assert set(statuses) == set(ORDER_STATUSES)
    assert expected_table(writes) == current


def test_days_spread_created_timestamps_over_the_last_days() -> None:
    writes = plan_writes(GeneratorConfig(orders=2000, seed=4, start=START, days=7))
    created = [w.item["createdAt"] for w in writes if w.kind == "INSERT"]
    assert min(created) >= (START - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S")
    assert max(created) <= START.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert len({c[:10] for c in created}) >= 7  # every day gets orders: daily partitions have data
    assert created == sorted(created)  # events move forward in time


def test_catalog_has_categories_with_price_bands_and_unique_products() -> None:
    assert len({p.product_id for p in CATALOG}) == len(CATALOG)
    assert {"laptops", "phones", "tablets", "audio", "wearables", "accessories"} <= set(CATEGORY_BY_NAME)
    for category in CATEGORIES:
        products = [p for p in CATALOG if p.category == category.name]
        assert len(products) >= 5
        assert all(category.min_price <= p.list_price <= category.max_price for p in products)


def test_batches_are_full_keep_each_orders_writes_in_order_and_never_repeat_a_key() -> None:
    writes = plan_writes(
        GeneratorConfig(orders=3000, seed=3, start=START, update_ratio=0.5, delete_ratio=0.1)
    )
    shards = plan_batches(writes, 3)
    sent = []
    for shard_number, batches in enumerate(shards):
        for batch in batches:
            assert 1 <= len(batch) <= BATCH_LIMIT
            assert len({w.order_id for w in batch}) == len(batch)  # DynamoDB rejects repeated keys
            assert all(shard_of(w.order_id, 3) == shard_number for w in batch)
            sent += batch
        assert sum(len(b) == BATCH_LIMIT for b in batches) >= len(batches) - 2  # full but for the tail
    assert sorted(w.seq for w in sent) == list(range(len(writes)))
    for shard_writes in ([w for b in batches for w in b] for batches in shards):
        per_order: dict[str, list[int]] = {}
        for write in shard_writes:
            per_order.setdefault(write.order_id, []).append(write.seq)
        assert all(seqs == sorted(seqs) for seqs in per_order.values())


@pytest.mark.parametrize(
    ("changes", "field", "shown"),
    [
        ({"orders": -5}, "orders", "-5"),
        ({"orders": None, "events": -1}, "events", "-1"),
        ({"orders": 10, "events": 10}, "orders", "events=10"),
        ({"update_ratio": 1.5}, "update_ratio", "1.5"),
        ({"delete_ratio": -0.1}, "delete_ratio", "-0.1"),
        ({"update_ratio": 0.7, "delete_ratio": 0.4}, "update_ratio", "1.1"),
        ({"update_ratio": 0.8, "delete_ratio": 0.2}, "update_ratio", "= 1"),
        ({"update_ratio": 0.2, "delete_ratio": 0.5}, "delete_ratio", "0.5"),
        ({"rate": 0}, "rate", "rate = 0"),
        ({"rate": -3.0}, "rate", "-3.0"),
        ({"days": -1}, "days", "-1"),
        ({"writers": 0}, "writers", "0"),
        ({"seed": -2}, "seed", "-2"),
        ({"table": "x"}, "table", "'x'"),
    ],
)
def test_invalid_configs_are_rejected_naming_the_value(changes, field, shown) -> None:
    config = GeneratorConfig(**{"orders": 10, **changes})
    with pytest.raises(GeneratorConfigError) as error:
        validate_config(config)
    assert error.value.field == field
    assert shown in str(error.value)
