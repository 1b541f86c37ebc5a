"""The durable checkpoint store of the data plane's pumps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_aws.pumps import CheckpointError, CheckpointStore, ShardPosition


def test_positions_survive_a_new_store_and_never_move_backwards(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, "pipe-orders", "arn:aws:dynamodb:us-east-1:1:table/t/stream/2026")
    store.advance("shard-1", "1100000000017454423100")
    store.advance("shard-1", "1100000000017454423099")  # an older position is ignored
    store.advance("shard-2", "9")
    store.finish("shard-2")
    assert store.flush() is True
    assert store.flush() is False  # nothing changed since

    again = CheckpointStore(tmp_path, "pipe-orders", "arn:aws:dynamodb:us-east-1:1:table/t/stream/2026")
    assert again.position("shard-1") == ShardPosition("1100000000017454423100", False)
    assert again.position("shard-2") == ShardPosition("9", True)
    assert again.position("shard-3") is None
    assert not list(tmp_path.glob(".*.tmp")), "the temporary file must be renamed away"


def test_a_new_stream_incarnation_starts_fresh(tmp_path: Path) -> None:
    arn = "arn:aws:kinesis:us-east-1:1:stream/changes"
    old = CheckpointStore(tmp_path, "firehose-x", arn, incarnation="2026-01-01T00:00:00")
    old.advance("shardId-000000000000", "42")
    old.flush()
    # Same ARN (Kinesis ARNs are names), created again: a position of the old stream must not be used.
    new = CheckpointStore(tmp_path, "firehose-x", arn, incarnation="2026-01-02T00:00:00")
    assert new.positions() == {}
    assert new.path != old.path


def test_a_corrupt_checkpoint_is_reported_with_the_file_and_the_fix(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, "pipe-orders", "arn:s")
    store.path.write_text(json.dumps({"incarnation_key": "arn:s", "shards": ["not", "a", "mapping"]}))
    with pytest.raises(CheckpointError, match=str(store.path)) as info:
        CheckpointStore(tmp_path, "pipe-orders", "arn:s")
    assert "Delete it" in str(info.value)
