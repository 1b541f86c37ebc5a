"""``run_deploy``: the whole of ``sales-cdc deploy``, from the request to the recorded stack outputs.

1. build the transform Lambda's zip from ``lambda_transform/`` deterministically (``package``);
2. upload it to an encrypted, private artifact bucket under a key that contains the content hash, so a
   code change changes the ``LambdaCodeKey`` parameter and CloudFormation rolls the function
   (``artifacts``);
3. create a change set, print it, execute it (unless a dry run) and wait for the stack (``stack``);
4. print the stack outputs and, when the request says where, record them there as JSON. Which outputs
   the application needs and where it reads them are the application's to say (``DeployRequest``):
   infra does not import it.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from infra.cfn import write_outputs
from infra.deploy.artifacts import default_artifact_bucket, ensure_artifact_bucket, upload_artifact
from infra.deploy.errors import DeployError, Report, error_message
from infra.deploy.package import LAMBDA_SOURCE_DIR, package_lambda
from infra.deploy.stack import DeployResult, StackDeployer
from infra.deploy.template import (
    CODE_BUCKET_PARAMETER,
    CODE_KEY_PARAMETER,
    TEMPLATE_PATH,
    TRANSFORM_FUNCTION_ID,
    check_handler,
    check_parameters,
    load_template,
)

_NO_CREDENTIALS = (
    "no AWS credentials found; pass --profile, or configure credentials (aws configure / aws sso login)."
)
# CloudFormation's limit for an inline TemplateBody; larger templates go through S3.
MAX_TEMPLATE_BODY_BYTES = 51_200
STACK_NAME_PATTERN = re.compile(r"^[A-Za-z][-A-Za-z0-9]{0,127}$")


@dataclass(frozen=True)
class DeployRequest:
    """Everything ``sales-cdc deploy`` was asked to do."""

    stack_name: str
    region: str | None = None
    profile: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    artifact_bucket: str | None = None
    dry_run: bool = False
    template_path: Path = TEMPLATE_PATH
    lambda_source: Path = LAMBDA_SOURCE_DIR
    endpoint_url: str | None = None
    timeout: float = 3600.0
    # Where to record the outputs (plus Region and StackName) as JSON; None records nothing.
    outputs_path: Path | None = None
    # Outputs the caller needs; a stack without one of them gets a warning.
    required_outputs: tuple[str, ...] = ()


@dataclass
class AwsClients:
    """The clients deploy uses, all for one region (and one endpoint in tests)."""

    region: str
    cloudformation: Any
    s3: Any
    sts: Any


def make_clients(region: str | None, profile: str | None, endpoint_url: str | None = None) -> AwsClients:
    """boto3 clients from the profile (or the default credential chain) for the region."""
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as exc:
        raise DeployError(
            f"AWS profile {profile!r} is not configured; run `aws configure --profile {profile}` "
            "or drop --profile."
        ) from exc
    region = region or session.region_name
    if not region:
        raise DeployError("no AWS region: pass --region, or set one in the profile or AWS_DEFAULT_REGION.")
    extra = {"endpoint_url": endpoint_url} if endpoint_url else {}
    return AwsClients(
        region=region,
        cloudformation=session.client("cloudformation", region_name=region, **extra),
        s3=session.client("s3", region_name=region, **extra),
        sts=session.client("sts", region_name=region, **extra),
    )


def _account_id(sts: Any) -> str:
    try:
        return sts.get_caller_identity()["Account"]
    except NoCredentialsError as exc:
        raise DeployError(_NO_CREDENTIALS) from exc
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(f"cannot identify the AWS account of these credentials: {exc}") from exc


def _template_source(
    template_path: Path, clients: AwsClients, bucket: str, stack_name: str, report: Report, tls_only: bool
) -> dict[str, str]:
    body = template_path.read_text()
    size = len(body.encode())
    if size <= MAX_TEMPLATE_BODY_BYTES:
        return {"TemplateBody": body}
    # Too large to send inline: CloudFormation reads it from the artifact bucket instead.
    key = f"{stack_name}/templates/{hashlib.sha256(body.encode()).hexdigest()}.yaml"
    ensure_artifact_bucket(clients.s3, bucket, clients.region, report, tls_only=tls_only)
    upload_artifact(clients.s3, bucket, key, body.encode(), report)
    return {"TemplateURL": f"https://{bucket}.s3.{clients.region}.amazonaws.com/{key}"}


def run_deploy(
    request: DeployRequest,
    *,
    clients: AwsClients | None = None,
    report: Report = print,
    poll_interval: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeployResult:
    """Package, upload, create/update the stack and record its outputs (see the module docstring)."""
    if not STACK_NAME_PATTERN.match(request.stack_name):
        raise DeployError(
            f"stack name {request.stack_name!r} is not valid: start with a letter, then letters, digits or "
            "hyphens, at most 128 characters."
        )
    template = load_template(request.template_path)
    check_parameters(template, request.parameters)
    if TRANSFORM_FUNCTION_ID in template["Resources"]:
        check_handler(template, request.lambda_source)
    clients = clients or make_clients(request.region, request.profile, request.endpoint_url)
    package = package_lambda(request.lambda_source)
    report(
        f"package {package.name}: {len(package.files)} files, {len(package.data) / 1024:.1f} KiB, "
        f"sha256 {package.sha256[:12]}"
    )
    # A TLS-only bucket policy would deny our own requests to an endpoint spoken to in plain http.
    tls_only = not (request.endpoint_url or "").lower().startswith("http://")
    try:
        bucket = request.artifact_bucket or default_artifact_bucket(_account_id(clients.sts), clients.region)
        key = package.s3_key(request.stack_name)
        if request.dry_run:
            report(f"dry run: the package would be uploaded to s3://{bucket}/{key}")
        else:
            ensure_artifact_bucket(clients.s3, bucket, clients.region, report, tls_only=tls_only)
            upload_artifact(clients.s3, bucket, key, package.data, report)
        parameters = {**request.parameters, CODE_BUCKET_PARAMETER: bucket, CODE_KEY_PARAMETER: key}
        source = _template_source(
            request.template_path, clients, bucket, request.stack_name, report, tls_only
        )
        deployer = StackDeployer(
            clients.cloudformation,
            report=report,
            poll_interval=poll_interval,
            timeout=request.timeout,
            sleep=sleep,
        )
        result = deployer.deploy(
            request.stack_name, source, parameters, region=clients.region, dry_run=request.dry_run
        )
        if request.dry_run:
            return result
        result.outputs = deployer.outputs(request.stack_name)
    except NoCredentialsError as exc:
        raise DeployError(_NO_CREDENTIALS) from exc
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(f"AWS refused a deploy step: {error_message(exc)}") from exc

    report("outputs:")
    for name, value in sorted(result.outputs.items()):
        report(f"  {name} = {value}")
    if request.outputs_path is not None:
        settings = {**result.outputs, "Region": clients.region, "StackName": request.stack_name}
        result.outputs_path = write_outputs(settings, request.outputs_path)
        report(f"recorded the aws deployment settings in {result.outputs_path}")
    missing = [name for name in request.required_outputs if name not in result.outputs]
    if missing:
        report(
            f"warning: the stack has no output {', '.join(missing)}; Dagster's aws deployment needs them. "
            "Deploy the full template (infra/template.yaml)."
        )
    return result
