"""Fixtures of the local Athena suite: a fresh lake with the raw CDC table, and an engine over it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_aws.athena import LocalAthena
from local_aws.server import reset_emulator
from test_local_aws.test_athena.lake import REGION, Lake


@pytest.fixture
def lake(clean_emulator) -> Lake:
    """An empty emulator with the lake bucket, Glue database and raw CDC table (no partitions)."""
    lake = Lake(clean_emulator.endpoint).create()
    lake.create_raw_table()
    return lake


@pytest.fixture(scope="module")
def shared_lake(emulator) -> Lake:
    """One lake for a whole module whose tests only read it (the emulator is emptied once, first)."""
    reset_emulator(emulator.endpoint)
    lake = Lake(emulator.endpoint).create()
    lake.create_raw_table()
    return lake


@pytest.fixture(scope="session")
def session_athena(emulator) -> Iterator[LocalAthena]:
    """One LocalAthena for the session: like the Dagster resource, it outlives many statements and
    catalog changes (its object cache is keyed by ETag, so a reset emulator cannot serve stale data)."""
    engine = LocalAthena(emulator.endpoint, REGION)
    yield engine
    engine.close()


@pytest.fixture
def athena(lake: Lake, session_athena: LocalAthena) -> LocalAthena:
    """The session's LocalAthena over a fresh lake."""
    return session_athena
