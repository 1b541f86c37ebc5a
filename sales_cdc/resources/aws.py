"""AWS resources: boto3 clients for DynamoDB, Glue and SQS, and the stack outputs the assets need.

The clients are built on dagster-aws's ``ResourceWithBoto3Configuration`` (endpoint, region, profile,
explicit credentials), so the same resource reaches the emulator locally and real AWS on ``aws``:
only the configuration differs, chosen by :func:`sales_cdc.resources.build_resources`. S3 is
dagster-aws's own :class:`~dagster_aws.s3.S3Resource`.

:class:`LakeResource` carries the stack outputs (bucket, prefixes, catalog and queue names) so
that no asset reads settings files itself. :class:`UnavailableResource` stands in for a resource
whose deployment is not ready (stack not provisioned, emulator not running): the code location
still loads, and any run or tick that needs the resource fails with the reason and the fix.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from dagster import ConfigurableResource
from dagster_aws.s3 import S3Resource
from dagster_aws.utils import ResourceWithBoto3Configuration, construct_boto_client_retry_config
from pydantic import Field

from sales_cdc.settings import Settings, SettingsError


def boto3_client(config: ResourceWithBoto3Configuration, service: str) -> Any:
    """A boto3 client for ``service`` from a dagster-aws boto3 configuration (retries included).

    Clients are cached per service and configuration: creating one loads botocore's endpoint and
    service models (about half a second), which a sensor ticking every few seconds should not pay
    each time. boto3 clients are thread-safe, so sharing one is fine.
    """
    return _cached_client(
        service,
        config.profile_name,
        config.region_name,
        config.endpoint_url,
        config.use_ssl,
        config.verify,
        config.aws_access_key_id,
        config.aws_secret_access_key,
        config.aws_session_token,
        config.max_attempts,
    )


def s3_client(s3: S3Resource) -> Any:
    """The boto3 S3 client of a dagster-aws S3Resource, cached like :func:`boto3_client`.

    ``S3Resource.get_client`` builds a new session and client on every call; assets and sensors that
    call it on each run or tick use this instead.
    """
    if s3.use_unsigned_session:
        return s3.get_client()
    return _cached_client(
        "s3",
        s3.profile_name,
        s3.region_name,
        s3.endpoint_url,
        s3.use_ssl,
        s3.verify,
        s3.aws_access_key_id,
        s3.aws_secret_access_key,
        s3.aws_session_token,
        s3.max_attempts,
    )


@functools.lru_cache(maxsize=32)
def _cached_client(
    service: str,
    profile_name: str | None,
    region_name: str | None,
    endpoint_url: str | None,
    use_ssl: bool,
    verify: bool | None,
    aws_access_key_id: str | None,
    aws_secret_access_key: str | None,
    aws_session_token: str | None,
    max_attempts: int,
) -> Any:
    session = boto3.session.Session(profile_name=profile_name)
    return session.client(
        service,
        region_name=region_name,
        endpoint_url=endpoint_url,
        use_ssl=use_ssl,
        verify=verify,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        config=construct_boto_client_retry_config(max_attempts),
    )


class DynamoDBResource(ResourceWithBoto3Configuration):
    """DynamoDB (the ``orders`` table the generator writes and the reconciliation check scans)."""

    def get_client(self) -> Any:
        """A boto3 DynamoDB client."""
        return boto3_client(self, "dynamodb")


class GlueResource(ResourceWithBoto3Configuration):
    """The Glue Data Catalog (raw CDC table and its partitions)."""

    def get_client(self) -> Any:
        """A boto3 Glue client."""
        return boto3_client(self, "glue")


class SQSResource(ResourceWithBoto3Configuration):
    """SQS (the queue S3 announces new raw CDC objects on; read by the raw objects sensor)."""

    def get_client(self) -> Any:
        """A boto3 SQS client."""
        return boto3_client(self, "sqs")


class LakeResource(ConfigurableResource):
    """Where the data lake's parts live: the stack outputs every asset and the sensor read.

    Prefixes are S3 key prefixes ending in ``/`` (``raw/orders_cdc/``), as the stack outputs give them.
    """

    bucket: str = Field(description="Data lake bucket (stack output DataLakeBucketName).")
    raw_prefix: str = Field(description="Key prefix of the raw CDC objects (RawCdcPrefix).")
    error_prefix: str = Field(description="Key prefix of records Firehose could not process (ErrorPrefix).")
    derived_prefix: str = Field(description="Key prefix of the derived tables (DerivedPrefix).")
    glue_database: str = Field(description="Glue database of the raw and derived tables (GlueDatabaseName).")
    raw_table: str = Field(description="Glue table of the raw CDC rows (RawCdcTableName).")
    orders_table: str = Field(description="DynamoDB table of the orders (OrdersTableName).")
    object_created_queue_url: str = Field(
        description="SQS queue that S3 announces new raw objects on (ObjectCreatedQueueUrl)."
    )
    crawler_name: str = Field(description="Glue crawler of the raw CDC table (CrawlerName).")
    workgroup: str = Field(description="Athena workgroup of the queries (AthenaWorkGroupName).")

    @classmethod
    def from_settings(cls, settings: Settings) -> LakeResource:
        """The lake of a deployment; raises SettingsError naming every missing stack output."""
        return cls(
            bucket=settings.bucket,
            raw_prefix=settings.raw_cdc_prefix,
            error_prefix=settings.error_prefix,
            derived_prefix=settings.derived_prefix,
            glue_database=settings.glue_database,
            raw_table=settings.raw_cdc_table,
            orders_table=settings.orders_table,
            object_created_queue_url=settings.output("ObjectCreatedQueueUrl"),
            crawler_name=settings.output("CrawlerName"),
            workgroup=settings.output("AthenaWorkGroupName"),
        )

    @property
    def raw_location(self) -> str:
        """``s3://bucket/raw/orders_cdc/``: the raw CDC table's location."""
        return f"s3://{self.bucket}/{self.raw_prefix}"

    def raw_day_prefix(self, day: str) -> str:
        """Key prefix of one day's raw objects (``raw/orders_cdc/dt=2026-11-21/``)."""
        return f"{self.raw_prefix}dt={day}/"

    def raw_hour_prefix(self, day: str, hour: str) -> str:
        """Key prefix of one hour's raw objects (``raw/orders_cdc/dt=2026-11-21/hour=23/``)."""
        return f"{self.raw_prefix}dt={day}/hour={hour}/"

    def derived_location(self, name: str) -> str:
        """``s3://bucket/derived/<name>/``: where a derived table's files live."""
        return f"s3://{self.bucket}/{self.derived_prefix}{name}/"


class ResourceUnavailableError(SettingsError, AttributeError):
    """A resource of a deployment that is not ready was used; the message says why and what to do.

    Also an AttributeError so that ``hasattr`` probes (Dagster's, for optional hooks) see a missing
    attribute instead of failing.
    """


class UnavailableResource(ConfigurableResource):
    """Stands in for a resource whose deployment is not ready; fails at use, never at import.

    The code location loads (so the UI shows the assets, sensors and schedules), and the first use of
    the resource in a run or a sensor tick (``lake.bucket``, ``s3.get_client()``...) raises
    :class:`ResourceUnavailableError` with ``reason``, which says what to do.
    """

    resource_key: str = Field(description="The resource key this stands in for.")
    reason: str = Field(description="Why the resource is unavailable and how to make it available.")

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes the model does not have: what an asset would use on the real resource.
        if name.startswith("_"):
            return super().__getattr__(name)  # pydantic's private attributes
        raise ResourceUnavailableError(f"resource {self.resource_key!r} is not available: {self.reason}")
