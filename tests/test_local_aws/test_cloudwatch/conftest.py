"""Fixtures of the local CloudWatch's tests: a CloudWatch client of the session emulator."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from infra.clients import LOCAL_CREDENTIALS
from local_aws.server import Emulator
from test_local_aws.dataplane_helpers import aws, lake  # noqa: F401 (fixtures offered to this folder)


@pytest.fixture
def cloudwatch(emulator: Emulator) -> Any:
    """A CloudWatch client of the session emulator (tests use their own namespaces and alarm names)."""
    return boto3.client(
        "cloudwatch", endpoint_url=emulator.endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS
    )
