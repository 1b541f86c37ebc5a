"""Fixtures of the resource tests: the lake, and control of the emulator's state transitions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from test_local_aws.test_athena.lake import Lake

from local_aws.server import moto_api


@pytest.fixture
def lake(clean_emulator) -> Lake:
    """A bucket, a Glue database and the raw CDC table."""
    lake = Lake(clean_emulator.endpoint).create()
    lake.create_raw_table()
    return lake


@pytest.fixture
def transition(clean_emulator) -> Iterator[Callable[[str, dict], None]]:
    """Set how a model's state advances in the emulator (moto's state manager); undone afterwards."""
    models: list[str] = []

    def set_transition(model: str, progression: dict) -> None:
        moto_api(
            clean_emulator.endpoint,
            "state-manager/set-transition",
            {"model_name": model, "transition": progression},
        )
        models.append(model)

    yield set_transition
    for model in models:
        moto_api(clean_emulator.endpoint, "state-manager/unset-transition", {"model_name": model})
