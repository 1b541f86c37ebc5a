"""The writer: a planned run sent with ``batch_write_item`` by threads that each own a shard of the keys.

Each shard's batches (see :mod:`sales_cdc.generator.batches`) are written one after the other, and
a batch is complete, UnprocessedItems and throttled requests retried with exponential backoff and
full jitter, before the next is sent: every order's writes land in plan order. Planning runs
alongside the writes (the first requests go out while the rest of the run is still being planned),
or the writes are paced to a rate.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from queue import Empty, SimpleQueue
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from sales_cdc.generator.batches import BATCH_LIMIT, plan_batches
from sales_cdc.generator.config import GeneratorConfig, GeneratorError, validate_config
from sales_cdc.generator.plan import (
    CHANGE_KINDS,
    PlannedWrite,
    epoch_ms,
    expected_table,
    iso_utc,
    iter_writes,
    planned_counts,
)
from sales_cdc.generator.table import check_table

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


class GeneratorWriteError(GeneratorError):
    """Writes could not be completed; ``summary`` counts what was acknowledged before the failure."""

    def __init__(self, message: str, summary: GeneratorSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


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


def _planned_summary(writes: Iterable[PlannedWrite], config: GeneratorConfig) -> GeneratorSummary:
    """The summary of a run before anything is written: what ``writes`` plan (nothing acknowledged yet)."""
    assert config.seed is not None and config.start is not None, "pass a resolved config"
    start = iso_utc(epoch_ms(config.start))
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
    return summary


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
    summary = _planned_summary(writes, config)
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
