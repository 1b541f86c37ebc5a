"""What the local pumps (the Pipe and Firehose stand-ins) share: checkpoints, shard readers, threads, retries.

Checkpoints: both pumps record, per shard, the sequence number of the last record whose delivery was
acknowledged (Kinesis for the Pipe, S3 for Firehose), and whether the shard was read to its end. After a
crash they resume *after* that sequence number: records delivered but not yet checkpointed are delivered
again (duplicates are allowed), nothing acknowledged-as-read is skipped (no loss).

The checkpoints live *inside the emulator*, as the Kinesis Client Library keeps its leases in DynamoDB:
one item per (consumer, stream incarnation) in the DynamoDB table ``local-aws-checkpoints``
(:class:`CheckpointTable`, created by the data plane if missing). A snapshot of a durable emulator
therefore captures items, stream records, S3 objects and checkpoints at one moment, and a restart
rolls them back together. (A directory instead of a table keeps one JSON file per key,
``<consumer>-<hash>.json``, written atomically: what the benchmarks use.) The hash is of the
stream's *incarnation key*: for a DynamoDB stream its
ARN (it carries the stream label, a creation timestamp, so a re-provisioned table gets a new one); for
a Kinesis stream, whose ARN is only its name, the ARN plus its creation timestamp. A re-provisioned
emulator therefore starts from fresh checkpoints instead of resuming at a position of a stream that
no longer exists.

Writes are atomic: one PutItem (or, for files, a temporary file fsync'd and renamed over the old one),
so a kill -9 at any moment leaves either the old or the new checkpoint.

Also here: a shard's read state and which shards may be read now (a child after its parent), the pumps'
threads (start, crash guard, stop with a deadline), one backoff for every retry, and how AWS errors are
reported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

ClientFactory = Callable[[str], Any]  # makes a boto3 client for a service name, bound to the emulator

KINESIS_STREAM_ARN = re.compile(r"^arn:[\w-]+:kinesis:([\w-]+):(\d{12}):stream/(.+)$")
BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 5.0

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


CHECKPOINT_TABLE = "local-aws-checkpoints"


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or written; the message names where it lives and what to do."""


@dataclass(frozen=True)
class ShardPosition:
    """Where a consumer stands in one shard."""

    sequence_number: str | None  # last record acknowledged downstream; None: nothing yet
    finished: bool = False  # the shard is closed and was read to its end


def checkpoint_directory(state_directory: Path) -> Path:
    """The checkpoint directory inside a deployment's state directory (the file store's home)."""
    return state_directory / "checkpoints"


class CheckpointTable:
    """The pumps' checkpoints in the emulator's DynamoDB: one item per checkpoint key; thread-safe.

    ``dynamodb`` is a boto3 DynamoDB client bound to the emulator. The table (pay-per-request, key
    ``checkpoint``) is created on first use, and again if the emulator was reset meanwhile.
    """

    def __init__(self, dynamodb: Any, name: str = CHECKPOINT_TABLE) -> None:
        self.dynamodb = dynamodb
        self.name = name
        self._lock = threading.Lock()
        self._ready = False

    def __str__(self) -> str:
        return f"DynamoDB table {self.name} in the emulator"

    def ensure(self) -> None:
        """Create the table unless it exists."""
        with self._lock:
            if self._ready:
                return
            try:
                self.dynamodb.create_table(
                    TableName=self.name,
                    KeySchema=[{"AttributeName": "checkpoint", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "checkpoint", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                )
            except ClientError as exc:
                if error_code(exc) != "ResourceInUseException":  # created by another pump: fine
                    raise CheckpointError(
                        f"cannot create the checkpoint table {self.name}: {error_text(exc)}"
                    ) from exc
            self._ready = True

    def load(self, key: str) -> str | None:
        """The stored checkpoint document of ``key`` (JSON text), or None."""
        self.ensure()
        try:
            item = self.dynamodb.get_item(
                TableName=self.name, Key={"checkpoint": {"S": key}}, ConsistentRead=True
            ).get("Item")
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":  # the emulator was reset: no checkpoint
                self._ready = False
                return None
            raise CheckpointError(f"cannot read checkpoint {key} from {self}: {error_text(exc)}") from exc
        return item["state"]["S"] if item else None

    def save(self, key: str, document: str) -> None:
        """Store the checkpoint document of ``key`` (one PutItem: the old one or the new one, never half)."""
        for attempt in (1, 2):
            self.ensure()
            try:
                self.dynamodb.put_item(
                    TableName=self.name, Item={"checkpoint": {"S": key}, "state": {"S": document}}
                )
                return
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException" and attempt == 1:
                    self._ready = False  # the emulator was reset: create the table again
                    continue
                raise CheckpointError(f"cannot write checkpoint {key} to {self}: {error_text(exc)}") from exc

    def keys(self) -> list[str]:
        """Every checkpoint key stored (for status and tests)."""
        self.ensure()
        keys: list[str] = []
        kwargs: dict[str, Any] = {"TableName": self.name, "ProjectionExpression": "checkpoint"}
        while True:
            page = self.dynamodb.scan(**kwargs)
            keys += [item["checkpoint"]["S"] for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return sorted(keys)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


CheckpointLocation = Path | CheckpointTable  # where a CheckpointStore keeps its positions


class CheckpointStore:
    """The checkpoints of one consumer on one stream incarnation; thread-safe.

    Positions are changed in memory with :meth:`advance` / :meth:`finish` and made durable with
    :meth:`flush` (a no-op when nothing changed). Callers advance only after the downstream
    acknowledged the records, which is what makes a resume after a crash lossless.
    """

    def __init__(
        self, location: CheckpointLocation, consumer: str, stream_arn: str, incarnation: str = ""
    ) -> None:
        self.consumer = consumer
        self.stream_arn = stream_arn
        self.incarnation_key = f"{stream_arn}|{incarnation}" if incarnation else stream_arn
        digest = hashlib.sha256(self.incarnation_key.encode()).hexdigest()[:16]
        self.key = f"{_SAFE_NAME.sub('_', consumer)}-{digest}"
        self.table = location if isinstance(location, CheckpointTable) else None
        self.path = None if self.table is not None else Path(location) / f"{self.key}.json"
        self.where = (
            f"checkpoint {self.key} in {self.table}" if self.table else f"checkpoint file {self.path}"
        )
        self._lock = threading.Lock()
        self._positions: dict[str, ShardPosition] = self._load()
        self._dirty = False

    def _load(self) -> dict[str, ShardPosition]:
        if self.table is not None:
            text = self.table.load(self.key)
            if text is None:
                return {}
        else:
            assert self.path is not None
            try:
                text = self.path.read_text()
            except FileNotFoundError:
                return {}
            except OSError as exc:
                raise CheckpointError(f"cannot read checkpoint file {self.path}: {exc}") from exc
        try:
            data = json.loads(text)
            if data.get("incarnation_key") != self.incarnation_key:
                # Same hash prefix, different stream: never resume at someone else's position.
                return {}
            return {
                shard: ShardPosition(entry.get("sequence_number"), bool(entry.get("finished", False)))
                for shard, entry in data.get("shards", {}).items()
            }
        except (ValueError, AttributeError, TypeError) as exc:
            raise CheckpointError(
                f"{self.where} is not valid ({exc}); it is written atomically, so this "
                "means it was edited by hand. Delete it to re-read the stream from its start position "
                "(duplicates downstream, no loss)."
            ) from exc

    def position(self, shard_id: str) -> ShardPosition | None:
        """The recorded position in a shard, or None when it was never checkpointed."""
        with self._lock:
            return self._positions.get(shard_id)

    def positions(self) -> dict[str, ShardPosition]:
        """A copy of every shard's position."""
        with self._lock:
            return dict(self._positions)

    def advance(self, shard_id: str, sequence_number: str) -> None:
        """Record that everything up to ``sequence_number`` in the shard was delivered (in memory)."""
        with self._lock:
            current = self._positions.get(shard_id)
            if current is not None and current.sequence_number is not None:
                # Sequence numbers are decimal strings of growing length; never move backwards.
                if _seq_key(sequence_number) <= _seq_key(current.sequence_number):
                    return
            self._positions[shard_id] = ShardPosition(sequence_number, False)
            self._dirty = True

    def finish(self, shard_id: str) -> None:
        """Record that a closed shard was delivered to its end (in memory)."""
        with self._lock:
            current = self._positions.get(shard_id)
            self._positions[shard_id] = ShardPosition(current.sequence_number if current else None, True)
            self._dirty = True

    def flush(self) -> bool:
        """Write the positions durably if they changed; True when a write happened."""
        with self._lock:
            if not self._dirty:
                return False
            payload = {
                "consumer": self.consumer,
                "stream_arn": self.stream_arn,
                "incarnation_key": self.incarnation_key,
                "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "shards": {
                    shard: {"sequence_number": pos.sequence_number, "finished": pos.finished}
                    for shard, pos in sorted(self._positions.items())
                },
            }
            if self.table is not None:
                self.table.save(self.key, json.dumps(payload))
            else:
                assert self.path is not None
                _write_atomically(self.path, json.dumps(payload, indent=1).encode())
            self._dirty = False
            return True


def _seq_key(sequence_number: str) -> tuple[int, str]:
    return (len(sequence_number), sequence_number)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a crash
        finally:
            os.close(dir_fd)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(f"cannot write checkpoint file {path}: {exc}") from exc


@dataclass
class ShardReader:
    """A pump's read state of one source shard."""

    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    last_read: str | None = None  # sequence number of the last record read (for iterator renewal)
    exhausted: bool = False  # closed and read to its end


class SourceShards:
    """The shards of one source stream that a pump reads: listed again now and then, parents read first."""

    def __init__(self, store: CheckpointStore, refresh_s: float) -> None:
        self.store = store
        self.readers: dict[str, ShardReader] = {}
        self.known: set[str] = set()  # every shard id listed so far (a parent may have left the list)
        self._refresh_s = refresh_s
        self._listed_at = 0.0

    def refresh(self, list_shards: Callable[[], Mapping[str, str | None]]) -> None:
        """List the shards (id -> parent id) when due; add a reader for each new one not read to its end."""
        if self.readers and time.monotonic() - self._listed_at < self._refresh_s:
            return
        listed = list_shards()
        self._listed_at = time.monotonic()
        self.known |= set(listed)
        for shard_id, parent_id in listed.items():
            position = self.store.position(shard_id)
            if shard_id not in self.readers and not (position and position.finished):
                self.readers[shard_id] = ShardReader(shard_id, parent_id)

    def ready(self) -> list[ShardReader]:
        """Shards to read now: not exhausted, and their parent (if still listed) read to its end first."""
        ready = []
        for shard in self.readers.values():
            if shard.exhausted:
                continue
            parent = shard.parent_id
            if parent and parent in self.known:
                parent_shard = self.readers.get(parent)
                parent_position = self.store.position(parent)
                parent_done = (parent_shard is not None and parent_shard.exhausted) or (
                    parent_position is not None and parent_position.finished
                )
                if not parent_done:
                    continue  # keep per-key order: a child holds later changes of the parent's keys
            ready.append(shard)
        return ready


def list_kinesis_shards(kinesis: Any, stream_arn: str) -> dict[str, str | None]:
    """Every shard of a Kinesis stream with its parent (paginated ``list_shards``)."""
    shards: dict[str, str | None] = {}
    kwargs: dict[str, Any] = {"StreamARN": stream_arn}
    while True:
        response = kinesis.list_shards(**kwargs)
        for shard in response.get("Shards", []):
            shards[shard["ShardId"]] = shard.get("ParentShardId")
        token = response.get("NextToken")
        if not token:
            return shards
        kwargs = {"NextToken": token}


def list_stream_shards(streams: Any, stream_arn: str) -> dict[str, str | None]:
    """Every shard of a DynamoDB stream with its parent (paginated ``describe_stream``)."""
    shards: dict[str, str | None] = {}
    start: str | None = None
    while True:
        kwargs: dict[str, Any] = {"StreamArn": stream_arn}
        if start:
            kwargs["ExclusiveStartShardId"] = start
        description = streams.describe_stream(**kwargs)["StreamDescription"]
        for shard in description.get("Shards", []):
            shards[shard["ShardId"]] = shard.get("ParentShardId")
        start = description.get("LastEvaluatedShardId")
        if not start:
            return shards


def error_text(exc: BaseException) -> str:
    """An AWS error as ``Code: message`` (any other exception as ``Type: text``)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '?')}: {error.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError, else ""."""
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


class PumpThreads:
    """A pump's threads: started together, stopped with a deadline, and a crash in one stops them all.

    ``stopping`` asks the loops to stop reading and deliver what they hold; ``abort`` asks them to
    stop at once. ``on_crash`` receives ``"<loop> crashed: <error>"`` for the pump's health.
    """

    def __init__(self, pump: str, log: logging.Logger, on_crash: Callable[[str], None]) -> None:
        self.pump = pump
        self.stopping = threading.Event()
        self.abort = threading.Event()
        self._log = log
        self._on_crash = on_crash
        self._threads: list[threading.Thread] = []

    @property
    def alive(self) -> bool:
        """True while every thread runs (False before the start)."""
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def start(self, loops: Mapping[str, Callable[[], None]]) -> None:
        """Start one daemon thread per named loop."""
        self._threads = [
            threading.Thread(target=self._guard(loop), name=name, daemon=True) for name, loop in loops.items()
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float) -> None:
        """Ask the threads to finish (flushing what they hold) within ``timeout``, then abort them.

        What an aborted thread had not delivered was not checkpointed either, so it is read again on
        the next start: at-least-once, nothing lost.
        """
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            self.abort.set()
            for thread in self._threads:
                thread.join(5.0)

    def put(self, target: queue.Queue, item: Any) -> bool:
        """Put ``item`` on a bounded queue, waiting for room unless aborted; False if aborted."""
        while not self.abort.is_set():
            try:
                target.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _guard(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                loop()
            except Exception as exc:  # a bug: make it visible in health instead of dying silently
                self._log.exception("%s: %s crashed", self.pump, loop.__name__)
                self._on_crash(f"{loop.__name__} crashed: {error_text(exc)}")
                self.abort.set()
                self.stopping.set()  # the other loops end instead of waiting for this one
                raise

        return run


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...): doubling from 0.1 s up to 5 s, jittered.

    The jitter keeps the two pumps (and their threads) from retrying against the emulator in step.
    """
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempt - 1)) * random.uniform(0.5, 1.0)


class Pump:
    """What the Pipe and Firehose stand-ins share: their threads, checkpoint folder, metrics and config cache.

    A subclass calls :meth:`_init_pump` first in its constructor and defines ``_crashed(message)``
    and ``_sample_metrics(metrics)`` (its gauges, read just before each flush of the metrics).
    """

    _threads: PumpThreads

    def _init_pump(
        self,
        name: str,
        log: logging.Logger,
        checkpoint_dir: CheckpointLocation,
        metrics: Any,
        dimensions: list[dict[str, str]],
    ) -> None:
        self.metrics = metrics
        self._dimensions = dimensions
        if metrics is not None:
            metrics.add_sampler(self._sample_metrics)  # gauges read just before each flush
        # A CheckpointTable (the data plane's default) or a directory of checkpoint files.
        self.checkpoint_dir = (
            checkpoint_dir if isinstance(checkpoint_dir, CheckpointTable) else Path(checkpoint_dir)
        )
        self._config_read_at = 0.0
        self._config_lock = threading.Lock()
        self._threads = PumpThreads(name, log, self._crashed)

    def _crashed(self, message: str) -> None:  # pragma: no cover - every pump defines its own
        raise NotImplementedError

    def _sample_metrics(self, metrics: Any) -> None:  # pragma: no cover - every pump defines its own
        raise NotImplementedError

    @property
    def alive(self) -> bool:
        """True while all the pump's threads run."""
        return self._threads.alive
