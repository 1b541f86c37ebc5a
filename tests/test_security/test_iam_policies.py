"""Least privilege in every policy of the template: no wildcard action, no unscoped resource.

What counts:
- Allow statements (role policies, trust policies, bucket and queue policies) must name each action
  (no ``*``, ``service:*`` or ``service:Get*``), must not use NotAction/NotResource/NotPrincipal, must
  not grant to the anonymous principal ``*``, and must name resources: a Ref/GetAtt of a resource, an
  ARN built on one, or an ARN whose region, account and resource name are not wildcards. A trailing
  wildcard under a named resource (``bucket/raw/*``, ``log-group:/aws-glue/crawlers:*``,
  ``table/<database>/*``) is scoped. ``Resource: "*"`` is allowed only for actions that have no
  resource types in the Service Authorization Reference (``ACTIONS_WITHOUT_RESOURCES``).
- Deny statements may be as broad as they like: a wildcard in a Deny only takes access away (the
  data lake's TLS-only statement denies ``s3:*`` to ``*`` on purpose).
- Roles may not attach managed policies (AWS managed ones are broad and cannot be reviewed here).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from infra.cfn import load_template

# Actions with no resource-level permissions: "*" is the only possible Resource for them.
ACTIONS_WITHOUT_RESOURCES = frozenset(
    {
        "cloudwatch:PutMetricData",
        "kinesis:ListStreams",
        "logs:DescribeLogGroups",
        "s3:ListAllMyBuckets",
        "sts:GetCallerIdentity",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    }
)
# Resource names that stand for one specific resource on their own.
SINGLETON_RESOURCES = frozenset({"catalog"})
RESOURCE_POLICY_TYPES = {
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
}
_PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, kind, document) for every policy document; kind is trust, identity or resource."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        rtype = resource["Type"]
        if rtype == "AWS::IAM::Role":
            yield f"{logical_id}.AssumeRolePolicyDocument", "trust", props["AssumeRolePolicyDocument"]
            for policy in props.get("Policies", []):
                yield f"{logical_id}.Policies[{policy['PolicyName']}]", "identity", policy["PolicyDocument"]
        elif rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
            yield logical_id, "identity", props["PolicyDocument"]
        elif rtype in RESOURCE_POLICY_TYPES:
            yield logical_id, "resource", props[RESOURCE_POLICY_TYPES[rtype]]


def _arn_is_scoped(arn: str) -> bool:
    if arn.strip() == "*":
        return False
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return False
    _, partition, service, region, account, resource = parts
    if "*" in (partition + service) or region == "*" or account == "*":
        return False
    names = []
    for segment in (s for s in re.split(r"[/:]+", resource) if s):
        if segment.strip("*") == "":
            break  # everything from the first all-wildcard segment on is "any"
        names.append(segment)
    if service == "s3":
        return len(names) >= 1  # the bucket name
    return len(names) >= 2 or (len(names) == 1 and names[0] in SINGLETON_RESOURCES)


def resource_is_scoped(resource: Any) -> bool:
    """True when a Resource entry names specific resources (see the module docstring)."""
    if isinstance(resource, str):
        return _arn_is_scoped(resource)
    if isinstance(resource, dict) and len(resource) == 1:
        ((function, value),) = resource.items()
        if function in ("Ref", "Fn::GetAtt"):
            return True
        if function == "Fn::Sub":
            text = value[0] if isinstance(value, list) else value
            if re.match(r"^\$\{[A-Za-z0-9]+\.Arn\}", text):
                return True  # under a resource's own ARN
            text = re.sub(r"\$\{([^}]+)\}", lambda m: _PSEUDO.get(m.group(1), "name"), text)
            return _arn_is_scoped(text)
    return False  # Fn::Join and friends cannot be checked; build ARNs with Fn::Sub or Fn::GetAtt


def statement_violations(statement: dict[str, Any], kind: str) -> list[str]:
    """What is wrong with one statement, as readable findings (empty when it is least privilege)."""
    if statement.get("Effect") == "Deny":
        return []
    found = [
        f"{key} in an Allow statement"
        for key in ("NotAction", "NotResource", "NotPrincipal")
        if key in statement
    ]
    actions = [str(a) for a in _as_list(statement.get("Action", []))]
    found += [f"wildcard action {a!r}" for a in actions if "*" in a]
    principal = statement.get("Principal")
    if principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS", []))):
        found.append("Allow to the anonymous principal '*'")
    if kind == "trust":
        return found
    resources = _as_list(statement.get("Resource", []))
    if not resources and "NotResource" not in statement:
        found.append("no Resource")
    unscoped = [r for r in resources if not resource_is_scoped(r)]
    if unscoped and not set(actions) <= ACTIONS_WITHOUT_RESOURCES:
        found += [
            f"unscoped resource {r!r} for {', '.join(sorted(set(actions) - ACTIONS_WITHOUT_RESOURCES))}"
            for r in unscoped
        ]
    return found


def test_no_policy_grants_wildcards_or_unscoped_resources() -> None:
    template = load_template()
    documents = list(policy_documents(template))
    assert len(documents) >= 8  # the template's roles, their policies and the two resource policies
    findings = [
        f"{where} statement {i} ({statement.get('Sid', 'no Sid')}): {problem}"
        for where, kind, document in documents
        for i, statement in enumerate(_as_list(document["Statement"]))
        for problem in statement_violations(statement, kind)
    ]
    assert not findings, "least-privilege violations:\n" + "\n".join(findings)


def test_roles_attach_no_managed_policies_and_trust_only_services() -> None:
    for logical_id, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        props = resource["Properties"]
        assert not props.get("ManagedPolicyArns"), f"{logical_id} attaches managed policies"
        for statement in _as_list(props["AssumeRolePolicyDocument"]["Statement"]):
            assert set(statement["Principal"]) == {"Service"}, (
                f"{logical_id} is assumable by {statement['Principal']}"
            )
            assert statement["Action"] == "sts:AssumeRole"


def test_no_iam_users_or_long_lived_keys() -> None:
    types = {r["Type"] for r in load_template()["Resources"].values()}
    assert not types & {"AWS::IAM::User", "AWS::IAM::AccessKey", "AWS::IAM::Group"}


# ------------------------------------------------------------------- the rules catch what they should


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "*", "Resource": {"Fn::GetAtt": ["Table", "Arn"]}},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/*"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:Put*"], "Resource": "arn:aws:s3:::bucket/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*"},
        {
            "Effect": "Allow",
            "Action": "dynamodb:GetItem",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*"
            },
        },
        {
            "Effect": "Allow",
            "Action": "logs:PutLogEvents",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:*:*:*"},
        },
        {
            "Effect": "Allow",
            "Action": "kinesis:GetRecords",
            "Resource": {"Fn::Join": ["", ["arn:aws:kinesis:", "*"]]},
        },
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::bucket"},
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
        },
        {"Effect": "Allow", "Action": "s3:GetObject"},
    ],
)
def test_rules_reject_broad_grants(statement: dict[str, Any]) -> None:
    assert statement_violations(statement, "identity")


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": {"Fn::Sub": "${DataLakeBucket.Arn}/raw/${RawCdcTableName}/*"},
        },
        {
            "Effect": "Allow",
            "Action": "logs:CreateLogStream",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                ":log-group:/aws-glue/crawlers:*"
            },
        },
        {
            "Effect": "Allow",
            "Action": "glue:GetTable",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog"},
        },
        {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ],
)
def test_rules_accept_scoped_grants_and_any_deny(statement: dict[str, Any]) -> None:
    assert statement_violations(statement, "identity") == []
