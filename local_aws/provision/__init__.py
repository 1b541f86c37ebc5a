"""Local provisioner: applies ``infra/template.yaml`` to the embedded AWS through each service's own API.

moto's CloudFormation skips Firehose, Pipes, Glue and Athena resources, so every resource type is
applied here with the same boto3 calls a human would make, every property taken from the template
(parameters, Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Split resolved by ``infra.cfn``). The appliers are
grouped by what the resources do: ``data`` (DynamoDB, Kinesis, S3, SQS), ``catalog`` (Glue, Athena),
``delivery`` (IAM, Pipe, Lambda, Firehose, logs) and ``monitoring`` (CloudWatch alarms and dashboard,
SNS, KMS). Resources with a ``Condition`` are created only when it holds (``conditions``).

Idempotent: a hash of each resource's resolved properties is kept in the emulator itself (``record``).
A resource that exists with the same hash is left alone; a changed one is updated in place; a missing
one is created. The stack outputs are returned, and written as JSON where the caller says
(``outputs_path``): the embedded AWS does not know where the application keeps its settings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.cfn import (
    LOCAL_PARAMETERS_PATH,
    TEMPLATE_PATH,
    Resolver,
    TemplateError,
    dependency_order,
    load_template,
    outputs,
    references,
    resolve_parameters,
    write_outputs,
)
from local_aws.provision import catalog, data, delivery, monitoring
from local_aws.provision.common import ACCOUNT_ID, Applied, Applier, Clients, ProvisionError
from local_aws.provision.conditions import evaluate_conditions
from local_aws.provision.record import properties_hash, record_hash, stored_hashes

REGION = "us-east-1"
STACK_NAME = "sales-cdc-local"
_PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::Region",
    "AWS::Partition",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::URLSuffix",
    "AWS::NoValue",
}

APPLIERS: dict[str, Applier] = {
    **data.APPLIERS,
    **delivery.APPLIERS,
    **catalog.APPLIERS,
    **monitoring.APPLIERS,
}


@dataclass
class ProvisionResult:
    """The outcome of a provisioning run."""

    outputs: dict[str, str]
    actions: dict[str, str]  # logical id -> created | updated | unchanged
    seconds: float

    @property
    def changed(self) -> bool:
        """Whether anything was created or updated."""
        return any(action != "unchanged" for action in self.actions.values())


def load_local_parameters(path: Path = LOCAL_PARAMETERS_PATH) -> dict[str, Any]:
    """The local deployment's parameter overrides (keys starting with '_' are comments)."""
    content = json.loads(path.read_text())
    return {key: value for key, value in content.items() if not key.startswith("_")}


def _check_types(template: Mapping[str, Any]) -> None:
    """Refuse resource types the local deployment cannot apply, before anything is applied."""
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in APPLIERS:
            raise TemplateError(
                f"resource {logical_id!r} has type {resource['Type']}, which the local deployment cannot "
                f"provision (supported: {', '.join(sorted(APPLIERS))})"
            )


def _check_references(template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
    """Refuse references to names that are neither parameters nor resources, before anything is applied."""
    known = set(parameters) | set(template["Resources"]) | _PSEUDO_PARAMETERS
    for logical_id, resource in template["Resources"].items():
        unknown = sorted(references(resource.get("Properties", {})) - known)
        if unknown:
            raise TemplateError(
                f"resource {logical_id!r} refers to {', '.join(unknown)}, "
                "which is not a parameter or a resource"
            )


def _pseudo_parameters(region: str) -> dict[str, str]:
    return {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::StackName": STACK_NAME,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NoValue": "",
    }


def _apply(
    clients: Clients, kind: str, properties: dict[str, Any], digest: str, stored: str | None, logical_id: str
) -> tuple[Applied | None, str]:
    """Apply one resource unless it exists with the recorded hash; returns what it is and the action."""
    applier = APPLIERS[kind]
    existing = applier(clients, properties, exists_only=True)
    if existing is not None and stored == digest:
        return existing, "unchanged"
    applied = applier(clients, properties)
    record_hash(clients, logical_id, digest)
    return applied, "created" if existing is None or stored is None else "updated"


def _failure(logical_id: str, kind: str, exc: Exception, actions: Mapping[str, str]) -> ProvisionError:
    done = [f"{lid} ({a})" for lid, a in actions.items() if a != "unchanged"]
    return ProvisionError(
        f"resource {logical_id!r} ({kind}) failed: {exc}. "
        + (f"Already applied in this run: {', '.join(done)}. " if done else "Nothing was changed before it. ")
        + "Fix the template or the emulator and run provisioning again; it resumes where it stopped."
    )


def _summary(result: ProvisionResult) -> str:
    actions = result.actions
    counts = {a: sum(1 for v in actions.values() if v == a) for a in ("created", "updated", "unchanged")}
    if result.changed:
        return (
            f"Provisioned {len(actions)} resources in {result.seconds:.1f} s: "
            f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged."
        )
    return f"No changes: all {len(actions)} resources are up to date ({result.seconds:.1f} s)."


def provision(
    endpoint: str,
    *,
    template_path: Path | str = TEMPLATE_PATH,
    parameter_overrides: Mapping[str, Any] | None = None,
    region: str = REGION,
    report: Callable[[str], None] = print,
    outputs_path: Path | None = None,
) -> ProvisionResult:
    """Apply the template to the emulator at ``endpoint``; returns the outputs and what changed.

    ``parameter_overrides`` default to ``infra/parameters.local.json``. With ``outputs_path`` the stack
    outputs are also written there as JSON (atomically). Raises TemplateError for a malformed template
    or an unsupported resource type (before anything is applied) and ProvisionError when applying a
    resource fails (naming it and what was applied before it).
    """
    started = time.monotonic()
    template = load_template(template_path)
    _check_types(template)
    overrides = load_local_parameters() if parameter_overrides is None else dict(parameter_overrides)
    parameters = resolve_parameters(template, overrides)
    order = dependency_order(template)
    _check_references(template, parameters)
    resolver = Resolver(parameters=parameters, pseudo=_pseudo_parameters(region))
    conditions = evaluate_conditions(template, resolver)
    clients = Clients(endpoint, region)
    code_hash = ""
    if "LambdaCodeBucket" in parameters and "LambdaCodeKey" in parameters:
        code_hash = delivery.upload_lambda_package(
            clients, parameters["LambdaCodeBucket"], parameters["LambdaCodeKey"]
        )

    actions: dict[str, str] = {}
    stored = stored_hashes(clients)
    for logical_id in order:
        resource = template["Resources"][logical_id]
        kind = resource["Type"]
        if "Condition" in resource and not conditions[resource["Condition"]]:
            continue  # as CloudFormation: a resource whose condition is false is not created
        resolver.logical_id = logical_id
        try:
            props = resolver.resolve(resource.get("Properties", {}))
            digest = properties_hash(kind, props, code_hash if kind == "AWS::Lambda::Function" else "")
            applied, action = _apply(clients, kind, props, digest, stored.get(logical_id), logical_id)
        except (ClientError, BotoCoreError, ProvisionError, KeyError, TypeError, ValueError) as exc:
            raise _failure(logical_id, kind, exc, actions) from exc
        assert applied is not None
        resolver.refs[logical_id] = applied.ref
        resolver.attributes[logical_id] = applied.attributes
        actions[logical_id] = action
        if action != "unchanged":
            omitted = applied.attributes.get("LocallyOmitted")
            note = f"  (left out locally, the emulator has no TLS: {omitted})" if omitted else ""
            report(f"  {action:<9} {kind:<38} {logical_id}{note}")

    result_outputs = outputs(template, resolver)
    if outputs_path is not None:
        write_outputs(result_outputs, outputs_path)
    result = ProvisionResult(result_outputs, actions, time.monotonic() - started)
    report(_summary(result))
    return result


__all__ = [
    "ACCOUNT_ID",
    "APPLIERS",
    "REGION",
    "STACK_NAME",
    "ProvisionError",
    "ProvisionResult",
    "load_local_parameters",
    "provision",
]
