"""``sales-cdc deploy`` against the emulator's CloudFormation: package, upload, change set, wait, settings.

moto's CloudFormation creates DynamoDB, Kinesis, S3, IAM, SQS, Logs and Lambda resources but not Pipes,
Firehose, Glue or Athena, and an output pointing at a skipped resource fails the stack; so the stack
deployed here is the real template reduced to the types moto implements (``template_subset``). moto also
keeps no outputs for stacks made through change sets; the outputs path is covered with the Stubber in
test_stack_deployer.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto.cloudformation.parsing import get_model_map

from infra.deploy import (
    LAMBDA_SOURCE_DIR,
    DeployRequest,
    default_artifact_bucket,
    load_template,
    package_lambda,
    run_deploy,
    template_subset,
)
from local_aws.server import Emulator
from sales_cdc.commands.deploy import deploy

STACK = "sales-cdc-emu"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


def emulator_template(directory: Path) -> Path:
    """The real template reduced to what the emulator's CloudFormation implements, as a JSON file."""
    subset = template_subset(load_template(), get_model_map())
    path = directory / "template.json"
    path.write_text(json.dumps(subset))
    return path


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = emulator_template(tmp_path)
    kept = json.loads(path.read_text())["Resources"]
    # The reduction must leave the resources this flow is about.
    assert {"TransformFunction", "OrdersTable", "ChangeStream", "DataLakeBucket"} <= set(kept)
    return path


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SALES_CDC_HOME", str(home))
    return home


def _client(service: str, emulator: Emulator) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=emulator.endpoint)


def _cli(emulator: Emulator, template: Path, *extra: str) -> Any:
    args = [
        "--stack-name",
        STACK,
        "--region",
        REGION,
        "--endpoint-url",
        emulator.endpoint,
        "--template",
        str(template),
    ]
    return CliRunner().invoke(deploy, [*args, *extra], obj={"poll_interval": 0})


def test_dry_run_shows_the_change_set_and_changes_nothing(
    clean_emulator: Emulator, template: Path, aws_home: Path
) -> None:
    result = _cli(clean_emulator, template, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"(CREATE) for stack {STACK}" in result.output
    assert any(line.split()[:2] == ["Add", "TransformFunction"] for line in result.output.splitlines())
    assert "dry run: change set deleted, nothing was changed." in result.output
    cfn = _client("cloudformation", clean_emulator)
    assert [
        s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"
    ] == []
    assert _client("s3", clean_emulator).list_buckets()["Buckets"] == []
    assert not (aws_home / "aws" / "outputs.json").exists()


def test_deploy_creates_then_reports_no_changes_then_rolls_new_code(
    clean_emulator: Emulator, template: Path, aws_home: Path, tmp_path: Path
) -> None:
    package = package_lambda()
    bucket = default_artifact_bucket(ACCOUNT, REGION)
    key = package.s3_key(STACK)

    created = _cli(clean_emulator, template)
    assert created.exit_code == 0, created.output
    assert f"uploaded s3://{bucket}/{key}" in created.output
    assert f"stack {STACK} is CREATE_COMPLETE" in created.output

    cfn, s3, lam = (_client(name, clean_emulator) for name in ("cloudformation", "s3", "lambda"))
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert (parameters["LambdaCodeBucket"], parameters["LambdaCodeKey"]) == (bucket, key)
    # The artifact bucket is private and encrypted; the object is the package we built.
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == package.data
    # The function runs that package; the table and stream come from the template.
    function = lam.get_function(FunctionName="sales-cdc-cdc-transform")["Configuration"]
    assert function["CodeSha256"] == base64.b64encode(hashlib.sha256(package.data).digest()).decode()
    assert function["Handler"] == "lambda_transform.handler.handler"
    table = _client("dynamodb", clean_emulator).describe_table(TableName="orders")["Table"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert "sales-cdc-order-changes" in _client("kinesis", clean_emulator).list_streams()["StreamNames"]
    recorded = json.loads((aws_home / "aws" / "outputs.json").read_text())
    assert recorded["Region"] == REGION and recorded["StackName"] == STACK

    unchanged = _cli(clean_emulator, template)
    assert unchanged.exit_code == 0, unchanged.output
    assert f"no changes: stack {STACK} is up to date." in unchanged.output
    assert "is already uploaded" in unchanged.output

    source = tmp_path / "src" / LAMBDA_SOURCE_DIR.name
    shutil.copytree(LAMBDA_SOURCE_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "handler.py").write_text((source / "handler.py").read_text() + "\n# a new version\n")
    lines: list[str] = []
    result = run_deploy(
        DeployRequest(
            stack_name=STACK,
            region=REGION,
            template_path=template,
            lambda_source=source,
            endpoint_url=clean_emulator.endpoint,
        ),
        report=lines.append,
        poll_interval=0,
    )
    assert result.change_set_type == "UPDATE" and result.executed and result.status == "UPDATE_COMPLETE"
    new_key = package_lambda(source).s3_key(STACK)
    assert new_key != key
    parameters = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cfn.describe_stacks(StackName=STACK)["Stacks"][0]["Parameters"]
    }
    assert parameters["LambdaCodeKey"] == new_key
    rolled = lam.get_function(FunctionName="sales-cdc-cdc-transform")["Configuration"]
    assert rolled["CodeSha256"] != function["CodeSha256"]
