"""Shared fixtures: one embedded AWS (moto server process) per test session, reset per test that needs it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.clients import LOCAL_CREDENTIALS
from local_aws.emulator import Emulator, reset_emulator


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
def emulator(sales_cdc_home: Path) -> Iterator[Emulator]:
    """The session's moto server on a free port of 127.0.0.1, recorded for settings to find."""
    emu = Emulator(port=0, record=True, log_path=sales_cdc_home / "emulator.log")
    os.environ.pop("SALES_CDC_EMULATOR_PORT", None)
    emu.start()
    os.environ["SALES_CDC_ENDPOINT_URL"] = emu.endpoint
    yield emu
    emu.stop()
    os.environ.pop("SALES_CDC_ENDPOINT_URL", None)


@pytest.fixture
def clean_emulator(emulator: Emulator, sales_cdc_home: Path) -> Emulator:
    """The session emulator, emptied, with no local state left from an earlier test."""
    reset_emulator(emulator.endpoint)
    local_state = sales_cdc_home / "local"
    if local_state.exists():
        for path in local_state.rglob("*"):
            if path.is_file() and path.name != "emulator.json":
                path.unlink()
    return emulator


@pytest.fixture
def provisioned(clean_emulator: Emulator):
    """A freshly provisioned local deployment; returns its Settings."""
    from local_aws.provision import provision
    from sales_cdc.settings import load_settings

    provision(clean_emulator.endpoint, report=lambda line: None)
    return load_settings("local")
