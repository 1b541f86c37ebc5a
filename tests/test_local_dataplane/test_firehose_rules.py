"""The local Firehose's pure parts: prefix expressions, object names, the processor response contract."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from local_aws.firehose import (
    DeliveryStreamConfig,
    FirehoseConfigError,
    InvocationError,
    LambdaFunction,
    PrefixTemplate,
    _Record,
    _Ticket,
    apply_response,
    compile_java_date_format,
    error_record,
    object_name,
)

MOMENT = datetime(2026, 3, 7, 5, 4, 9, 123456, tzinfo=UTC)


def test_java_date_patterns() -> None:
    assert compile_java_date_format("yyyy-MM-dd")(MOMENT) == "2026-03-07"
    assert compile_java_date_format("yyyy/MM/dd/HH")(MOMENT) == "2026/03/07/05"
    assert compile_java_date_format("yy'-w'DDD'-'HH:mm:ss.SSS")(MOMENT) == "26-w066-05:04:09.123"
    assert compile_java_date_format("MMM d, h a E")(MOMENT) == "Mar 7, 5 AM Sat"
    with pytest.raises(FirehoseConfigError, match="'Q'"):
        compile_java_date_format("yyyy-QQ")


def test_prefix_expressions() -> None:
    prefix = PrefixTemplate(
        "raw/orders_cdc/dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/",
        error_prefix=False,
    )
    assert prefix.partition_key_names == ("dt", "hour")
    assert (
        prefix.render({"dt": "2026-03-07", "hour": "05"}, MOMENT) == "raw/orders_cdc/dt=2026-03-07/hour=05/"
    )
    errors = PrefixTemplate(
        "errors/x/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/", error_prefix=True
    )
    assert errors.render({}, MOMENT, "processing-failed") == "errors/x/processing-failed/dt=2026-03-07/"
    random = PrefixTemplate("r/!{firehose:random-string}/", error_prefix=False).render({}, MOMENT)
    assert re.fullmatch(r"r/[A-Za-z0-9]{11}/", random)
    # AWS defaults: a prefix without expressions gets yyyy/MM/dd/HH/; no error prefix means type/time.
    assert PrefixTemplate("plain/", error_prefix=False).render({}, MOMENT) == "plain/2026/03/07/05/"
    assert PrefixTemplate("", error_prefix=True).render({}, MOMENT, "processing-failed") == (
        "processing-failed/2026/03/07/05/"
    )


@pytest.mark.parametrize(
    ("text", "error_prefix", "message"),
    [
        ("x/!{partitionKeyFromQuery:id}/", False, "jq partitioning"),
        ("x/!{firehose:error-output-type}/", False, "only ErrorOutputPrefix"),
        ("x/!{partitionKeyFromLambda:dt}/", True, "no partition keys"),
        ("x/!{nope:1}/", False, "not one Firehose knows"),
    ],
)
def test_invalid_prefixes_are_refused_with_the_reason(text: str, error_prefix: bool, message: str) -> None:
    with pytest.raises(FirehoseConfigError, match=message):
        PrefixTemplate(text, error_prefix=error_prefix)


def description(**destination: Any) -> dict[str, Any]:
    return {
        "DeliveryStreamName": "s",
        "DeliveryStreamARN": "arn:aws:firehose:us-east-1:123456789012:deliverystream/s",
        "DeliveryStreamType": "KinesisStreamAsSource",
        "DeliveryStreamStatus": "ACTIVE",
        "VersionId": "3",
        "Source": {
            "KinesisStreamSourceDescription": {
                "KinesisStreamARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/c"
            }
        },
        "Destinations": [
            {
                "DestinationId": "d",
                "ExtendedS3DestinationDescription": {
                    "BucketARN": "arn:aws:s3:::lake",
                    "Prefix": "p/",
                    "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 3},
                    "CompressionFormat": "GZIP",
                    **destination,
                },
            }
        ],
    }


def test_object_names_follow_firehose() -> None:
    config = DeliveryStreamConfig.from_description(description())
    assert (config.bucket, config.region, config.buffer_size_bytes, config.buffer_interval_s) == (
        "lake",
        "eu-west-1",
        64 * 1024 * 1024,
        3.0,
    )
    name = object_name(config, MOMENT)
    assert re.fullmatch(
        r"s-3-2026-03-07-05-04-09-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.gz", name
    )
    plain = DeliveryStreamConfig.from_description(description(CompressionFormat="UNCOMPRESSED"))
    assert not object_name(plain, MOMENT).endswith(".gz")
    with pytest.raises(FirehoseConfigError, match="Snappy"):
        DeliveryStreamConfig.from_description(description(CompressionFormat="Snappy"))
    with pytest.raises(FirehoseConfigError, match="needs DynamicPartitioningConfiguration"):
        DeliveryStreamConfig.from_description(description(Prefix="p/!{partitionKeyFromLambda:dt}/"))


def records(count: int) -> tuple[list[_Record], list[str]]:
    ticket = _Ticket(None, "shardId-0", str(count), count, 0, False)  # type: ignore[arg-type]
    made = [_Record(ticket, "shardId-0", str(n), "k", 1_000 + n, f"data-{n}".encode()) for n in range(count)]
    return made, [f"id-{n}" for n in range(count)]


def ok(record_id: str, data: bytes = b"row\n", **metadata: Any) -> dict[str, Any]:
    answer = {"recordId": record_id, "result": "Ok", "data": base64.b64encode(data).decode()}
    return {**answer, "metadata": metadata} if metadata else answer


def test_the_response_contract_is_judged_record_by_record() -> None:
    batch, ids = records(7)
    response = {
        "records": [
            ok(ids[0], partitionKeys={"dt": "2026-03-07"}),
            # ids[1] has no answer
            ok(ids[2]),
            ok(ids[2]),
            {"recordId": ids[3], "result": "Fine"},
            {"recordId": ids[4], "result": "Ok", "data": "%%%"},
            {"recordId": ids[5], "result": "ProcessingFailed"},
            {"recordId": ids[6], "result": "Dropped"},
            ok("someone-else"),
        ]
    }
    outcome = apply_response(batch, ids, response)
    assert [(r.sequence_number, data, keys) for r, data, keys in outcome.ok] == [
        ("0", b"row\n", {"dt": "2026-03-07"})
    ]
    assert [r.sequence_number for r in outcome.dropped] == ["6"]
    assert {r.sequence_number: code for r, code, _ in outcome.failed} == {
        "1": "Lambda.MissingRecordId",
        "2": "Lambda.DuplicatedRecordId",
        "3": "Lambda.InvalidRecordResult",
        "4": "Lambda.InvalidRecordData",
        "5": "Lambda.ProcessingFailedStatus",
    }
    assert outcome.unknown_ids == 1
    with pytest.raises(InvocationError, match="JsonProcessingException"):
        apply_response(batch, ids, {"recordz": []})


def test_error_records_have_firehose_shape() -> None:
    (record,), _ = records(1)
    line = error_record(record, "Lambda.FunctionError", "boom", 4, "arn:aws:lambda:::function:f", 2_000)
    assert line.endswith(b"\n")
    assert json.loads(line) == {
        "attemptsMade": 4,
        "arrivalTimestamp": 1_000,
        "errorCode": "Lambda.FunctionError",
        "errorMessage": "boom",
        "attemptEndingTimestamp": 2_000,
        "rawData": base64.b64encode(b"data-0").decode(),
        "lambdaArn": "arn:aws:lambda:::function:f",
    }


def test_the_handler_is_resolved_from_the_function_configuration() -> None:
    configuration = {
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:t",
        "FunctionName": "t",
        "Handler": "lambda_transform.handler.handler",
        "Timeout": 120,
    }
    function = LambdaFunction(configuration)
    assert function.handler.__module__ == "lambda_transform.handler"
    with pytest.raises(FirehoseConfigError, match="cannot import handler module 'no_such_module'"):
        LambdaFunction({**configuration, "Handler": "no_such_module.handler"})
    with pytest.raises(FirehoseConfigError, match="module.function"):
        LambdaFunction({**configuration, "Handler": "handler"})
