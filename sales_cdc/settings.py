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

from local_aws.server import STATE_FILE_NAME, running_endpoint

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
    "QuarantinePrefix",
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

# The lake's key prefixes in the data lake bucket: each must stay inside the bucket and none may hold
# another (an error or quarantine prefix inside the raw prefix would be crawled as raw data; a raw
# prefix inside the derived one would be overwritten by a summary).
LAKE_PREFIX_OUTPUTS = ("RawCdcPrefix", "ErrorPrefix", "DerivedPrefix", "QuarantinePrefix")
PREFIX_RULE = (
    "a key prefix like 'raw/orders_cdc/': folders separated by '/', ending with '/', "
    "no leading '/', no empty, '.' or '..' folder"
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


def emulator_state_file() -> Path:
    """Where the local deployment's running emulator records its pid and endpoint."""
    return state_dir("local") / STATE_FILE_NAME


def aws_state_dir() -> Path:
    """Where the local deployment's embedded AWS keeps its state across restarts (snapshots)."""
    return state_dir("local") / "aws-state"


def dagster_home_dir() -> Path:
    """DAGSTER_HOME of the local product (its run and materialization history)."""
    return state_dir("local") / "dagster"


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
    def quarantine_prefix(self) -> str:
        return self.output("QuarantinePrefix")

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


def prefix_problem(value: str) -> str | None:
    """Why ``value`` is not a lake key prefix (see PREFIX_RULE), or None when it is one."""
    if not value:
        return "it is empty (the whole bucket)"
    if value.startswith("/"):
        return "it starts with '/' (S3 keys have no leading slash)"
    if not value.endswith("/"):
        return "it does not end with '/' (a prefix names a folder)"
    for folder in value[:-1].split("/"):
        if folder in ("", ".", ".."):
            return f"it has a {folder or 'empty'!r} folder, which escapes or blurs its place in the bucket"
    return None


def validate_lake_prefixes(outputs: dict[str, str], sources: dict[str, str]) -> None:
    """Refuse lake prefixes that escape the bucket or overlap each other; ``sources`` names where each
    output came from (an environment variable or the outputs file), for the message."""
    prefixes = {name: outputs[name] for name in LAKE_PREFIX_OUTPUTS if name in outputs}
    for name, value in prefixes.items():
        problem = prefix_problem(value)
        if problem:
            raise SettingsError(
                f"{sources.get(name, name)}: {name}={value!r} is refused: {problem}. "
                f"Each lake prefix must be {PREFIX_RULE}; fix the value."
            )
    for inner, inner_value in prefixes.items():
        for outer, outer_value in prefixes.items():
            if inner != outer and inner_value.startswith(outer_value):
                raise SettingsError(
                    f"{sources.get(inner, inner)}: {inner}={inner_value!r} is inside "
                    f"{outer}={outer_value!r} ({sources.get(outer, outer)}); the lake prefixes "
                    f"{', '.join(LAKE_PREFIX_OUTPUTS)} must not overlap (none inside another), "
                    "or one's objects would be read or overwritten as the other's. Give them separate "
                    "folders."
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
    sources = {name: f"outputs file {path}" for name in outputs}
    for name in REQUIRED_OUTPUTS:
        variable = f"SALES_CDC_OUTPUT_{name.upper()}"
        env = os.environ.get(variable)
        if env:
            outputs[name] = env
            sources[name] = f"environment variable {variable}"
    validate_lake_prefixes(outputs, sources)
    endpoint = os.environ.get("SALES_CDC_ENDPOINT_URL") or None
    if deployment == "local" and endpoint is None:
        endpoint = running_endpoint(emulator_state_file())
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
