"""Dynamic partitioning in the local Firehose: records routed to per-partition and error-output buffers.

Ok records are grouped by the ``metadata.partitionKeys`` the prefix uses (``!{partitionKeyFromLambda:...}``);
a record missing one goes to the error prefix as ``partitioning-failed``
(``DynamicPartitioning.PartitionKeyMissing``, this stand-in's own code), a record the processor failed
as ``processing-failed``. A buffer is due when it holds ``BufferingHints.SizeInMBs`` or its oldest record
arrived ``IntervalInSeconds`` ago; it then becomes one S3 object, named as Firehose names them:
``<prefix><stream name>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>[.gz]``.
"""

from __future__ import annotations

import collections
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from local_aws.firehose.config import DeliveryStreamConfig
from local_aws.firehose.lambda_contract import ProcessedBatch, error_record
from local_aws.firehose.records import Record, Ticket

PARTITION_KEY_MISSING = "DynamicPartitioning.PartitionKeyMissing"


@dataclass(slots=True, eq=False)
class Buffer:
    """Bytes waiting for one S3 object (one partition, or one error-output type)."""

    keys: Mapping[str, str]
    error_type: str
    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    opened: float = float("inf")  # arrival (epoch seconds) of the oldest record
    oldest_arrival_ms: int = 2**62
    tickets: collections.Counter[Ticket] = field(default_factory=collections.Counter)
    records: int = 0

    def add(self, record: Record, data: bytes) -> None:
        """Append a record's bytes (already encoded for the object)."""
        self.parts.append(data)
        self.size += len(data)
        self.records += 1
        self.tickets[record.ticket] += 1
        if record.arrival < self.opened:
            self.opened = record.arrival
        if record.arrival_ms < self.oldest_arrival_ms:
            self.oldest_arrival_ms = record.arrival_ms


@dataclass
class S3Object:
    """A buffer ready for S3: where it goes, its parts, and the tickets it completes once written."""

    bucket: str
    key: str
    parts: list[bytes]
    compression: str
    tickets: collections.Counter[Ticket]
    records: int
    error_type: str


def object_name(config: DeliveryStreamConfig, arrival: datetime) -> str:
    """The object name Firehose appends to the evaluated prefix."""
    return (
        f"{config.name}-{config.version_id}-{arrival:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{config.file_extension}"
    )


def s3_object(config: DeliveryStreamConfig, buffer: Buffer) -> S3Object:
    """The object a due buffer becomes: its prefix evaluated at the oldest record's arrival, then its name."""
    arrival = datetime.fromtimestamp(buffer.oldest_arrival_ms / 1000, UTC)
    if buffer.error_type:
        prefix = config.error_prefix.render({}, arrival, buffer.error_type)
    else:
        prefix = config.prefix.render(buffer.keys, arrival)
    return S3Object(
        config.bucket,
        prefix + object_name(config, arrival),
        buffer.parts,
        config.compression,
        buffer.tickets,
        buffer.records,
        buffer.error_type,
    )


class PartitionBuffers:
    """The buffers of a delivery stream: one per partition (Ok records) and one per error-output type."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[str | None, ...], Buffer] = {}

    def __bool__(self) -> bool:
        return bool(self._buffers)

    @property
    def records(self) -> int:
        """How many records the buffers hold."""
        return sum(buffer.records for buffer in self._buffers.values())

    def oldest_arrivals(self) -> list[float]:
        """Arrival (epoch seconds) of each buffer's oldest record: buffering intervals count from these."""
        return [buffer.opened for buffer in self._buffers.values()]

    def add(self, record: Record, data: bytes, keys: Mapping[str, str] | None = None) -> None:
        """Buffer an Ok record's bytes in its partition (``keys``: its partition key values)."""
        keys = keys or {}
        self._add(("ok", *keys.values()), keys, "", record, data)

    def add_error(self, error_type: str, record: Record, line: bytes) -> None:
        """Buffer an error-output line (``processing-failed`` or ``partitioning-failed``)."""
        self._add(("error", error_type), {}, error_type, record, line)

    def _add(self, key: tuple, keys: Mapping[str, str], error_type: str, record: Record, data: bytes) -> None:
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = Buffer(keys, error_type)
        buffer.add(record, data)

    def add_unprocessed(self, config: DeliveryStreamConfig, record: Record) -> None:
        """Route a record of a delivery stream without a processor."""
        if config.prefix.partition_key_names:
            now_ms = int(time.time() * 1000)
            reason = "no processor returns the partition keys the prefix uses"
            line = error_record(record, PARTITION_KEY_MISSING, reason, 0, "", now_ms)
            self.add_error("partitioning-failed", record, line)
        else:
            self.add(record, record.data + (b"\n" if config.append_delimiter else b""))

    def add_processed(
        self,
        config: DeliveryStreamConfig,
        outcome: ProcessedBatch,
        attempts: int,
        lambda_arn: str,
        ended_ms: int,
    ) -> None:
        """Route the Ok and failed records of an invocation (dropped records are not buffered)."""
        names = config.prefix.partition_key_names
        delimiter = b"\n" if config.append_delimiter else b""
        for record, data, partition_keys in outcome.ok:
            values = tuple(partition_keys.get(name) for name in names)
            missing = [n for n, v in zip(names, values, strict=True) if not (isinstance(v, str) and v)]
            if missing:
                reason = f"the processor returned no partition key {', '.join(missing)}"
                line = error_record(record, PARTITION_KEY_MISSING, reason, attempts, lambda_arn, ended_ms)
                self.add_error("partitioning-failed", record, line)
                continue
            self.add(record, data + delimiter, dict(zip(names, values, strict=True)))
        for record, code, message in outcome.failed:
            line = error_record(record, code, message, attempts, lambda_arn, ended_ms)
            self.add_error("processing-failed", record, line)

    def take_due(self, config: DeliveryStreamConfig, now: float, everything: bool = False) -> list[Buffer]:
        """Remove and return the buffers due for S3 (all of them when ``everything``)."""
        due = [
            key
            for key, buffer in self._buffers.items()
            if everything
            or buffer.size >= config.buffer_size_bytes
            or now - buffer.opened >= config.buffer_interval_s
        ]
        return [self._buffers.pop(key) for key in due]
