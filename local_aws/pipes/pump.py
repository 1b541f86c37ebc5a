"""Local EventBridge Pipe: moves DynamoDB Stream records to the Kinesis target, as the deployed Pipe says.

moto keeps a Pipe's configuration but moves no data, so this pump does what AWS would: it reads the
Pipe back every few seconds (:mod:`.config`; stop/start and updates take effect while running, a pipe
that is not RUNNING moves nothing), reads the source from ``StartingPosition`` (for the shards open
when the pipe first starts; child shards from their start, after their parent), sends a batch when it
holds ``BatchSize`` records or its first record has waited ``MaximumBatchingWindowInSeconds``, retries
``MaximumRetryAttempts`` times (-1: forever) with backoff, then dead-letters (:mod:`.dead_letter`).

Delivery is at-least-once: per shard, the sequence number of the last record Kinesis acknowledged is
checkpointed durably (:mod:`local_aws.pumps`); after a crash reading resumes after it.

Threads: a reader issues ``get_records`` (Limit 1000) back to back and queues the records; a writer
batches, encodes and puts them to Kinesis. The emulator's Streams serializer is the bottleneck, so the
reader does nothing else.

Metrics (with a publisher, :mod:`local_aws.cloudwatch`), as AWS publishes them: per attempt to put
a batch to the target, AWS/EventBridge/Pipes ``Invocations``, ``EventCount``, ``ExecutionFailed`` and
``ExecutionThrottled`` (1 when the attempt failed because Kinesis throttled it, else 0) and AWS/Kinesis
``IncomingRecords`` of the target stream (the records it accepted); sampled at each metrics flush,
the dead-letter queue's AWS/SQS ``ApproximateNumberOfMessagesVisible`` and the source table's
AWS/DynamoDB ``WriteThrottleEvents`` (0: the emulator never throttles).
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_aws.cloudwatch import MetricsPublisher, catalogue
from local_aws.pipes.config import (
    PipeConfig,
    PipeConfigError,
    read_pipe_config,
)
from local_aws.pipes.dead_letter import DeadLetterQueue, dead_letter_message
from local_aws.pipes.events import epoch_seconds
from local_aws.pipes.target import kinesis_entries, put_groups
from local_aws.pumps import (
    CheckpointStore,
    ClientFactory,
    Pump,
    ShardReader,
    SourceShards,
    backoff,
    error_code,
    error_text,
    list_stream_shards,
)

logger = logging.getLogger(__name__)

CONFIG_REFRESH_S = 2.0  # how often the Pipe's configuration is read again (stop/start, updates)
SHARD_REFRESH_S = 10.0  # how often the stream's shard list is read again (new child shards)
# Pause after a round in which no shard had records: short while changes keep coming (freshness),
# growing to IDLE_POLL_S when the stream has been quiet (each empty poll costs the emulator a little).
EMPTY_POLL_S = 0.1
IDLE_POLL_S = 1.0
IDLE_AFTER_S = 10.0
GET_RECORDS_LIMIT = 1000  # DynamoDB Streams' maximum per GetRecords call
QUEUE_CHUNKS = 16  # read-ahead between reader and writer, in GetRecords responses
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "LimitExceededException"}
)


@dataclass
class _Chunk:
    """Records of one GetRecords answer, in order, and where to checkpoint them."""

    store: CheckpointStore
    source_arn: str
    shard_id: str
    records: list[dict[str, Any]]
    end_of_shard: bool = False


@dataclass
class PipeHealth:
    """Counters of the local Pipe (all since start)."""

    state: str = "STARTING"
    events_read: int = 0
    events_moved: int = 0  # acknowledged by Kinesis
    batches: int = 0
    largest_batch: int = 0
    retries: int = 0
    dead_lettered: int = 0
    discarded: int = 0  # failed after retries and no dead-letter queue configured
    source_errors: int = 0
    target_errors: int = 0
    last_error: str = ""
    iterator_age_s: float = 0.0


class LocalPipe(Pump):
    """The Pipe stand-in: ``start()`` runs its reader and writer threads, ``stop()`` drains and ends them.

    ``clients`` makes a boto3 client for a service name (the data plane passes one bound to the
    emulator); ``get_records`` optionally replaces boto3's Streams GetRecords (see WireGetRecords).
    Checkpoints go to ``checkpoint_dir``.
    """

    def __init__(
        self,
        pipe_name: str,
        clients: ClientFactory,
        checkpoint_dir: Path,
        get_records: Callable[[str, int], dict[str, Any]] | None = None,
        metrics: MetricsPublisher | None = None,
    ) -> None:
        self.pipe_name = pipe_name
        dimensions = catalogue.pipe_dimensions(pipe_name)
        self._init_pump(f"local pipe {pipe_name}", logger, checkpoint_dir, metrics, dimensions)
        self._pipes = clients("pipes")
        self._streams = clients("dynamodbstreams")
        # GetRecords(iterator, limit): the wire-level call the data plane passes, else boto3's.
        self._get_records = get_records or (
            lambda iterator, limit: self._streams.get_records(ShardIterator=iterator, Limit=limit)
        )
        self._kinesis = clients("kinesis")
        self._dead_letters = DeadLetterQueue(clients("sqs"))
        self._config: PipeConfig | None = None
        self._queue: queue.Queue[_Chunk | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._stopping = self._threads.stopping  # stop reading, deliver what was read
        self._abort = self._threads.abort  # stop now, deliver nothing more
        self._reader_done = threading.Event()
        self._pending: list[float] = []  # creation times of chunks in flight (oldest first)
        self._pending_lock = threading.Lock()
        self.health_counters = PipeHealth()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalPipe:
        """Start the reader and writer threads (returns immediately)."""
        self._threads.start({"pipe-reader": self._read_loop, "pipe-writer": self._write_loop})
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reading, deliver and checkpoint what was read (up to ``timeout`` s), end the threads."""
        self._threads.stop(timeout)
        self.health_counters.state = "STOPPED_LOCALLY"

    def health(self) -> dict[str, Any]:
        """Counters, state and lag (seconds behind the stream: oldest undelivered record, or iterator age)."""
        h = self.health_counters
        now = time.time()
        with self._pending_lock:
            oldest = self._pending[0] if self._pending else None
        lag = max(h.iterator_age_s, now - oldest if oldest else 0.0)
        return {
            "alive": self.alive,
            "state": h.state,
            "events_read": h.events_read,
            "events_moved": h.events_moved,
            "pending": h.events_read - h.events_moved - h.dead_lettered - h.discarded,
            "lag_s": round(max(0.0, lag), 1),
            "batches": h.batches,
            "largest_batch": h.largest_batch,
            "retries": h.retries,
            "dead_lettered": h.dead_lettered,
            "discarded": h.discarded,
            "errors": h.source_errors + h.target_errors,
            "last_error": h.last_error,
        }

    def _sample_metrics(self, metrics: MetricsPublisher) -> None:
        """The gauges AWS publishes for the Pipe's neighbours: its DLQ's depth, its table's throttles."""
        config = self._config
        if config is None:
            return
        # The emulator never throttles writes; AWS publishes the figure, so locally it is a true 0.
        metrics.record(
            catalogue.DYNAMODB,
            catalogue.WRITE_THROTTLE_EVENTS,
            catalogue.table_dimensions(config.source_arn),
            0.0,
            "Count",
        )
        if config.dead_letter_arn:
            visible = self._dead_letters.visible_messages(config.dead_letter_arn)
            metrics.record(
                catalogue.SQS,
                catalogue.DLQ_VISIBLE,
                catalogue.queue_dimensions(config.dead_letter_arn),
                float(visible),
                "Count",
            )

    def _record_attempt(
        self, config: PipeConfig, events: int, accepted: int, failed: bool, throttled: bool
    ) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        dims = self._dimensions
        metrics.record(catalogue.PIPES, catalogue.PIPE_INVOCATIONS, dims, 1.0, "Count")
        metrics.record(catalogue.PIPES, catalogue.PIPE_EVENT_COUNT, dims, float(events), "Count")
        metrics.record(
            catalogue.PIPES, catalogue.PIPE_EXECUTION_FAILED, dims, float(failed and not throttled), "Count"
        )
        metrics.record(catalogue.PIPES, catalogue.PIPE_EXECUTION_THROTTLED, dims, float(throttled), "Count")
        if accepted:
            metrics.record(
                catalogue.KINESIS,
                catalogue.INCOMING_RECORDS,
                catalogue.stream_dimensions(config.target_arn),
                float(accepted),
                "Count",
            )

    def _crashed(self, text: str) -> None:
        self.health_counters.last_error, self.health_counters.state = text, "CRASHED"

    def _note_error(self, kind: str, exc: BaseException | str) -> None:
        text = exc if isinstance(exc, str) else error_text(exc)
        if kind == "source":
            self.health_counters.source_errors += 1
        else:
            self.health_counters.target_errors += 1
        self.health_counters.last_error = f"{kind}: {text}"
        logger.warning("local pipe %s: %s error: %s", self.pipe_name, kind, text)

    # ------------------------------------------------------------------ configuration

    def config(self, refresh: bool = False) -> PipeConfig | None:
        """The Pipe's configuration, read again when older than CONFIG_REFRESH_S (None if missing)."""
        with self._config_lock:
            return self._read_config(refresh)

    def _read_config(self, refresh: bool) -> PipeConfig | None:
        now = time.monotonic()
        if refresh or self._config is None or now - self._config_read_at >= CONFIG_REFRESH_S:
            self._config_read_at = now
            try:
                self._config = read_pipe_config(self._pipes, self.pipe_name)
                self.health_counters.state = self._config.current_state
            except ClientError as exc:
                if error_code(exc) in ("NotFoundException", "ResourceNotFoundException"):
                    self._config = None
                    self.health_counters.state = "NOT_FOUND"
                else:
                    self._note_error("source", exc)
            except BotoCoreError as exc:
                self._note_error("source", exc)
            except PipeConfigError as exc:
                self._config = None
                self.health_counters.state = "UNSUPPORTED_CONFIG"
                self.health_counters.last_error = str(exc)
        return self._config

    # ------------------------------------------------------------------ reader

    def _read_loop(self) -> None:
        source_arn: str | None = None
        store: CheckpointStore | None = None
        shards: SourceShards | None = None
        fresh_start = False
        attempt = 0
        last_records = time.monotonic()
        while not self._stopping.is_set():
            config = self.config()
            if config is None or not config.moving:
                self._stopping.wait(0.5)
                continue
            if config.source_arn != source_arn:
                source_arn = config.source_arn
                store = CheckpointStore(self.checkpoint_dir, f"pipe-{self.pipe_name}", source_arn)
                fresh_start = not store.positions()
                shards = SourceShards(store, SHARD_REFRESH_S)
            assert store is not None and shards is not None
            try:
                shards.refresh(functools.partial(list_stream_shards, self._streams, source_arn))
                got, full = 0, False
                for shard in shards.ready():
                    if self._stopping.is_set() or not config.moving:
                        break
                    if shard.iterator is None:
                        shard.iterator = self._iterator(
                            source_arn, shard, store, shards.known, fresh_start, config
                        )
                    count = self._read_shard(source_arn, shard, store)
                    got, full = got + count, full or count >= GET_RECORDS_LIMIT
                attempt = 0
            except (ClientError, BotoCoreError) as exc:
                attempt += 1
                self._note_error("source", exc)
                if error_code(exc) == "ResourceNotFoundException":
                    self.config(refresh=True)  # the stream may have been replaced (re-provisioned)
                self._stopping.wait(backoff(attempt))
                continue
            if got:
                last_records = time.monotonic()
            else:
                self.health_counters.iterator_age_s = 0.0
            if not full:
                # Caught up: poll again shortly rather than in a tight loop of small answers, which
                # would spend the emulator's CPU on request overhead instead of records.
                quiet = time.monotonic() - last_records > IDLE_AFTER_S
                self._stopping.wait(IDLE_POLL_S if quiet else EMPTY_POLL_S)
        self._reader_done.set()
        self._put_chunk(None)

    def _iterator(
        self,
        stream_arn: str,
        shard: ShardReader,
        store: CheckpointStore,
        known: set[str],
        fresh_start: bool,
        config: PipeConfig,
    ) -> str | None:
        position = store.position(shard.shard_id)
        after = shard.last_read or (position.sequence_number if position else None)
        if after:
            kind, extra = "AFTER_SEQUENCE_NUMBER", {"SequenceNumber": after}
        elif shard.parent_id and (shard.parent_id in known or store.position(shard.parent_id)):
            kind, extra = "TRIM_HORIZON", {}  # a child continues where its parent ended
        elif fresh_start:
            kind, extra = config.starting_position, {}
        else:
            kind, extra = "TRIM_HORIZON", {}  # a shard that appeared after the first start
        try:
            return self._streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard.shard_id, ShardIteratorType=kind, **extra
            )["ShardIterator"]
        except ClientError as exc:
            if error_code(exc) == "TrimmedDataAccessException":
                # The checkpoint is older than the stream's retention: those records are gone.
                self._note_error(
                    "source", f"records after {after} in {shard.shard_id} were trimmed; resuming"
                )
                return self._streams.get_shard_iterator(
                    StreamArn=stream_arn, ShardId=shard.shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            raise

    def _read_shard(self, stream_arn: str, shard: ShardReader, store: CheckpointStore) -> int:
        """One GetRecords call on a shard; queues what it got and returns how many records came back."""
        try:
            response = self._get_records(shard.iterator, GET_RECORDS_LIMIT)
        except ClientError as exc:
            if error_code(exc) in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                shard.iterator = None  # renewed from the last record read on the next round
                return 0
            raise
        records = response.get("Records", [])
        shard.iterator = response.get("NextShardIterator")
        now = time.time()
        if records:
            shard.last_read = records[-1]["dynamodb"]["SequenceNumber"]
            created = records[0]["dynamodb"].get("ApproximateCreationDateTime")
            created_s = epoch_seconds(created) if created is not None else now
            self.health_counters.iterator_age_s = max(0.0, now - float(created_s))
            self.health_counters.events_read += len(records)
            with self._pending_lock:
                self._pending.append(float(created_s))
        if shard.iterator is None:
            shard.exhausted = True
        if records or shard.exhausted:
            self._put_chunk(_Chunk(store, stream_arn, shard.shard_id, records, end_of_shard=shard.exhausted))
        return len(records)

    def _put_chunk(self, chunk: _Chunk | None) -> None:
        self._threads.put(self._queue, chunk)

    # ------------------------------------------------------------------ writer

    def _write_loop(self) -> None:
        batch: list[tuple[_Chunk, dict[str, Any]]] = []
        batch_opened = 0.0
        finished = False
        while not self._abort.is_set():
            config = self.config()
            if config is None or not config.moving:
                if self._stopping.is_set():
                    break  # a stopped pipe delivers nothing, not even on the way out
                self._abort.wait(0.5)
                continue
            draining = self._stopping.is_set()
            if batch:
                wait = batch_opened + config.maximum_batching_window_s - time.monotonic()
            else:
                wait = 0.5
            chunk: _Chunk | None = None
            got = False
            if not finished:
                try:
                    chunk = self._queue.get(timeout=max(0.0, wait) if not draining else 0.05)
                    got = True
                except queue.Empty:
                    pass
            if got and chunk is None:
                finished = True  # the reader ended: deliver what is left, then stop
            if chunk is not None:
                for record in chunk.records:
                    if not batch:
                        batch_opened = time.monotonic()
                    batch.append((chunk, record))
                    if len(batch) >= config.batch_size:
                        if not self._deliver(batch, config):
                            return
                        batch = []
                if chunk.end_of_shard:
                    if batch and not self._deliver(batch, config):
                        return
                    batch = []
                    chunk.store.finish(chunk.shard_id)
                    chunk.store.flush()
                self._chunk_done(chunk)
            window_over = batch and time.monotonic() - batch_opened >= config.maximum_batching_window_s
            if batch and (window_over or finished or (draining and self._queue.empty())):
                if not self._deliver(batch, config):
                    return
                batch = []
            if finished and not batch:
                return

    def _chunk_done(self, chunk: _Chunk) -> None:
        if chunk.records:
            with self._pending_lock:
                if self._pending:
                    self._pending.pop(0)

    def _deliver(self, batch: Sequence[tuple[_Chunk, dict[str, Any]]], config: PipeConfig) -> bool:
        """Put one batch to Kinesis with retries, dead-letter what cannot be delivered, checkpoint.

        Returns False when the data plane is aborting (nothing was checkpointed then).
        """
        entries, unkeyed = kinesis_entries(
            [(record, chunk.source_arn) for chunk, record in batch], config.partition_key
        )
        remaining = [position for position, entry in enumerate(entries) if entry is not None]
        attempt = 0
        last_error = ""
        while remaining:
            if self._abort.is_set():
                return False
            failed: list[int] = []
            codes: set[str] = set()
            for group in put_groups(remaining, entries):
                try:
                    response = self._kinesis.put_records(
                        StreamARN=config.target_arn, Records=[entries[p] for p in group]
                    )
                except (ClientError, BotoCoreError) as exc:
                    self._note_error("target", exc)
                    last_error = error_text(exc)
                    codes.add(error_code(exc) or type(exc).__name__)
                    failed.extend(group)
                    continue
                if response.get("FailedRecordCount"):
                    for position, result in zip(group, response["Records"], strict=True):
                        if result.get("ErrorCode"):
                            failed.append(position)
                            codes.add(result["ErrorCode"])
                            last_error = f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}"
            self._record_attempt(
                config,
                len(remaining),
                len(remaining) - len(failed),
                bool(failed),
                bool(codes) and codes <= THROTTLING_CODES,
            )
            if not failed:
                break
            attempt += 1
            limit = config.maximum_retry_attempts
            if limit != -1 and attempt > limit:
                unkeyed.extend((position, last_error) for position in failed)
                break
            self.health_counters.retries += 1
            remaining = failed
            self._abort.wait(backoff(attempt))
        if unkeyed and not self._dead_letter(batch, unkeyed, config, attempt):
            return False
        delivered = len(batch) - len(unkeyed)
        self.health_counters.events_moved += delivered
        self.health_counters.batches += 1
        self.health_counters.largest_batch = max(self.health_counters.largest_batch, len(batch))
        last_per_shard: dict[tuple[int, str], tuple[CheckpointStore, str]] = {}
        for chunk, record in batch:
            last_per_shard[(id(chunk.store), chunk.shard_id)] = (
                chunk.store,
                record["dynamodb"]["SequenceNumber"],
            )
        stores = {}
        for (_, shard_id), (store, sequence_number) in last_per_shard.items():
            store.advance(shard_id, sequence_number)
            stores[id(store)] = store
        for store in stores.values():
            store.flush()
        return True

    def _dead_letter(
        self,
        batch: Sequence[tuple[_Chunk, dict[str, Any]]],
        failures: list[tuple[int, str]],
        config: PipeConfig,
        attempts: int,
    ) -> bool:
        """Send a description of undeliverable records to the Pipe's DLQ (retried until it works)."""
        by_shard: dict[str, list[tuple[int, str]]] = {}
        for position, reason in sorted(failures):
            by_shard.setdefault(batch[position][0].shard_id, []).append((position, reason))
        if not config.dead_letter_arn:
            self.health_counters.discarded += len(failures)
            self._note_error(
                "target", f"{len(failures)} records discarded after retries (no DeadLetterConfig)"
            )
            return True
        for shard_id, items in by_shard.items():
            first, last = batch[items[0][0]], batch[items[-1][0]]
            message = dead_letter_message(
                config.arn,
                first[0].source_arn,
                shard_id,
                first[1],
                last[1],
                len(items),
                attempts,
                items[-1][1],
            )
            if not self._dead_letters.send(
                config.dead_letter_arn, message, self._abort, lambda exc: self._note_error("target", exc)
            ):
                return False
            self.health_counters.dead_lettered += len(items)
        return True
