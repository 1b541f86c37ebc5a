"""Fixtures of the local Firehose's tests that run against the emulator."""

from test_local_aws.dataplane_helpers import aws, lake  # noqa: F401 (fixtures offered to this folder)
