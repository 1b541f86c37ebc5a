"""Durable checkpoints of the local data plane: per stream and consumer, the last position per shard.

Both pumps (the Pipe stand-in reading the DynamoDB Stream, the Firehose stand-in reading the Kinesis
stream) record, per shard, the sequence number of the last record whose delivery was acknowledged
(Kinesis for the Pipe, S3 for Firehose), and whether the shard was read to its end. After a crash they
resume *after* that sequence number: records delivered but not yet checkpointed are delivered again
(duplicates are allowed), nothing acknowledged-as-read is skipped (no loss).

One JSON file per (consumer, stream incarnation) under ``<state dir>/checkpoints/``, named
``<consumer>-<hash>.json``. The hash is of the stream's *incarnation key*: for a DynamoDB stream its
ARN (it carries the stream label, a creation timestamp, so a re-provisioned table gets a new one); for
a Kinesis stream, whose ARN is only its name, the ARN plus its creation timestamp. A re-provisioned
emulator therefore starts from fresh checkpoints instead of resuming at a position of a stream that
no longer exists.

Writes are atomic and durable: a temporary file is written and fsync'd, renamed over the old one, and
the directory is fsync'd, so a kill -9 at any moment leaves either the old or the new checkpoint.

Also here, what both pumps share: a shard's read state and which shards may be read now (a child
after its parent), their threads' start and stop, and how AWS errors are reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read or written; the message names the file and what to do."""


@dataclass(frozen=True)
class ShardPosition:
    """Where a consumer stands in one shard."""

    sequence_number: str | None  # last record acknowledged downstream; None: nothing yet
    finished: bool = False  # the shard is closed and was read to its end


def checkpoint_directory(state_directory: Path) -> Path:
    """The checkpoint directory inside a deployment's state directory."""
    return state_directory / "checkpoints"


class CheckpointStore:
    """The checkpoints of one consumer on one stream incarnation; thread-safe.

    Positions are changed in memory with :meth:`advance` / :meth:`finish` and made durable with
    :meth:`flush` (a no-op when nothing changed). Callers advance only after the downstream
    acknowledged the records, which is what makes a resume after a crash lossless.
    """

    def __init__(self, directory: Path, consumer: str, stream_arn: str, incarnation: str = "") -> None:
        self.consumer = consumer
        self.stream_arn = stream_arn
        self.incarnation_key = f"{stream_arn}|{incarnation}" if incarnation else stream_arn
        digest = hashlib.sha256(self.incarnation_key.encode()).hexdigest()[:16]
        self.path = Path(directory) / f"{_SAFE_NAME.sub('_', consumer)}-{digest}.json"
        self._lock = threading.Lock()
        self._positions: dict[str, ShardPosition] = self._load()
        self._dirty = False
        self.writes = 0

    def _load(self) -> dict[str, ShardPosition]:
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
                f"checkpoint file {self.path} is not valid ({exc}); it is written atomically, so this "
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
            _write_atomically(self.path, json.dumps(payload, indent=1).encode())
            self._dirty = False
            self.writes += 1
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


def describe_checkpoints(directory: Path) -> list[dict[str, Any]]:
    """Every checkpoint file in a directory, parsed (for ``sales-cdc local status`` and tests)."""
    found = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            data: Mapping[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found.append({"file": str(path), **data})
    return found


@dataclass
class ShardReader:
    """A pump's read state of one source shard."""

    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    last_read: str | None = None  # sequence number of the last record read (for iterator renewal)
    exhausted: bool = False  # closed and read to its end


def ready_shards(
    shards: dict[str, ShardReader], store: CheckpointStore, known: set[str]
) -> list[ShardReader]:
    """Shards to read now: not exhausted, and their parent (if still listed) read to its end first."""
    ready = []
    for shard in shards.values():
        if shard.exhausted:
            continue
        parent = shard.parent_id
        if parent and parent in known:
            parent_shard = shards.get(parent)
            parent_position = store.position(parent)
            parent_done = (parent_shard is not None and parent_shard.exhausted) or (
                parent_position is not None and parent_position.finished
            )
            if not parent_done:
                continue  # keep per-key order: a child holds later changes of the parent's keys
        ready.append(shard)
    return ready


def error_text(exc: BaseException) -> str:
    """An AWS error as ``Code: message`` (any other exception as ``Type: text``)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '?')}: {error.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError, else ""."""
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


def start_threads(loops: dict[str, Callable[[], None]]) -> list[threading.Thread]:
    """Start one daemon thread per named loop of a pump; returns them."""
    threads = [threading.Thread(target=loop, name=name, daemon=True) for name, loop in loops.items()]
    for thread in threads:
        thread.start()
    return threads


def stop_threads(
    threads: list[threading.Thread], stopping: threading.Event, abort: threading.Event, timeout: float
) -> None:
    """Ask a pump's threads to finish (flushing what they hold) within ``timeout``, then abort them.

    What an aborted thread had not delivered was not checkpointed either, so it is read again on the
    next start: at-least-once, nothing lost.
    """
    stopping.set()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        abort.set()
        for thread in threads:
            thread.join(5.0)
