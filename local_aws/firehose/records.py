"""Records on their way through the local Firehose, and the accounting that makes delivery at-least-once.

A Kinesis position is checkpointed only after every record up to it is in S3 (or was dropped): each
GetRecords answer becomes a :class:`Ticket` counting its records still in flight, and a shard's
:class:`Tracker` advances the checkpoint over the prefix of tickets that are complete. A kill -9 thus
loses nothing and re-delivers at most the unfinished buffers.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from local_aws.pumps import CheckpointStore


@dataclass(slots=True, eq=False)  # eq=False: tickets are counted by identity
class Ticket:
    """Records of one GetRecords answer on one shard; the checkpoint moves past it when all are done."""

    tracker: Tracker
    shard_id: str
    last_sequence: str | None
    remaining: int
    first_arrival_ms: int
    end_of_shard: bool


class Tracker:
    """Per-shard tickets in read order; advances the checkpoint over the completed prefix."""

    def __init__(self, store: CheckpointStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._tickets: dict[str, collections.deque[Ticket]] = {}

    def open(self, ticket: Ticket) -> None:
        """Start counting a ticket's records (an empty answer completes at once)."""
        with self._lock:
            self._tickets.setdefault(ticket.shard_id, collections.deque()).append(ticket)
            if ticket.remaining == 0:
                self._advance(ticket.shard_id)

    def done(self, counts: Mapping[Ticket, int]) -> None:
        """Count records of these tickets as delivered or dropped, and advance the checkpoints."""
        with self._lock:
            shards = set()
            for ticket, count in counts.items():
                ticket.remaining -= count
                shards.add(ticket.shard_id)
            for shard_id in shards:
                self._advance(shard_id)

    def _advance(self, shard_id: str) -> None:
        tickets = self._tickets.get(shard_id)
        while tickets and tickets[0].remaining <= 0:
            ticket = tickets.popleft()
            if ticket.last_sequence is not None:
                self.store.advance(shard_id, ticket.last_sequence)
            if ticket.end_of_shard:
                self.store.finish(shard_id)

    def oldest_arrival_ms(self) -> int | None:
        """Arrival (epoch ms) of the oldest record not yet delivered, if any."""
        with self._lock:
            fronts = [tickets[0].first_arrival_ms for tickets in self._tickets.values() if tickets]
        return min(fronts) if fronts else None


def complete(counts: Mapping[Ticket, int]) -> set[Tracker]:
    """Mark records done (by ticket); returns the trackers whose checkpoints may have moved."""
    by_tracker: dict[Tracker, dict[Ticket, int]] = {}
    for ticket, count in counts.items():
        by_tracker.setdefault(ticket.tracker, {})[ticket] = count
    for tracker, tickets in by_tracker.items():
        tracker.done(tickets)
    return set(by_tracker)


@dataclass(slots=True, eq=False)
class Record:
    """One Kinesis record inside the delivery stream."""

    ticket: Ticket
    shard_id: str
    sequence_number: str
    partition_key: str
    arrival_ms: int
    data: bytes
    arrival: float = field(init=False)  # epoch seconds: buffer deadlines count from here

    def __post_init__(self) -> None:
        self.arrival = self.arrival_ms / 1000
