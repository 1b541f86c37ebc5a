"""The buffered metrics publisher: aggregation in memory, one datum per metric and bucket on the wire."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from lambda_transform.handler import error_records_metric
from local_aws.cloudwatch import MetricError, MetricsPublisher
from local_aws.lambda_runtime import publish_log_lines

DIMS = (("StreamName", "orders-changes"),)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_values_aggregate_per_metric_dimensions_and_bucket() -> None:
    clock = Clock(1_000_000.0)
    publisher = MetricsPublisher(None, clock=clock)
    for value in (5.0, 1.0, 9.0):
        publisher.record("AWS/Kinesis", "IncomingRecords", DIMS, value, "Count")
    publisher.record("AWS/Kinesis", "IncomingRecords", (("StreamName", "other"),), 2.0, "Count")
    clock.now += 5  # the next 5-second bucket
    publisher.record("AWS/Kinesis", "IncomingRecords", DIMS, 4.0, "Count")

    taken = publisher.take()

    assert taken == {
        ("AWS/Kinesis", "IncomingRecords", DIMS, "Count", 1_000_000): (15.0, 1.0, 9.0, 3.0),
        ("AWS/Kinesis", "IncomingRecords", (("StreamName", "other"),), "Count", 1_000_000): (
            2.0,
            2.0,
            2.0,
            1.0,
        ),
        ("AWS/Kinesis", "IncomingRecords", DIMS, "Count", 1_000_005): (4.0, 4.0, 4.0, 1.0),
    }
    assert publisher.take() == {}, "taking empties the buffer"


def test_a_value_that_is_not_a_number_is_refused_with_its_name() -> None:
    publisher = MetricsPublisher(None)
    with pytest.raises(MetricError, match=r"AWS/Lambda/Duration .*nan"):
        publisher.record("AWS/Lambda", "Duration", (), float("nan"))


def test_a_flush_sends_statistic_values_that_the_emulator_serves_back(cloudwatch: Any) -> None:
    namespace = f"Test/{uuid.uuid4().hex}"
    moment = (int(datetime.now(UTC).timestamp()) // 60 - 2) * 60
    publisher = MetricsPublisher(cloudwatch, clock=Clock(moment + 1.0))
    for value in (120.0, 30.0, 60.0):
        publisher.record(namespace, "GetRecords.IteratorAgeMilliseconds", DIMS, value, "Milliseconds")
    samples = []
    publisher.add_sampler(lambda p: samples.append(p.record(namespace, "Depth", DIMS, 7.0, "Count")))

    assert publisher.flush() == 2  # one aggregated datum per metric, whatever the number of values

    def statistics(name: str) -> dict[str, Any]:
        (point,) = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": "StreamName", "Value": "orders-changes"}],
            StartTime=datetime.fromtimestamp(moment, UTC),
            EndTime=datetime.fromtimestamp(moment + 60, UTC),
            Period=60,
            Statistics=["Sum", "Minimum", "Maximum", "SampleCount", "Average"],
        )["Datapoints"]
        return point

    age = statistics("GetRecords.IteratorAgeMilliseconds")
    assert (age["Sum"], age["Minimum"], age["Maximum"], age["SampleCount"]) == (210.0, 30.0, 120.0, 3.0)
    assert age["Average"] == 70.0 and age["Unit"] == "Milliseconds"
    assert statistics("Depth")["Maximum"] == 7.0 and len(samples) == 1
    assert publisher.sent == 2 and publisher.dropped == 0


def test_the_lambdas_emf_line_becomes_its_metric_and_other_output_is_echoed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    publisher = MetricsPublisher(None, clock=Clock(2_000_000.0))
    event = {"deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/cdc-to-s3"}
    output = "\n".join([error_records_metric(3, event), "a plain log line", error_records_metric(0, event)])

    assert publish_log_lines(output, publisher) == 2

    assert publisher.take() == {
        ("SalesCdc", "ErrorRecords", (("DeliveryStreamName", "cdc-to-s3"),), "Count", 2_000_000): (
            3.0,
            0.0,
            3.0,
            2.0,
        )
    }
    assert capsys.readouterr().out == "a plain log line\n"
