"""The CloudFormation template as data: loading (with short-form tags) and resolving intrinsic functions.

Both the local provisioner and the tests read resource properties through here, so the template
stays the single source of truth. Supported intrinsics are the ones the template uses: Ref,
Fn::GetAtt, Fn::Sub (both forms), Fn::Join, Fn::Split, Fn::Select. Anything else is an error that
names the logical id and the function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parent / "template.yaml"
# The local deployment's parameter overrides (shorter buffers, so a laptop sees data in seconds).
LOCAL_PARAMETERS_PATH = Path(__file__).resolve().parent / "parameters.local.json"

_SHORT_TAGS = {
    "!Ref": "Ref",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!Join": "Fn::Join",
    "!Split": "Fn::Split",
    "!Select": "Fn::Select",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!FindInMap": "Fn::FindInMap",
    "!Base64": "Fn::Base64",
    "!Cidr": "Fn::Cidr",
    "!GetAZs": "Fn::GetAZs",
    "!ImportValue": "Fn::ImportValue",
    "!Condition": "Condition",
}


class TemplateError(ValueError):
    """The template is malformed or uses something this tooling cannot apply; names the logical id."""


class _Loader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short-form tags into their long form."""


def _make_constructor(name: str) -> Callable[[yaml.Loader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _tag, _name in _SHORT_TAGS.items():
    _Loader.add_constructor(_tag, _make_constructor(_name))


def load_template(path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse a template file; raises TemplateError naming the file and the YAML problem."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: a template needs a 'Resources' mapping at the top level")
    for logical_id, resource in data["Resources"].items():
        if not isinstance(resource, dict) or "Type" not in resource:
            raise TemplateError(f"{path}: resource {logical_id!r} has no 'Type'")
    return data


def resolve_parameters(
    template: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Parameter values: overrides, else defaults; a parameter with neither is an error."""
    overrides = dict(overrides or {})
    declared = template.get("Parameters") or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"parameters {', '.join(unknown)} are not declared in the template")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(f"parameter {name!r} has no default; provide a value for it")
        allowed = spec.get("AllowedValues")
        if allowed is not None and str(value) not in {str(v) for v in allowed}:
            raise TemplateError(f"parameter {name!r}={value!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, str(value)):
            raise TemplateError(f"parameter {name!r}={value!r} does not match {pattern}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise TemplateError(f"parameter {name!r}={value!r} is not a number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise TemplateError(f"parameter {name!r}={value} is below its MinValue {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise TemplateError(f"parameter {name!r}={value} is above its MaxValue {spec['MaxValue']}")
        values[name] = str(value)
    return values


def references(node: Any) -> set[str]:
    """Logical ids (resources or parameters) a piece of template refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                for var in re.findall(r"\$\{([^}!][^}]*)\}", text):
                    found.add(var.split(".", 1)[0])
                if isinstance(value, list) and len(value) > 1:
                    found |= references(value[1])
        for value in node.values():
            found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def dependency_order(template: Mapping[str, Any]) -> list[str]:
    """Resource logical ids in an order where each comes after everything it refers to or DependsOn."""
    resources = template["Resources"]
    deps: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        needed = references(resource.get("Properties", {}))
        depends_on = resource.get("DependsOn", [])
        needed |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
        deps[logical_id] = {d for d in needed if d in resources and d != logical_id}
        missing = [
            d
            for d in (set(depends_on) if isinstance(depends_on, list) else {depends_on})
            if d and d not in resources
        ]
        if missing:
            raise TemplateError(f"resource {logical_id!r} DependsOn unknown resources {missing}")
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise TemplateError(f"circular dependency: {' -> '.join([*path, node])}")
        state[node] = 1
        for dep in sorted(deps[node]):
            visit(dep, [*path, node])
        state[node] = 2
        order.append(node)

    for logical_id in resources:
        visit(logical_id, [])
    return order


@dataclass
class Resolver:
    """Resolves intrinsic functions against parameters, pseudo parameters and created resources.

    ``refs`` maps a resource's logical id to its Ref value; ``attributes`` maps logical id to its
    Fn::GetAtt attributes. Both are filled by the provisioner as it creates resources in order.
    """

    parameters: dict[str, str]
    pseudo: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    logical_id: str = "?"  # for error messages: the resource being resolved

    def resolve(self, node: Any) -> Any:
        """Return node with every intrinsic function replaced by its value."""
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self._ref(value)
            if key == "Fn::GetAtt":
                name, attr = value if isinstance(value, list) else str(value).split(".", 1)
                return self._getatt(name, attr)
            if key == "Fn::Sub":
                return self._sub(value)
            if key == "Fn::Join":
                sep, items = value
                return str(sep).join(str(v) for v in self.resolve(items))
            if key == "Fn::Split":
                sep, text = value
                return str(self.resolve(text)).split(sep)
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items)[int(self.resolve(index))]
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateError(
                    f"resource {self.logical_id!r}: intrinsic function {key} is not supported"
                )
        return {key: self.resolve(value) for key, value in node.items()}

    def _ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(
            f"resource {self.logical_id!r}: Ref to {name!r}, which is not a parameter or a created resource"
        )

    def _getatt(self, name: str, attr: str) -> str:
        try:
            return self.attributes[name][attr]
        except KeyError:
            raise TemplateError(
                f"resource {self.logical_id!r}: Fn::GetAtt {name}.{attr} is not available "
                f"(known: {sorted(self.attributes.get(name, {}))})"
            ) from None

    def _sub(self, value: Any) -> str:
        if isinstance(value, list):
            text, variables = value[0], self.resolve(value[1])
        else:
            text, variables = value, {}

        def replace(match: re.Match[str]) -> str:
            var = match.group(1)
            if var.startswith("!"):
                return "${" + var[1:] + "}"  # ${!Literal} escapes
            if var in variables:
                return str(variables[var])
            if "." in var:
                name, attr = var.split(".", 1)
                return str(self._getatt(name, attr))
            return str(self._ref(var))

        return re.sub(r"\$\{([^}]*)\}", replace, text)


def outputs(template: Mapping[str, Any], resolver: Resolver) -> dict[str, str]:
    """The template's Outputs resolved to strings."""
    result: dict[str, str] = {}
    for name, spec in (template.get("Outputs") or {}).items():
        resolver.logical_id = f"Outputs.{name}"
        result[name] = str(resolver.resolve(spec["Value"]))
    return result


def write_outputs(stack_outputs: Mapping[str, str], path: Path | str) -> Path:
    """Record stack outputs as JSON (sorted keys, indent 2) atomically: readers see the old or the new file.

    Returns the path written. The caller says where: the application reads them from its settings.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(stack_outputs), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def orders_table_definition(name: str) -> dict[str, Any]:
    """``create_table`` arguments for a table named ``name`` with the template's OrdersTable key schema,
    billing mode and stream (for tests and benchmarks that need only the table, not the whole stack)."""
    props = load_template()["Resources"]["OrdersTable"]["Properties"]
    return {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props["BillingMode"],
        "StreamSpecification": {"StreamEnabled": True, **props["StreamSpecification"]},
    }
