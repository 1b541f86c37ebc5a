"""Shared fixtures: one local stack (its emulator process) per test session, reset per test that needs it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.clients import LOCAL_CREDENTIALS
from local_aws.dataplane import DataPlane
from local_aws.server import STATE_FILE_NAME, Emulator, reset_emulator
from local_aws.stack import LocalStack
from sales_cdc.settings import Settings, load_settings, outputs_path, state_dir


@pytest.fixture(scope="session")
def sales_cdc_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private SALES_CDC_HOME for the session, so tests never touch a developer's local stack."""
    home = tmp_path_factory.mktemp("sales-cdc-home")
    old = os.environ.get("SALES_CDC_HOME")
    os.environ["SALES_CDC_HOME"] = str(home)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", LOCAL_CREDENTIALS["aws_access_key_id"])
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", LOCAL_CREDENTIALS["aws_secret_access_key"])
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    yield home
    if old is None:
        os.environ.pop("SALES_CDC_HOME", None)
    else:
        os.environ["SALES_CDC_HOME"] = old


@pytest.fixture(scope="session")
def local_stack(sales_cdc_home: Path) -> Iterator[LocalStack]:
    """The session's local stack: a moto server on a free port of 127.0.0.1, recorded for settings to find.

    Its log stays outside the local state directory, which clean_emulator empties.
    """
    stack = LocalStack(state_dir("local"), port=0, emulator_log=sales_cdc_home / "emulator.log")
    os.environ.pop("SALES_CDC_EMULATOR_PORT", None)
    endpoint = stack.start_or_reuse_emulator()
    os.environ["SALES_CDC_ENDPOINT_URL"] = endpoint
    yield stack
    stack.stop()
    os.environ.pop("SALES_CDC_ENDPOINT_URL", None)


@pytest.fixture(scope="session")
def emulator(local_stack: LocalStack) -> Emulator:
    """The session's moto server."""
    assert local_stack.emulator is not None, "the session's home is new: its emulator is started, not reused"
    return local_stack.emulator


@pytest.fixture
def clean_emulator(emulator: Emulator, sales_cdc_home: Path) -> Emulator:
    """The session emulator, emptied, with no local state left from an earlier test."""
    reset_emulator(emulator.endpoint)
    local_state = sales_cdc_home / "local"
    if local_state.exists():
        for path in local_state.rglob("*"):
            if path.is_file() and path.name != STATE_FILE_NAME:
                path.unlink()
    return emulator


@pytest.fixture
def provisioned(clean_emulator: Emulator, local_stack: LocalStack) -> Settings:
    """A freshly provisioned local deployment; returns its Settings."""
    local_stack.provision(outputs_path=outputs_path("local"))
    return load_settings("local")


@pytest.fixture
def make_data_plane() -> Callable[..., DataPlane]:
    """Builds (does not start) the data plane of a provisioned local deployment's settings.

    Keyword options as for DataPlane; checkpoints and status live in the local state directory.
    """

    def make(settings: Settings, **options: Any) -> DataPlane:
        options.setdefault("state_dir", state_dir("local"))
        return DataPlane.from_outputs(settings.endpoint_url, settings.region, settings.outputs, **options)

    return make
