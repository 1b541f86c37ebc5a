"""Deployment settings: which deployment runs (``local`` or ``aws``) and the stack outputs it reads.

The stack outputs are written by the local provisioner (``local``) or by ``sales-cdc deploy`` (``aws``)
to ``$SALES_CDC_HOME/<deployment>/outputs.json``; environment variables ``SALES_CDC_OUTPUT_<NAME>``
override single values.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

DEPLOYMENTS = ("local", "aws")
DEFAULT_REGION = "us-east-1"

# Stack outputs the application reads; the template's Outputs section must provide each of them.
REQUIRED_OUTPUTS = (
    "OrdersTableName",
    "OrdersStreamArn",
    "ChangeStreamName",
    "ChangeStreamArn",
    "DataLakeBucketName",
    "RawCdcPrefix",
    "ErrorPrefix",
    "DerivedPrefix",
    "GlueDatabaseName",
    "RawCdcTableName",
    "CrawlerName",
    "AthenaWorkGroupName",
    "AthenaResultsLocation",
    "DeliveryStreamName",
    "PipeName",
    "TransformFunctionArn",
    "ObjectCreatedQueueUrl",
)


class SettingsError(RuntimeError):
    """Settings are missing or invalid; the message says what and how to fix it."""


def project_root() -> Path:
    """The project checkout (where pyproject.toml lives)."""
    return Path(__file__).resolve().parent.parent


def home_dir() -> Path:
    """Where sales-cdc keeps its local state: ``$SALES_CDC_HOME`` or ``<project>/.sales-cdc``."""
    return Path(os.environ.get("SALES_CDC_HOME") or project_root() / ".sales-cdc").resolve()


def deployment_name() -> str:
    """The deployment in force: ``$SALES_CDC_DEPLOYMENT`` (``local`` by default, or ``aws``)."""
    name = os.environ.get("SALES_CDC_DEPLOYMENT", "local").strip().lower() or "local"
    if name not in DEPLOYMENTS:
        raise SettingsError(
            f"SALES_CDC_DEPLOYMENT={name!r} is not a deployment; use one of {', '.join(DEPLOYMENTS)}."
        )
    return name


def state_dir(deployment: str | None = None) -> Path:
    """The state directory of a deployment (created on demand by writers)."""
    return home_dir() / (deployment or deployment_name())


def outputs_path(deployment: str | None = None) -> Path:
    """Where the stack outputs of a deployment are recorded."""
    return state_dir(deployment) / "outputs.json"


def write_outputs(outputs: dict[str, str], deployment: str | None = None) -> Path:
    """Record stack outputs for the application to read; returns the file written."""
    path = outputs_path(deployment)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class Settings:
    """Everything the application needs to reach its AWS resources in one deployment."""

    deployment: str
    region: str
    endpoint_url: str | None
    profile_name: str | None
    outputs: dict[str, str] = field(default_factory=dict)

    def output(self, name: str) -> str:
        """One stack output by name, with an error saying how to provide it when missing."""
        try:
            return self.outputs[name]
        except KeyError:
            raise SettingsError(
                f"stack output {name!r} is not known for deployment {self.deployment!r}; "
                f"{_how_to_provide(self.deployment)}"
            ) from None

    @property
    def bucket(self) -> str:
        return self.output("DataLakeBucketName")

    @property
    def raw_cdc_prefix(self) -> str:
        return self.output("RawCdcPrefix")

    @property
    def error_prefix(self) -> str:
        return self.output("ErrorPrefix")

    @property
    def derived_prefix(self) -> str:
        return self.output("DerivedPrefix")

    @property
    def orders_table(self) -> str:
        return self.output("OrdersTableName")

    @property
    def glue_database(self) -> str:
        return self.output("GlueDatabaseName")

    @property
    def raw_cdc_table(self) -> str:
        return self.output("RawCdcTableName")

    def boto3_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client`` reaching this deployment."""
        kwargs: dict[str, str] = {"region_name": self.region}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return kwargs


def _how_to_provide(deployment: str) -> str:
    if deployment == "local":
        return (
            "start the local stack with `make run` (or `sales-cdc local up`), which provisions the emulator."
        )
    return (
        "run `sales-cdc deploy --stack-name NAME` to create the stack and record its outputs, "
        f"or set SALES_CDC_OUTPUT_<NAME> environment variables (outputs file: {outputs_path('aws')})."
    )


def provisioning_lock(deployment: str = "local") -> Path:
    """The file ``sales-cdc up`` holds while it provisions, so Dagster can start alongside it."""
    return state_dir(deployment) / "provisioning.lock"


def wait_for_provisioning(deployment: str = "local", timeout: float = 120.0) -> None:
    """Wait while a live process holds the provisioning lock (at most ``timeout`` seconds).

    ``sales-cdc up`` starts Dagster while it provisions the emulator; the code location waits here
    before reading the stack outputs, instead of loading without them.
    """
    lock = provisioning_lock(deployment)
    deadline = time.monotonic() + timeout
    while lock.exists() and time.monotonic() < deadline:
        try:
            os.kill(int(lock.read_text().strip() or 0), 0)
        except (ValueError, OSError):
            return  # a stale lock: its process is gone
        time.sleep(0.1)


def load_settings(deployment: str | None = None, *, require_outputs: bool = True) -> Settings:
    """Load the settings of a deployment; raises SettingsError listing every missing output."""
    deployment = deployment or deployment_name()
    if deployment not in DEPLOYMENTS:
        raise SettingsError(f"deployment {deployment!r} is not one of {', '.join(DEPLOYMENTS)}.")
    outputs: dict[str, str] = {}
    path = outputs_path(deployment)
    if path.exists():
        try:
            outputs.update(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{path} is not valid JSON ({exc}); delete it and provision again.") from exc
    for name in REQUIRED_OUTPUTS:
        env = os.environ.get(f"SALES_CDC_OUTPUT_{name.upper()}")
        if env:
            outputs[name] = env
    endpoint = os.environ.get("SALES_CDC_ENDPOINT_URL") or None
    if deployment == "local" and endpoint is None:
        from local_aws.emulator import running_endpoint

        endpoint = running_endpoint()
    # The region the stack was deployed to wins; then the environment.
    region = (
        outputs.get("Region")
        or os.environ.get("SALES_CDC_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or DEFAULT_REGION
    )
    profile = os.environ.get("SALES_CDC_PROFILE") or None
    if require_outputs:
        missing = [name for name in REQUIRED_OUTPUTS if name not in outputs]
        if missing:
            raise SettingsError(
                f"deployment {deployment!r} is missing stack outputs: {', '.join(missing)}; "
                + _how_to_provide(deployment)
            )
    return Settings(deployment, region, endpoint, profile, outputs)
