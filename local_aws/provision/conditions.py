"""Template Conditions: which conditional resources the local deployment creates.

CloudFormation evaluates a template's ``Conditions`` from the parameters and creates a resource with a
``Condition`` only when it holds; the provisioner does the same. Supported: Fn::Equals, Fn::Not, Fn::And,
Fn::Or and references to other conditions (what the template uses); anything else is an error naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.cfn import Resolver, TemplateError


def evaluate_conditions(template: Mapping[str, Any], resolver: Resolver) -> dict[str, bool]:
    """Each condition of the template's ``Conditions`` section, evaluated against the resolver's values."""
    declared = template.get("Conditions") or {}
    values: dict[str, bool] = {}

    def evaluate(name: str, node: Any, seen: tuple[str, ...]) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Condition":
                return condition(value, seen)
            if key == "Fn::Equals":
                left, right = value
                resolver.logical_id = f"Conditions.{name}"
                return str(resolver.resolve(left)) == str(resolver.resolve(right))
            if key == "Fn::Not":
                return not evaluate(name, value[0], seen)
            if key == "Fn::And":
                return all(evaluate(name, item, seen) for item in value)
            if key == "Fn::Or":
                return any(evaluate(name, item, seen) for item in value)
        raise TemplateError(
            f"condition {name!r}: {node!r} is not supported locally "
            "(use Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition)"
        )

    def condition(name: str, seen: tuple[str, ...] = ()) -> bool:
        if name in values:
            return values[name]
        if name not in declared:
            raise TemplateError(f"condition {name!r} is used but not declared in Conditions")
        if name in seen:
            raise TemplateError(f"conditions refer to each other in a circle: {' -> '.join([*seen, name])}")
        values[name] = evaluate(name, declared[name], (*seen, name))
        return values[name]

    for name in declared:
        condition(name)
    for logical_id, resource in template["Resources"].items():
        if "Condition" in resource and resource["Condition"] not in declared:
            raise TemplateError(
                f"resource {logical_id!r} has Condition {resource['Condition']!r}, which is not declared"
            )
    return values
