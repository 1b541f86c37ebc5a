"""Writing against the emulator: every planned write lands, in order per order, even under faults."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest

from local_aws.server import Emulator
from sales_cdc.generator import (
    DISPATCH_CHUNK,
    GeneratorConfig,
    GeneratorConfigError,
    GeneratorWriteError,
    expected_table,
    generate_orders,
    plan_batches,
    plan_writes,
)

from .conftest import FaultInjector, create_orders_table, scan_table, stream_event_names

START = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def config(table: str, **changes) -> GeneratorConfig:
    """A small run with fast retries, so fault tests stay quick."""
    values = {
        "orders": 150,
        "seed": 21,
        "start": START,
        "table": table,
        "update_ratio": 0.4,
        "delete_ratio": 0.1,
    }
    values.update(retry_base_s=0.001, retry_cap_s=0.01)
    values.update(changes)
    return GeneratorConfig(**values)


def kinds_per_order(events: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(change kind, order id) pairs grouped as order id → its kinds, in the given order."""
    grouped: dict[str, list[str]] = {}
    for kind, order_id in events:
        grouped.setdefault(order_id, []).append(kind)
    return grouped


def test_every_write_lands_and_the_stream_shows_each_change_kind(
    dynamodb, orders_table: str, clean_emulator: Emulator
) -> None:
    run = config(orders_table)
    writes = plan_writes(run)
    progress: list[int] = []

    summary = generate_orders(dynamodb, run, progress=progress.append)

    assert scan_table(dynamodb, orders_table) == expected_table(writes)
    planned_kinds = Counter(w.kind for w in writes)
    assert summary.writes_by_kind == dict(planned_kinds)
    assert summary.items_written == summary.planned == len(writes) == sum(progress)
    assert summary.orders_in_table == len(expected_table(writes))
    # What the data plane will see: one stream record per write, of the planned kind, in the
    # planned order for every order.
    events = stream_event_names(dynamodb, clean_emulator.endpoint, orders_table)
    assert Counter(name for name, _ in events) == planned_kinds
    assert kinds_per_order(events) == kinds_per_order((w.kind, w.order_id) for w in writes)


def test_a_run_planned_while_it_is_written_keeps_order_per_order_and_full_batches(
    dynamodb, orders_table: str, clean_emulator: Emulator, fault_injector
) -> None:
    # Several planning chunks, so that writes of one order span chunks and the shards' last batches
    # are held back and filled from the next chunk.
    run = config(orders_table, orders=None, events=4 * DISPATCH_CHUNK + 37, writers=3, update_ratio=0.45)
    writes = plan_writes(run)
    recorder = fault_injector(lambda n: None)

    summary = generate_orders(recorder, run)

    assert summary.items_written == summary.planned == len(writes)
    assert summary.orders_in_table == len(expected_table(writes))
    assert scan_table(dynamodb, orders_table) == expected_table(writes)
    events = stream_event_names(dynamodb, clean_emulator.endpoint, orders_table)
    assert kinds_per_order(events) == kinds_per_order((w.kind, w.order_id) for w in writes)
    # Chunk boundaries cost at most one request per shard compared with packing the whole plan at once.
    sizes = [len(call[orders_table]) for call in recorder.calls]
    assert sum(sizes) == len(writes)
    whole_plan = sum(len(batches) for batches in plan_batches(writes, run.writers))
    assert len(sizes) <= whole_plan + run.writers, (len(sizes), whole_plan)


def test_same_seed_sends_the_same_sequence_of_writes(dynamodb, orders_table: str, fault_injector) -> None:
    other = create_orders_table(dynamodb, "orders_again")
    first, second = fault_injector(lambda n: None), fault_injector(lambda n: None)

    generate_orders(first, config(orders_table, writers=1))
    generate_orders(second, config(other, writers=1))

    assert [call[orders_table] for call in first.calls] == [call[other] for call in second.calls]
    assert scan_table(dynamodb, orders_table) == scan_table(dynamodb, other)


def test_unprocessed_items_and_throttling_are_retried_until_every_write_lands(
    dynamodb, orders_table: str, fault_injector
) -> None:
    faults = ["unprocessed", "ProvisionedThroughputExceededException", "unprocessed", "ThrottlingException"]
    faults += ["unprocessed", "InternalServerError", "RequestLimitExceeded", "unprocessed"]
    flaky: FaultInjector = fault_injector(lambda n: faults[n % len(faults)] if n < 40 else None)
    run = config(orders_table, writers=3)

    summary = generate_orders(flaky, run)

    assert set(flaky.injected) == set(faults)
    assert summary.retries >= sum(flaky.injected.values())
    assert scan_table(dynamodb, orders_table) == expected_table(plan_writes(run))
    assert summary.items_written == summary.planned


def test_persistent_throttling_ends_in_a_clear_error_not_a_lost_write(
    dynamodb, orders_table: str, fault_injector
) -> None:
    throttled = fault_injector(lambda n: "ProvisionedThroughputExceededException" if n >= 2 else None)

    with pytest.raises(GeneratorWriteError) as error:
        generate_orders(throttled, config(orders_table, writers=1, max_attempts=3))

    message = str(error.value)
    assert "gave up" in message and "ProvisionedThroughputExceededException" in message
    summary = error.value.summary
    assert summary is not None and summary.items_written < summary.planned
    assert f"Acknowledged {summary.items_written} of {summary.planned}" in message
    assert len(scan_table(dynamodb, orders_table)) <= summary.items_written  # only acknowledged writes


@pytest.mark.parametrize(
    "changes",
    [{"orders": -1}, {"update_ratio": 1.2}, {"update_ratio": 0.6, "delete_ratio": 0.5}, {"writers": 0}],
)
def test_invalid_config_writes_nothing(dynamodb, orders_table: str, fault_injector, changes) -> None:
    recorder = fault_injector(lambda n: None)
    with pytest.raises(GeneratorConfigError):
        generate_orders(recorder, config(orders_table, **changes))
    assert recorder.calls == []
    assert scan_table(dynamodb, orders_table) == {}


def test_unknown_table_is_rejected_before_any_write(dynamodb, orders_table: str, fault_injector) -> None:
    recorder = fault_injector(lambda n: None)
    with pytest.raises(GeneratorConfigError) as error:
        generate_orders(recorder, config("no_such_table"))
    assert error.value.field == "table" and "'no_such_table' does not exist" in str(error.value)
    assert recorder.calls == []
    assert dynamodb.list_tables()["TableNames"] == [orders_table]


def test_rate_limited_run_writes_everything(dynamodb, orders_table: str) -> None:
    run = config(orders_table, orders=None, events=80, rate=800.0)
    summary = generate_orders(dynamodb, run)
    assert summary.items_written == 80
    assert scan_table(dynamodb, orders_table) == expected_table(plan_writes(run))
