"""Packing planned writes into BatchWriteItem requests, sharded by order id across the writer threads.

The order of one order's writes is what the CDC sequence numbers must reflect: a shard holds every
write of its keys, and its batches, sent one after the other, keep them in plan order.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

from sales_cdc.generator.plan import PlannedWrite

BATCH_LIMIT = 25  # DynamoDB's maximum number of writes in one BatchWriteItem request


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
