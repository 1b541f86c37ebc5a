"""AWS resources: boto3 clients for DynamoDB, Glue, SQS and CloudWatch, and the stack outputs the assets need.

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


def boto3_client(config: ResourceWithBoto3Configuration | S3Resource, service: str) -> Any:
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
    return boto3_client(s3, "s3")


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


class CloudWatchResource(ResourceWithBoto3Configuration):
    """CloudWatch: the pipeline's alarms (the emulator's CloudWatch locally, evaluated by the data plane).

    ``alarm_name_prefix`` is the stack output AlarmNamePrefix: every alarm of the stack starts with it.
    """

    alarm_name_prefix: str | None = Field(
        default=None, description="Prefix of the stack's alarm names (stack output AlarmNamePrefix)."
    )

    def get_client(self) -> Any:
        """A boto3 CloudWatch client."""
        return boto3_client(self, "cloudwatch")

    def stack_alarm_prefix(self) -> str:
        """The stack's alarm name prefix; SettingsError saying how to get it when the outputs lack it."""
        if not self.alarm_name_prefix:
            raise SettingsError(
                "stack output 'AlarmNamePrefix' is not known, so the pipeline's alarms cannot be found; "
                "provision again (`sales-cdc up`, or `sales-cdc deploy` on aws) with the current template."
            )
        return self.alarm_name_prefix


class LakeResource(ConfigurableResource):
    """Where the data lake's parts live: the stack outputs every asset and the sensor read.

    Prefixes are S3 key prefixes ending in ``/`` (``raw/orders_cdc/``), as the stack outputs give them.
    """

    bucket: str = Field(description="Data lake bucket (stack output DataLakeBucketName).")
    raw_prefix: str = Field(description="Key prefix of the raw CDC objects (RawCdcPrefix).")
    error_prefix: str = Field(description="Key prefix of records Firehose could not process (ErrorPrefix).")
    derived_prefix: str = Field(description="Key prefix of the derived tables (DerivedPrefix).")
    quarantine_prefix: str = Field(
        default="quarantine/orders_cdc/",
        description="Key prefix where unreadable raw objects are moved, with the reason (QuarantinePrefix).",
    )
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
            quarantine_prefix=settings.quarantine_prefix,
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
