"""The change-set flow against CloudFormation's API as botocore's Stubber plays it.

The emulator's CloudFormation never fails a resource, never reports a replacement and keeps no
outputs for stacks made through change sets, so those paths are exercised here, call by call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner

from infra.deploy import (
    AwsClients,
    DeployError,
    StackDeployer,
    StackOperationFailed,
    ensure_artifact_bucket,
    failures_from_events,
)
from sales_cdc.commands.deploy import deploy

STACK = "sales-cdc-prod"
STACK_ID = f"arn:aws:cloudformation:eu-west-1:123456789012:stack/{STACK}/0a1b2c3d"
CHANGE_SET_ID = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/sales-cdc-x/9f8e7d6c"
T0 = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)


def _client(service: str) -> Any:
    return boto3.client(
        service, region_name="eu-west-1", aws_access_key_id="stub", aws_secret_access_key="stub"
    )


@pytest.fixture
def cfn() -> Iterator[tuple[Any, Stubber]]:
    client = _client("cloudformation")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _event(n: int, logical_id: str, status: str, reason: str | None = None, rtype: str | None = None) -> dict:
    event = {
        "StackId": STACK_ID,
        "EventId": f"event-{n}",
        "StackName": STACK,
        "LogicalResourceId": logical_id,
        "ResourceType": rtype
        or ("AWS::CloudFormation::Stack" if logical_id == STACK else "AWS::Lambda::Function"),
        "Timestamp": T0 + timedelta(seconds=n),
        "ResourceStatus": status,
    }
    if reason:
        event["ResourceStatusReason"] = reason
    return event


def _events(*events: dict) -> dict:
    """A describe_stack_events page: newest first, as the API lists them."""
    return {"StackEvents": sorted(events, key=lambda e: e["Timestamp"], reverse=True)}


def _stack(
    status: str, outputs: dict[str, str] | None = None, parameters: dict[str, str] | None = None
) -> dict:
    stack: dict[str, Any] = {
        "StackId": STACK_ID,
        "StackName": STACK,
        "CreationTime": T0,
        "StackStatus": status,
    }
    if outputs is not None:
        stack["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]
    if parameters is not None:
        stack["Parameters"] = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    return {"Stacks": [stack]}


def _missing(stubber: Stubber) -> None:
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {STACK} does not exist",
        http_status_code=400,
        expected_params={"StackName": STACK},
    )


def _change(action: str, logical_id: str, rtype: str, replacement: str | None = None) -> dict:
    change: dict[str, Any] = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": rtype}
    if replacement is not None:
        change["Replacement"] = replacement
    return {"Type": "Resource", "ResourceChange": change}


def _change_set(status: str, changes: list[dict] | None = None, reason: str | None = None) -> dict:
    response: dict[str, Any] = {
        "ChangeSetId": CHANGE_SET_ID,
        "StackId": STACK_ID,
        "StackName": STACK,
        "Status": status,
        "ExecutionStatus": "AVAILABLE" if status == "CREATE_COMPLETE" else "UNAVAILABLE",
        "Changes": changes or [],
    }
    if reason:
        response["StatusReason"] = reason
    return response


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private SALES_CDC_HOME, so that what deploy records is this test's alone."""
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path))
    return tmp_path


def _deployer(client: Any, lines: list[str]) -> StackDeployer:
    return StackDeployer(client, report=lines.append, poll_interval=0, sleep=lambda _: None)


TEMPLATE = {"TemplateBody": '{"Resources": {}}'}
CODE = {"LambdaCodeBucket": "artifacts", "LambdaCodeKey": f"{STACK}/lambda/lambda_transform-abc.zip"}


def test_failed_create_names_the_failing_resource_and_reason(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    review = _event(0, STACK, "REVIEW_IN_PROGRESS", "User Initiated")
    started = _event(1, STACK, "CREATE_IN_PROGRESS", "User Initiated")
    table = _event(2, "OrdersTable", "CREATE_IN_PROGRESS", rtype="AWS::DynamoDB::Table")
    failed = _event(
        3,
        "DeliveryStream",
        "CREATE_FAILED",
        "Role arn:aws:iam::123456789012:role/sales-cdc-firehose is not authorized to perform: "
        "kinesis:DescribeStream",
        rtype="AWS::KinesisFirehose::DeliveryStream",
    )
    cancelled = _event(
        4, "OrdersTable", "CREATE_FAILED", "Resource creation cancelled", rtype="AWS::DynamoDB::Table"
    )
    rolled_back = _event(5, STACK, "ROLLBACK_COMPLETE")

    _missing(stubber)
    stubber.add_response(
        "create_change_set",
        {"Id": CHANGE_SET_ID, "StackId": STACK_ID},
        {
            "StackName": STACK,
            "ChangeSetName": "cs-1",
            "ChangeSetType": "CREATE",
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(CODE.items())],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "Description": ANY,
            "TemplateBody": TEMPLATE["TemplateBody"],
        },
    )
    stubber.add_response(
        "describe_change_set",
        _change_set(
            "CREATE_COMPLETE", [_change("Add", "DeliveryStream", "AWS::KinesisFirehose::DeliveryStream")]
        ),
        {"ChangeSetName": CHANGE_SET_ID},
    )
    stubber.add_response("describe_stack_events", _events(review), {"StackName": STACK_ID})
    stubber.add_response("execute_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID})
    stubber.add_response("describe_stack_events", _events(review, started, table), {"StackName": STACK_ID})
    stubber.add_response("describe_stacks", _stack("CREATE_IN_PROGRESS"), {"StackName": STACK_ID})
    all_events = _events(review, started, table, failed, cancelled, rolled_back)
    stubber.add_response("describe_stack_events", all_events, {"StackName": STACK_ID})
    stubber.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"), {"StackName": STACK_ID})
    stubber.add_response("describe_stack_events", all_events, {"StackName": STACK_ID})

    lines: list[str] = []
    with pytest.raises(StackOperationFailed) as failure:
        _deployer(client, lines).deploy(STACK, TEMPLATE, CODE, region="eu-west-1", change_set_name="cs-1")

    message = str(failure.value)
    assert failure.value.status == "ROLLBACK_COMPLETE"
    # The root cause comes first, named by logical id with CloudFormation's reason; the cancellation after it.
    assert [f.logical_id for f in failure.value.failures] == ["DeliveryStream", "OrdersTable"]
    first_line = message.splitlines()[1]
    assert "DeliveryStream (AWS::KinesisFirehose::DeliveryStream) CREATE_FAILED" in first_line
    assert "not authorized to perform: kinesis:DescribeStream" in first_line
    assert "delete-stack --stack-name sales-cdc-prod" in message
    # Progress was streamed once per event, oldest first, without the events from before the execution.
    streamed = [line for line in lines if line.startswith("  12:")]
    assert [line.split()[1] for line in streamed] == [
        "CREATE_IN_PROGRESS",
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
    ]
    assert not [line for line in lines if "REVIEW_IN_PROGRESS" in line]


def test_failed_update_reports_rollback_to_previous_version(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    before = _event(0, STACK, "UPDATE_COMPLETE")
    failed = _event(
        1, "TransformFunction", "UPDATE_FAILED", "Error occurred while GetObject. S3 Error Code: NoSuchKey."
    )
    done = _event(2, STACK, "UPDATE_ROLLBACK_COMPLETE")
    stubber.add_response(
        "describe_stacks", _stack("UPDATE_COMPLETE", parameters={"ProjectName": "sales-cdc"})
    )
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response(
        "describe_change_set",
        _change_set(
            "CREATE_COMPLETE", [_change("Modify", "TransformFunction", "AWS::Lambda::Function", "False")]
        ),
    )
    stubber.add_response("describe_stack_events", _events(before))
    stubber.add_response("execute_change_set", {})
    stubber.add_response("describe_stack_events", _events(before, failed, done))
    stubber.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"))
    stubber.add_response("describe_stack_events", _events(before, failed, done))

    with pytest.raises(
        StackOperationFailed, match=r"TransformFunction \(AWS::Lambda::Function\) UPDATE_FAILED: .*NoSuchKey"
    ) as failure:
        _deployer(client, []).deploy(STACK, TEMPLATE, CODE, region="eu-west-1")
    assert "back at its previous version" in str(failure.value)


def test_update_keeps_parameters_not_given(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    deployed = {"ProjectName": "sales-cdc", "ChangeStreamShardCount": "4", **CODE}
    stubber.add_response("describe_stacks", _stack("UPDATE_COMPLETE", parameters=deployed))
    stubber.add_response(
        "create_change_set",
        {"Id": CHANGE_SET_ID, "StackId": STACK_ID},
        {
            "StackName": STACK,
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "Parameters": [
                {"ParameterKey": "LambdaCodeBucket", "ParameterValue": "artifacts"},
                {"ParameterKey": "LambdaCodeKey", "ParameterValue": "new-key"},
                {"ParameterKey": "ChangeStreamShardCount", "UsePreviousValue": True},
                {"ParameterKey": "ProjectName", "UsePreviousValue": True},
            ],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "Description": ANY,
            "TemplateBody": ANY,
        },
    )
    stubber.add_response(
        "describe_change_set", _change_set("FAILED", reason="No updates are to be performed.")
    )
    stubber.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    result = _deployer(client, []).deploy(
        STACK, TEMPLATE, {"LambdaCodeBucket": "artifacts", "LambdaCodeKey": "new-key"}, region="eu-west-1"
    )
    assert result.no_changes


def test_no_changes_is_reported_not_an_error(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    stubber.add_response("describe_stacks", _stack("UPDATE_COMPLETE", parameters=CODE))
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response(
        "describe_change_set",
        _change_set(
            "FAILED",
            reason="The submitted information didn't contain changes. "
            "Submit different information to create a change set.",
        ),
    )
    stubber.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    lines: list[str] = []
    result = _deployer(client, lines).deploy(STACK, TEMPLATE, CODE, region="eu-west-1")
    assert result.no_changes and not result.executed
    assert lines == [f"no changes: stack {STACK} is up to date."]


def test_dry_run_prints_the_change_set_and_deletes_it(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    stubber.add_response("describe_stacks", _stack("UPDATE_COMPLETE", parameters=CODE))
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    changes = [
        _change("Modify", "TransformFunction", "AWS::Lambda::Function", "False"),
        _change("Modify", "ChangeStream", "AWS::Kinesis::Stream", "True"),
        _change("Add", "NewQueue", "AWS::SQS::Queue"),
    ]
    stubber.add_response(
        "describe_change_set", {**_change_set("CREATE_COMPLETE", changes[:2]), "NextToken": "page-2"}
    )
    stubber.add_response(
        "describe_change_set",
        _change_set("CREATE_COMPLETE", changes[2:]),
        {"ChangeSetName": CHANGE_SET_ID, "NextToken": "page-2"},
    )
    stubber.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    lines: list[str] = []
    result = _deployer(client, lines).deploy(STACK, TEMPLATE, CODE, region="eu-west-1", dry_run=True)

    assert not result.executed
    assert [(c.action, c.logical_id, c.replacement) for c in result.changes] == [
        ("Modify", "TransformFunction", "False"),
        ("Modify", "ChangeStream", "True"),
        ("Add", "NewQueue", "-"),
    ]
    table = "\n".join(lines)
    assert "ACTION" in table and "REPLACEMENT" in table
    assert any(line.split() == ["Modify", "ChangeStream", "AWS::Kinesis::Stream", "True"] for line in lines)
    assert lines[-1] == "dry run: change set deleted, nothing was changed."


def test_dry_run_of_a_new_stack_leaves_no_empty_stack_behind(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    _missing(stubber)
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response(
        "describe_change_set",
        _change_set("CREATE_COMPLETE", [_change("Add", "OrdersTable", "AWS::DynamoDB::Table")]),
    )
    stubber.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    stubber.add_response("delete_stack", {}, {"StackName": STACK_ID})
    result = _deployer(client, []).deploy(STACK, TEMPLATE, CODE, region="eu-west-1", dry_run=True)
    assert result.change_set_type == "CREATE"


def test_a_refused_change_set_says_why(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    _missing(stubber)
    stubber.add_client_error(
        "create_change_set",
        service_error_code="InsufficientCapabilitiesException",
        service_message="Requires capabilities : [CAPABILITY_NAMED_IAM]",
    )
    with pytest.raises(
        DeployError, match=r"refused the change set for stack 'sales-cdc-prod': Requires capabilities"
    ):
        _deployer(client, []).deploy(STACK, TEMPLATE, CODE, region="eu-west-1")


def test_a_failed_change_set_says_why(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    _missing(stubber)
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response("describe_change_set", _change_set("CREATE_PENDING"))
    stubber.add_response(
        "describe_change_set",
        _change_set(
            "FAILED", reason="Template error: instance of Fn::GetAtt references undefined resource Nope"
        ),
    )
    with pytest.raises(DeployError, match="change set for stack 'sales-cdc-prod' failed: Template error"):
        _deployer(client, []).deploy(STACK, TEMPLATE, CODE, region="eu-west-1")


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        ("ROLLBACK_COMPLETE", "delete-stack --stack-name sales-cdc-prod --region eu-west-1"),
        ("UPDATE_IN_PROGRESS", "busy"),
        ("UPDATE_ROLLBACK_FAILED", "repair it"),
    ],
)
def test_a_stack_that_cannot_be_updated_is_refused_before_any_change(
    cfn: tuple[Any, Stubber], status: str, hint: str
) -> None:
    client, stubber = cfn
    stubber.add_response("describe_stacks", _stack(status))
    with pytest.raises(DeployError, match=hint):
        _deployer(client, []).deploy(STACK, TEMPLATE, CODE, region="eu-west-1")


def test_stack_level_failure_is_reported_when_no_resource_failed() -> None:
    failures = failures_from_events(
        [
            _event(1, STACK, "UPDATE_ROLLBACK_IN_PROGRESS"),
            _event(2, STACK, "UPDATE_FAILED", "Parameter X is invalid"),
        ],
        STACK,
    )
    assert [(f.logical_id, f.reason) for f in failures] == [(STACK, "Parameter X is invalid")]


def test_new_artifact_bucket_is_private_encrypted_and_tls_only() -> None:
    s3 = _client("s3")
    with Stubber(s3) as stubber:
        stubber.add_client_error("head_bucket", service_error_code="404", http_status_code=404)
        stubber.add_response(
            "create_bucket",
            {"Location": "/artifacts-x"},
            {"Bucket": "artifacts-x", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}},
        )
        stubber.add_response(
            "put_public_access_block",
            {},
            {
                "Bucket": "artifacts-x",
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            },
        )
        stubber.add_response(
            "put_bucket_encryption", {}, {"Bucket": "artifacts-x", "ServerSideEncryptionConfiguration": ANY}
        )
        stubber.add_response(
            "put_bucket_ownership_controls", {}, {"Bucket": "artifacts-x", "OwnershipControls": ANY}
        )
        stubber.add_response("put_bucket_policy", {}, {"Bucket": "artifacts-x", "Policy": ANY})
        policies: list[str] = []
        s3.meta.events.register(
            "before-parameter-build.s3.PutBucketPolicy", lambda params, **_: policies.append(params["Policy"])
        )
        assert ensure_artifact_bucket(s3, "artifacts-x", "eu-west-1", report=lambda _: None)
        stubber.assert_no_pending_responses()
    (statement,) = json.loads(policies[0])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == ["arn:aws:s3:::artifacts-x", "arn:aws:s3:::artifacts-x/*"]


def test_an_artifact_bucket_of_another_account_is_refused() -> None:
    s3 = _client("s3")
    with Stubber(s3) as stubber:
        stubber.add_client_error("head_bucket", service_error_code="403", http_status_code=403)
        with pytest.raises(
            DeployError, match="exists but these credentials cannot use it.*--artifact-bucket"
        ):
            ensure_artifact_bucket(s3, "someone-elses", "eu-west-1", report=lambda _: None)


def test_cli_exits_non_zero_naming_the_failed_resource(aws_home: Path) -> None:
    """The command end to end with stubbed AWS: upload skipped (already there), create fails, exit 1."""
    cfn_client, s3, sts = _client("cloudformation"), _client("s3"), _client("sts")
    review = _event(0, STACK, "REVIEW_IN_PROGRESS")
    failed = _event(
        1,
        "OrdersTable",
        "CREATE_FAILED",
        "orders already exists in stack arn:aws:cloudformation:other",
        "AWS::DynamoDB::Table",
    )
    done = _event(2, STACK, "ROLLBACK_COMPLETE")
    with Stubber(cfn_client) as cfn_stub, Stubber(s3) as s3_stub, Stubber(sts) as sts_stub:
        sts_stub.add_response(
            "get_caller_identity",
            {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ci", "UserId": "AIDEXAMPLE"},
        )
        s3_stub.add_response("head_bucket", {}, {"Bucket": "sales-cdc-artifacts-123456789012-eu-west-1"})
        s3_stub.add_response(
            "get_public_access_block",
            {
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                }
            },
        )
        s3_stub.add_response("head_object", {"ContentLength": 10})
        _missing(cfn_stub)
        cfn_stub.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
        cfn_stub.add_response(
            "describe_change_set",
            _change_set("CREATE_COMPLETE", [_change("Add", "OrdersTable", "AWS::DynamoDB::Table")]),
        )
        cfn_stub.add_response("describe_stack_events", _events(review))
        cfn_stub.add_response("execute_change_set", {})
        cfn_stub.add_response("describe_stack_events", _events(review, failed, done))
        cfn_stub.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"))
        cfn_stub.add_response("describe_stack_events", _events(review, failed, done))
        clients = AwsClients(region="eu-west-1", cloudformation=cfn_client, s3=s3, sts=sts)
        result = CliRunner().invoke(
            deploy,
            ["--stack-name", STACK, "--region", "eu-west-1"],
            obj={"aws_clients": clients, "poll_interval": 0},
        )
    assert result.exit_code == 1, result.output
    assert (
        "Error: CREATE of stack 'sales-cdc-prod' failed; the stack is now ROLLBACK_COMPLETE." in result.output
    )
    assert "OrdersTable (AWS::DynamoDB::Table) CREATE_FAILED: orders already exists" in result.output
    assert not (aws_home / "aws" / "outputs.json").exists()


def test_cli_prints_and_records_outputs_with_the_region(aws_home: Path) -> None:
    cfn_client, s3, sts = _client("cloudformation"), _client("s3"), _client("sts")
    outputs = {"OrdersTableName": "orders", "DataLakeBucketName": "sales-cdc-datalake-123456789012-eu-west-1"}
    with Stubber(cfn_client) as cfn_stub, Stubber(s3) as s3_stub, Stubber(sts) as sts_stub:
        s3_stub.add_response("head_bucket", {})
        s3_stub.add_client_error(
            "get_public_access_block", service_error_code="NoSuchPublicAccessBlockConfiguration"
        )
        s3_stub.add_response("head_object", {"ContentLength": 10})
        cfn_stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE", parameters=CODE))
        cfn_stub.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
        cfn_stub.add_response(
            "describe_change_set", _change_set("FAILED", reason="No updates are to be performed.")
        )
        cfn_stub.add_response("delete_change_set", {})
        cfn_stub.add_response(
            "describe_stacks", _stack("UPDATE_COMPLETE", outputs=outputs), {"StackName": STACK}
        )
        clients = AwsClients(region="eu-west-1", cloudformation=cfn_client, s3=s3, sts=sts)
        result = CliRunner().invoke(
            deploy,
            ["--stack-name", STACK, "--artifact-bucket", "my-artifacts"],
            obj={"aws_clients": clients, "poll_interval": 0},
        )
        sts_stub.assert_no_pending_responses()  # the bucket was given: no account lookup
    assert result.exit_code == 0, result.output
    assert "no changes: stack sales-cdc-prod is up to date." in result.output
    assert "warning: artifact bucket my-artifacts does not block all public access" in result.output
    assert "  OrdersTableName = orders" in result.output
    recorded = json.loads((aws_home / "aws" / "outputs.json").read_text())
    assert recorded == {**outputs, "Region": "eu-west-1", "StackName": STACK}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--parameter", "NoSuchParameter=1"], "NoSuchParameter: not a parameter of the template"),
        (["--parameter", "LambdaCodeKey=x"], "LambdaCodeKey: set by deploy"),
        (["--parameter", "ChangeStreamShardCount"], "is not KEY=VALUE"),
    ],
)
def test_cli_rejects_bad_parameters_before_touching_aws(args: list[str], message: str) -> None:
    result = CliRunner().invoke(deploy, ["--stack-name", STACK, *args], obj={"aws_clients": object()})
    assert result.exit_code != 0
    assert message in result.output
