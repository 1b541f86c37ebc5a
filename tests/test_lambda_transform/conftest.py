"""Fixtures of the lambda_transform tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from lambda_transform import firehose


@pytest.fixture(params=["orjson", "json"])
def json_library(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test with each JSON parser the Lambda can use."""
    previous = firehose.JSON_LIBRARY
    firehose.use_json_library(request.param)
    try:
        yield request.param
    finally:
        firehose.use_json_library(previous)


@pytest.fixture
def lambda_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Captured records of the lambda_transform logger."""
    caplog.set_level(logging.INFO, logger="lambda_transform")
    return caplog
