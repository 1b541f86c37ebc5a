"""The local Firehose's reading of a delivery stream: prefix expressions, object names, refusals."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from local_aws.firehose.config import (
    DeliveryStreamConfig,
    FirehoseConfigError,
    PrefixTemplate,
    compile_java_date_format,
)
from local_aws.firehose.partitioning import object_name

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
