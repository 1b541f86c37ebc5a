"""The local Pipe's Kinesis target: each record's PutRecords entry, and how a batch splits into calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from local_aws.pipes.config import (
    KINESIS_MAX_RECORD_BYTES,
    KINESIS_MAX_RECORDS,
    KINESIS_MAX_REQUEST_BYTES,
    PartitionKeyError,
    compile_partition_key,
)
from local_aws.pipes.events import encode_event, to_pipe_event


def kinesis_entries(
    records: Sequence[tuple[Mapping[str, Any], str]], partition_key: str
) -> tuple[list[dict[str, Any] | None], list[tuple[int, str]]]:
    """PutRecords entries for stream records (each with its stream ARN), in order.

    A record without a usable partition key, or too large for Kinesis, gets None and is listed with
    the reason among the invalid ones (the Pipe dead-letters those without trying).
    """
    key_of = compile_partition_key(partition_key)
    entries: list[dict[str, Any] | None] = []
    invalid: list[tuple[int, str]] = []
    for position, (record, stream_arn) in enumerate(records):
        event = to_pipe_event(record, stream_arn)
        data = encode_event(event)
        try:
            key = key_of(event)
        except PartitionKeyError as exc:
            entries.append(None)
            invalid.append((position, str(exc)))
            continue
        if len(data) + len(key.encode()) > KINESIS_MAX_RECORD_BYTES:
            entries.append(None)
            invalid.append((position, f"record of {len(data)} bytes exceeds Kinesis' 1 MiB limit"))
            continue
        entries.append({"Data": data, "PartitionKey": key})
    return entries, invalid


def put_groups(positions: list[int], entries: Sequence[dict[str, Any] | None]) -> list[list[int]]:
    """Split positions into PutRecords calls within the record-count and request-size limits."""
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for position in positions:
        entry = entries[position]
        assert entry is not None
        entry_size = len(entry["Data"]) + len(entry["PartitionKey"].encode())
        if current and (len(current) >= KINESIS_MAX_RECORDS or size + entry_size > KINESIS_MAX_REQUEST_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(position)
        size += entry_size
    if current:
        groups.append(current)
    return groups
