"""The Lambda processor: resolved from the deployed function, its response contract enforced."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from local_aws.dataplane import DataPlane, format_health
from sales_cdc.settings import Settings
from test_local_aws.dataplane_helpers import Clients, Lake, wait_for

from . import processors

MODES = ["ok", "missing", "duplicate", "bad_result", "bad_base64", "failed", "dropped", "no_keys", "ok"]
EXPECTED_ERRORS = {
    "missing": ("processing-failed", "Lambda.MissingRecordId"),
    "duplicate": ("processing-failed", "Lambda.DuplicatedRecordId"),
    "bad_result": ("processing-failed", "Lambda.InvalidRecordResult"),
    "bad_base64": ("processing-failed", "Lambda.InvalidRecordData"),
    "failed": ("processing-failed", "Lambda.ProcessingFailedStatus"),
    "no_keys": ("partitioning-failed", "DynamicPartitioning.PartitionKeyMissing"),
}


def deploy_function(aws: Clients, name: str, handler: str) -> str:
    """A function in the emulator whose Handler is one of this test's processors."""
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("README", "runs in-process in the local Firehose")
    role = aws.iam.get_role(RoleName="sales-cdc-cdc-transform")["Role"]["Arn"]
    return aws.lambda_.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler=handler,
        Code={"ZipFile": package.getvalue()},
    )["FunctionArn"]


def use_processor(aws: Clients, stream: str, lambda_arn: str, retries: int) -> None:
    """Point the delivery stream's Lambda processor at another function (UpdateDestination)."""
    description = aws.firehose.describe_delivery_stream(DeliveryStreamName=stream)[
        "DeliveryStreamDescription"
    ]
    processing = description["Destinations"][0]["ExtendedS3DestinationDescription"]["ProcessingConfiguration"]
    for parameter in processing["Processors"][0]["Parameters"]:
        if parameter["ParameterName"] == "LambdaArn":
            parameter["ParameterValue"] = lambda_arn
        if parameter["ParameterName"] == "NumberOfRetries":
            parameter["ParameterValue"] = str(retries)
    aws.firehose.update_destination(
        DeliveryStreamName=stream,
        CurrentDeliveryStreamVersionId=description["VersionId"],
        DestinationId=description["Destinations"][0]["DestinationId"],
        ExtendedS3DestinationUpdate={"ProcessingConfiguration": processing},
    )


def put(aws: Clients, settings: Settings, payloads: list[dict[str, Any]]) -> None:
    aws.kinesis.put_records(
        StreamName=settings.output("ChangeStreamName"),
        Records=[{"Data": json.dumps(p).encode(), "PartitionKey": str(n)} for n, p in enumerate(payloads)],
    )


def error_lines(lake: Lake, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(line) for obj in lake.objects(prefix) for line in obj.lines if line.strip()]


@pytest.mark.e2e
def test_processor_contract_violations_and_failed_invocations_go_to_the_error_prefix(
    provisioned: Settings, aws: Clients, lake: Lake, make_data_plane: Callable[..., DataPlane]
) -> None:
    stream = provisioned.output("DeliveryStreamName")
    breaker = deploy_function(aws, "contract-breaker", f"{processors.__name__}.breaks_contract")
    raiser = deploy_function(aws, "always-raises", f"{processors.__name__}.always_raises")
    use_processor(aws, stream, breaker, retries=1)
    plane = make_data_plane(provisioned, status_file=None).start()
    try:
        put(aws, provisioned, [{"mode": mode} for mode in MODES])
        wait_for(
            lambda: (
                plane.health()["firehose"]["records_failed"] >= len(EXPECTED_ERRORS)
                and plane.health()["firehose"]["rows_delivered"] >= MODES.count("ok")
            ),
            60,
            f"the contract-breaker's records; health: {format_health(plane.health())}",
        )
        first = plane.health()["firehose"]

        use_processor(aws, stream, raiser, retries=2)
        plane.firehose.config(refresh=True)  # instead of waiting for the periodic re-read
        put(aws, provisioned, [{"mode": "ok"}, {"mode": "ok"}])
        wait_for(
            lambda: plane.health()["firehose"]["records_failed"] >= len(EXPECTED_ERRORS) + 2,
            60,
            f"the failed invocation's records; health: {format_health(plane.health())}",
        )
        second = plane.health()["firehose"]
    finally:
        plane.stop()

    assert first["records_dropped"] == 1 and first["invocation_failures"] == 0
    ok_rows = [row for obj in lake.objects("raw/orders_cdc/dt=2026-01-01/hour=05/") for row in obj.rows()]
    assert ok_rows == [{"mode": "ok"}, {"mode": "ok"}]

    errors = error_lines(lake, provisioned.error_prefix)
    by_mode: dict[str, list[dict[str, Any]]] = {}
    for error in errors:
        by_mode.setdefault(json.loads(base64.b64decode(error["rawData"]))["mode"], []).append(error)
    for mode, (error_type, code) in EXPECTED_ERRORS.items():
        assert [e["errorCode"] for e in by_mode[mode]] == [code], (mode, by_mode.get(mode))
        assert by_mode[mode][0]["lambdaArn"] == breaker
        keys = [obj.key for obj in lake.objects(f"{provisioned.error_prefix}{error_type}/dt=")]
        assert keys, f"no object under the {error_type} error prefix"
    # The raising function: 1 attempt + 2 retries, then every record of the batch is an error record.
    raised = by_mode["ok"]
    assert len(raised) == 2
    assert all(e["errorCode"] == "Lambda.FunctionError" and e["attemptsMade"] == 3 for e in raised)
    assert all(e["lambdaArn"] == raiser and "boom" in e["errorMessage"] for e in raised)
    assert second["invocation_failures"] == 3
