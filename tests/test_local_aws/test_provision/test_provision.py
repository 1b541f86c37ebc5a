"""The local provisioner applies infra/template.yaml to the emulator, every value from the template."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import yaml

from infra.cfn import TEMPLATE_PATH, TemplateError, load_template, resolve_parameters, write_outputs
from infra.clients import LOCAL_CREDENTIALS
from local_aws.provision import ProvisionError, load_local_parameters, provision
from sales_cdc import settings
from sales_cdc.settings import REQUIRED_OUTPUTS, load_settings, outputs_path


def _client(emulator, service: str):
    return boto3.client(service, endpoint_url=emulator.endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS)


def _template_values() -> tuple[dict, dict]:
    template = load_template()
    return template, resolve_parameters(template, load_local_parameters())


def test_every_resource_reads_back_with_the_template_values(provisioned, emulator) -> None:
    template, params = _template_values()
    resources = template["Resources"]
    settings = provisioned

    table = _client(emulator, "dynamodb").describe_table(TableName=settings.orders_table)["Table"]
    assert table["KeySchema"] == resources["OrdersTable"]["Properties"]["KeySchema"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    kinesis = _client(emulator, "kinesis")
    summary = kinesis.describe_stream_summary(StreamName=settings.output("ChangeStreamName"))
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == int(params["ChangeStreamShardCount"])
    assert summary["StreamDescriptionSummary"]["EncryptionType"] == "KMS"

    pipe = _client(emulator, "pipes").describe_pipe(Name=settings.output("PipeName"))
    stream_params = pipe["SourceParameters"]["DynamoDBStreamParameters"]
    assert pipe["Source"] == settings.output("OrdersStreamArn") == table["LatestStreamArn"]
    assert pipe["Target"] == settings.output("ChangeStreamArn")
    assert stream_params["BatchSize"] == int(params["PipeBatchSize"])
    assert stream_params["MaximumBatchingWindowInSeconds"] == int(
        params["PipeMaximumBatchingWindowInSeconds"]
    )
    assert stream_params["StartingPosition"] == params["PipeStartingPosition"]
    assert pipe["TargetParameters"]["KinesisStreamParameters"]["PartitionKey"] == "$.dynamodb.Keys.orderId.S"

    stream = _client(emulator, "firehose").describe_delivery_stream(
        DeliveryStreamName=settings.output("DeliveryStreamName")
    )["DeliveryStreamDescription"]
    assert stream["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"] == settings.output(
        "ChangeStreamArn"
    )
    destination = stream["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["Prefix"] == settings.raw_cdc_prefix + (
        "dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/"
    )
    assert destination["ErrorOutputPrefix"].startswith(settings.error_prefix)
    assert destination["BufferingHints"] == {
        "SizeInMBs": int(params["DeliveryBufferSizeInMBs"]),
        "IntervalInSeconds": int(params["DeliveryBufferIntervalInSeconds"]),
    }
    processor = {
        p["ParameterName"]: p["ParameterValue"]
        for p in destination["ProcessingConfiguration"]["Processors"][0]["Parameters"]
    }
    assert processor["LambdaArn"] == settings.output("TransformFunctionArn")
    assert processor["BufferIntervalInSeconds"] == params["ProcessorBufferIntervalInSeconds"]
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True

    function = _client(emulator, "lambda").get_function(FunctionName=settings.output("TransformFunctionArn"))
    assert function["Configuration"]["Handler"] == "lambda_transform.handler.handler"

    crawler = _client(emulator, "glue").get_crawler(Name=settings.output("CrawlerName"))["Crawler"]
    assert crawler["Targets"]["S3Targets"][0]["Path"] == f"s3://{settings.bucket}/{settings.raw_cdc_prefix}"
    assert crawler["DatabaseName"] == settings.glue_database
    assert crawler["SchemaChangePolicy"]["UpdateBehavior"] == "UPDATE_IN_DATABASE"

    workgroup = _client(emulator, "athena").get_work_group(WorkGroup=settings.output("AthenaWorkGroupName"))
    configuration = workgroup["WorkGroup"]["Configuration"]
    assert configuration["ResultConfiguration"]["OutputLocation"] == settings.output("AthenaResultsLocation")
    assert configuration["BytesScannedCutoffPerQuery"] == int(params["AthenaBytesScannedCutoffPerQuery"])

    s3 = _client(emulator, "s3")
    assert s3.get_public_access_block(Bucket=settings.bucket)["PublicAccessBlockConfiguration"][
        "BlockPublicAcls"
    ]
    notification = s3.get_bucket_notification_configuration(Bucket=settings.bucket)
    assert (
        notification["QueueConfigurations"][0]["Filter"]["Key"]["FilterRules"][0]["Value"]
        == settings.raw_cdc_prefix
    )


def test_outputs_cover_what_the_application_reads(provisioned) -> None:
    assert set(REQUIRED_OUTPUTS) <= set(provisioned.outputs)


def test_second_run_changes_nothing_and_says_so(provisioned, emulator) -> None:
    lines: list[str] = []
    result = provision(emulator.endpoint, report=lines.append)
    assert not result.changed, {k: v for k, v in result.actions.items() if v != "unchanged"}
    assert set(result.actions.values()) == {"unchanged"}
    assert lines[-1].startswith("No changes")


def _copy_with(tmp_path: Path, edit) -> Path:
    template = yaml.safe_load(TEMPLATE_PATH.read_text().replace("!", "__BANG__"))
    edit(template)
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False).replace("__BANG__", "!"))
    return path


def test_changed_template_values_are_followed(provisioned, emulator, tmp_path: Path) -> None:
    def edit(template: dict) -> None:
        template["Parameters"]["PipeBatchSize"]["Default"] = 37
        template["Parameters"]["ChangeStreamShardCount"]["Default"] = 2
        dest = template["Resources"]["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
        dest["ErrorOutputPrefix"] = dest["ErrorOutputPrefix"].replace("errors/", "failed/")
        crawler = template["Resources"]["RawCdcCrawler"]["Properties"]
        crawler["SchemaChangePolicy"]["UpdateBehavior"] = "LOG"

    path = _copy_with(tmp_path, edit)
    overrides = {k: v for k, v in load_local_parameters().items() if k != "PipeBatchSize"}
    lines: list[str] = []
    result = provision(
        emulator.endpoint,
        template_path=path,
        parameter_overrides=overrides,
        report=lines.append,
        outputs_path=outputs_path("local"),
    )
    assert result.actions["OrdersPipe"] == "updated"
    assert result.actions["ChangeStream"] == "updated"
    assert result.actions["OrdersTable"] == "unchanged"
    settings = load_settings("local")
    pipe = _client(emulator, "pipes").describe_pipe(Name=settings.output("PipeName"))
    assert pipe["SourceParameters"]["DynamoDBStreamParameters"]["BatchSize"] == 37
    summary = _client(emulator, "kinesis").describe_stream_summary(
        StreamName=settings.output("ChangeStreamName")
    )
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 2
    stream = _client(emulator, "firehose").describe_delivery_stream(
        DeliveryStreamName=settings.output("DeliveryStreamName")
    )
    prefix = stream["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"][
        "ErrorOutputPrefix"
    ]
    assert prefix.startswith("failed/")
    crawler = _client(emulator, "glue").get_crawler(Name=settings.output("CrawlerName"))["Crawler"]
    assert crawler["SchemaChangePolicy"]["UpdateBehavior"] == "LOG"


def test_unsupported_resource_type_is_named_and_nothing_is_applied(clean_emulator, tmp_path: Path) -> None:
    def edit(template: dict) -> None:
        template["Resources"]["Vpc"] = {"Type": "AWS::EC2::VPC", "Properties": {}}

    path = _copy_with(tmp_path, edit)
    with pytest.raises(TemplateError, match=r"'Vpc'.*AWS::EC2::VPC"):
        provision(clean_emulator.endpoint, template_path=path, report=lambda line: None)
    assert _client(clean_emulator, "dynamodb").list_tables()["TableNames"] == []


def test_malformed_template_is_reported(clean_emulator, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("Resources:\n  OrdersTable:\n    Properties: {}\n")
    with pytest.raises(TemplateError, match="'OrdersTable' has no 'Type'"):
        provision(clean_emulator.endpoint, template_path=bad, report=lambda line: None)
    bad.write_text("Resources: [unclosed\n")
    with pytest.raises(TemplateError, match="not valid YAML"):
        provision(clean_emulator.endpoint, template_path=bad, report=lambda line: None)


def test_unknown_reference_names_the_resource(clean_emulator, tmp_path: Path) -> None:
    def edit(template: dict) -> None:
        template["Resources"]["ChangeStream"]["Properties"]["ShardCount"] = {"Ref": "NoSuchParameter"}

    path = _copy_with(tmp_path, edit)
    with pytest.raises(TemplateError, match="'ChangeStream' refers to NoSuchParameter"):
        provision(clean_emulator.endpoint, template_path=path, report=lambda line: None)
    assert _client(clean_emulator, "dynamodb").list_tables()["TableNames"] == []


def test_a_failure_mid_run_names_the_resource_and_what_was_applied(clean_emulator, tmp_path: Path) -> None:
    def edit(template: dict) -> None:
        # A Kinesis stream with zero shards is refused by the service, after the table was created.
        template["Resources"]["ChangeStream"]["Properties"]["ShardCount"] = 0

    path = _copy_with(tmp_path, edit)
    with pytest.raises(ProvisionError, match="'ChangeStream'") as info:
        provision(clean_emulator.endpoint, template_path=path, report=lambda line: None)
    assert "Already applied in this run: OrdersTable (created)" in str(info.value)


def test_bad_parameter_value_is_refused_before_anything_runs(clean_emulator) -> None:
    with pytest.raises(TemplateError, match="PipeStartingPosition"):
        provision(
            clean_emulator.endpoint,
            parameter_overrides={**load_local_parameters(), "PipeStartingPosition": "AT_TIMESTAMP"},
            report=lambda line: None,
        )
    assert _client(clean_emulator, "dynamodb").list_tables()["TableNames"] == []


def test_outputs_are_recorded_for_settings(provisioned, sales_cdc_home: Path) -> None:
    recorded = json.loads((sales_cdc_home / "local" / "outputs.json").read_text())
    assert recorded["DataLakeBucketName"] == provisioned.bucket


def test_outputs_file_is_the_one_the_settings_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The provisioner writes the outputs itself (it does not import the application): same bytes.
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path / "home"))
    outputs = {"StackName": "s", "DataLakeBucketName": "b", "Région": "ü"}
    expected = settings.write_outputs(outputs, "local").read_bytes()
    written = write_outputs(outputs, tmp_path / "elsewhere" / "outputs.json")
    assert written.read_bytes() == expected
    assert not written.with_suffix(".tmp").exists()


def test_data_lake_objects_are_writable_despite_the_tls_only_policy(provisioned, emulator) -> None:
    # The template's TLS-only Deny cannot hold on the emulator's plain-HTTP endpoint; it is left out locally.
    s3 = _client(emulator, "s3")
    s3.put_object(Bucket=provisioned.bucket, Key=f"{provisioned.raw_cdc_prefix}probe.json", Body=b"{}\n")
    assert s3.get_object(Bucket=provisioned.bucket, Key=f"{provisioned.raw_cdc_prefix}probe.json")[
        "Body"
    ].read()
