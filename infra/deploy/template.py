"""The template as deploy checks it: parameters deploy sets itself, the handler the package must hold,
and the subset of the template an emulator's CloudFormation can create."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from infra import cfn
from infra.deploy.errors import DeployError

TEMPLATE_PATH = cfn.TEMPLATE_PATH
# Template parameters that deploy sets itself from the uploaded package.
CODE_BUCKET_PARAMETER = "LambdaCodeBucket"
CODE_KEY_PARAMETER = "LambdaCodeKey"
CODE_PARAMETERS = (CODE_BUCKET_PARAMETER, CODE_KEY_PARAMETER)
# The template resource whose Handler must exist in the package.
TRANSFORM_FUNCTION_ID = "TransformFunction"


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse a CloudFormation template through ``infra.cfn`` (the one template reader), as a DeployError."""
    try:
        return cfn.load_template(path)
    except OSError as exc:
        raise DeployError(
            f"cannot read the template {path}: {exc}; pass --template with a readable file."
        ) from exc
    except cfn.TemplateError as exc:
        raise DeployError(f"{exc}; fix the template or pass --template with another one.") from exc


def template_subset(template: Mapping[str, Any], resource_types: Iterable[str]) -> dict[str, Any]:
    """The template restricted to resources of ``resource_types``, for a CloudFormation that lacks the rest.

    An emulator's CloudFormation implements only some resource types (moto's skips the others, and an
    output that points at a skipped resource fails the stack). Resources of other types are dropped, then
    every resource that refers to a dropped one, until none does; DependsOn entries on dropped resources
    and outputs that refer to them go too. Parameters are kept as they are.
    """
    types = set(resource_types)
    resources = template["Resources"]
    kept = {logical_id for logical_id, resource in resources.items() if resource["Type"] in types}
    while True:
        orphans = {
            logical_id
            for logical_id in kept
            if (cfn.references(resources[logical_id].get("Properties", {})) & set(resources)) - kept
        }
        if not orphans:
            break
        kept -= orphans
    subset: dict[str, Any] = {k: v for k, v in template.items() if k not in ("Resources", "Outputs")}
    subset["Resources"] = {}
    for logical_id in (name for name in resources if name in kept):
        resource = dict(resources[logical_id])
        depends_on = resource.pop("DependsOn", [])
        depends_on = [depends_on] if isinstance(depends_on, str) else list(depends_on)
        if [d for d in depends_on if d in kept]:
            resource["DependsOn"] = [d for d in depends_on if d in kept]
        subset["Resources"][logical_id] = resource
    subset["Outputs"] = {
        name: spec
        for name, spec in (template.get("Outputs") or {}).items()
        if (cfn.references(spec) & set(resources)) <= kept
    }
    return subset


def check_parameters(template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
    """Reject parameters the template does not declare and the ones deploy sets itself."""
    declared = set(template.get("Parameters", {}))
    unknown = sorted(set(parameters) - declared)
    if unknown:
        raise DeployError(
            f"--parameter {', '.join(unknown)}: not a parameter of the template; "
            f"its parameters are {', '.join(sorted(declared))}."
        )
    reserved = sorted(set(parameters) & set(CODE_PARAMETERS))
    if reserved:
        raise DeployError(
            f"--parameter {', '.join(reserved)}: set by deploy from the uploaded Lambda package; "
            "drop it (use --artifact-bucket to choose the bucket)."
        )


def check_handler(template: Mapping[str, Any], source_dir: Path) -> str:
    """Make sure the transform function's Handler names a module that the package will contain."""
    function = template["Resources"].get(TRANSFORM_FUNCTION_ID)
    if function is None:
        raise DeployError(f"the template has no {TRANSFORM_FUNCTION_ID} resource to package code for.")
    handler = function.get("Properties", {}).get("Handler", "")
    module, _, func = str(handler).rpartition(".")
    if not module or not func:
        raise DeployError(
            f"{TRANSFORM_FUNCTION_ID}.Handler is {handler!r}; expected 'package.module.function'."
        )
    parts = module.split(".")
    if parts[0] != source_dir.name:
        raise DeployError(
            f"{TRANSFORM_FUNCTION_ID}.Handler {handler!r} is not in the packaged directory "
            f"{source_dir.name}/."
        )
    module_file = source_dir.joinpath(*parts[1:]).with_suffix(".py")
    if not module_file.is_file():
        raise DeployError(
            f"{TRANSFORM_FUNCTION_ID}.Handler is {handler!r} but {module_file} does not exist; "
            "the function would fail on every invocation. Add the module or fix the Handler."
        )
    return handler
