"""Dagster resources: AWS clients, the query engine and the crawler, each with local and aws implementations.

:func:`build_resources` picks the implementations by deployment name (the pattern of Dagster's
reference projects): assets, checks, sensors and schedules only name resource keys
(:data:`RESOURCE_KEYS`) and never ask which deployment they run in.

| key            | local                                    | aws                          |
|----------------|------------------------------------------|------------------------------|
| s3             | dagster-aws S3Resource on the emulator   | S3Resource                   |
| dynamodb, glue, sqs, cloudwatch | boto3 clients on the emulator | boto3 clients         |
| lake           | LakeResource (stack outputs)             | LakeResource (stack outputs) |
| query_engine   | LocalQueryEngine (DuckDB + sqlglot)      | AthenaQueryEngine (pyathena) |
| crawler        | LocalCrawlerResource                     | GlueCrawlerResource          |

Building never fails on a deployment that is not ready (emulator not running, stack not provisioned):
the affected keys get an :class:`~sales_cdc.resources.aws.UnavailableResource`, so the code location
loads and the first run or tick needing them fails with the settings error and its fix.
"""

from __future__ import annotations

from typing import Any

from dagster_aws.s3 import S3Resource

from infra.clients import LOCAL_CREDENTIALS
from sales_cdc.resources.aws import (
    CloudWatchResource,
    DynamoDBResource,
    GlueResource,
    LakeResource,
    SQSResource,
    UnavailableResource,
)
from sales_cdc.resources.crawler import GlueCrawlerResource, LocalCrawlerResource
from sales_cdc.resources.query_engine import AthenaQueryEngine, LocalQueryEngine
from sales_cdc.settings import (
    Settings,
    SettingsError,
    deployment_name,
    load_settings,
    outputs_path,
    wait_for_provisioning,
)

# The resource keys every part of the application uses (the contract between them).
RESOURCE_KEYS = ("s3", "dynamodb", "glue", "sqs", "cloudwatch", "lake", "query_engine", "crawler")
STACK_KEYS = ("lake", "query_engine", "crawler")  # need the stack outputs, not just an endpoint

_RELOAD_HINT = (
    "Then reload the code location (Deployment → Reload in the Dagster UI, or restart `dagster dev`)."
)


def _client_config(settings: Settings) -> dict[str, Any]:
    """boto3 configuration shared by the client resources of a deployment."""
    config: dict[str, Any] = {"region_name": settings.region}
    if settings.deployment == "local":
        # The emulator accepts any credentials; fixed ones keep boto3 from looking for real ones.
        config.update(endpoint_url=settings.endpoint_url, **LOCAL_CREDENTIALS)
    else:
        config["profile_name"] = settings.profile_name
        if settings.endpoint_url:
            config["endpoint_url"] = settings.endpoint_url
    if (config.get("endpoint_url") or "").startswith("http://"):
        config["use_ssl"] = False  # say what the endpoint does (the launchpad shows these settings)
    return config


def _stack_resources(settings: Settings, client_config: dict[str, Any]) -> dict[str, Any]:
    """The lake, the query engine and the crawler of a deployment whose stack outputs are complete."""
    lake = LakeResource.from_settings(settings)
    if settings.deployment == "local":
        engine_class, crawler_class = LocalQueryEngine, LocalCrawlerResource
        endpoint: dict[str, Any] = {"endpoint_url": settings.endpoint_url}
        engine_only: dict[str, Any] = {"output_location": settings.output("AthenaResultsLocation")}
    else:
        engine_class, crawler_class = AthenaQueryEngine, GlueCrawlerResource
        endpoint = {"profile_name": settings.profile_name, "endpoint_url": client_config.get("endpoint_url")}
        # The workgroup enforces its result location and scan cutoff (EnforceWorkGroupConfiguration).
        engine_only = {}
    return {
        "lake": lake,
        "query_engine": engine_class(
            database=lake.glue_database,
            workgroup=lake.workgroup,
            region_name=settings.region,
            **endpoint,
            **engine_only,
        ),
        "crawler": crawler_class(crawler_name=lake.crawler_name, region_name=settings.region, **endpoint),
    }


def build_resources(deployment: str | None = None) -> dict[str, Any]:
    """The resources of a deployment (``local`` by default, or ``aws``), keyed by :data:`RESOURCE_KEYS`.

    Values come from :func:`sales_cdc.settings.load_settings`. A deployment that is not ready gives
    :class:`UnavailableResource` for the keys it cannot serve, carrying the reason and the fix.
    """
    deployment = deployment or deployment_name()
    if deployment == "local":
        wait_for_provisioning()  # `sales-cdc up` may still be provisioning while Dagster starts
    settings = load_settings(deployment, require_outputs=False)
    if deployment == "local" and not settings.endpoint_url:
        reason = (
            "the local emulator is not running (no SALES_CDC_ENDPOINT_URL, and no running emulator recorded "
            f"in {outputs_path('local').parent}); start the local stack with `make run` (`sales-cdc up`). "
            + _RELOAD_HINT
        )
        return {key: UnavailableResource(resource_key=key, reason=reason) for key in RESOURCE_KEYS}
    client_config = _client_config(settings)
    resources: dict[str, Any] = {
        "s3": S3Resource(**client_config),
        "dynamodb": DynamoDBResource(**client_config),
        "glue": GlueResource(**client_config),
        "sqs": SQSResource(**client_config),
        "cloudwatch": CloudWatchResource(
            **client_config, alarm_name_prefix=settings.outputs.get("AlarmNamePrefix")
        ),
    }
    try:
        complete = load_settings(deployment)  # raises SettingsError naming every missing output
    except SettingsError as exc:
        reason = f"{exc} {_RELOAD_HINT}"
        resources.update({key: UnavailableResource(resource_key=key, reason=reason) for key in STACK_KEYS})
        return resources
    resources.update(_stack_resources(complete, client_config))
    return resources


__all__ = [
    "RESOURCE_KEYS",
    "STACK_KEYS",
    "CloudWatchResource",
    "DynamoDBResource",
    "GlueResource",
    "LakeResource",
    "SQSResource",
    "UnavailableResource",
    "build_resources",
]
