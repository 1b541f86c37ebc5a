"""The real data plane on the emulator publishes AWS's metrics, and alarms over them change state."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from local_aws.dataplane import DataPlane, format_health
from sales_cdc.settings import Settings
from test_local_aws.dataplane_helpers import Clients, wait_for
from test_local_aws.test_firehose import processors
from test_local_aws.test_firehose.test_processor_contract import deploy_function, use_processor

PERIOD = 10  # a high-resolution alarm period, so a test sees a whole period within seconds
# A one-off event is stamped with the period it happened in but may be flushed in the next one: alarms
# on events look back over a few periods (any breaching datapoint alarms) so none is missed.
EVENT_PERIODS = 3


def put_alarm(
    aws: Clients, namespace: str, metric: str, dimension: tuple[str, str], periods: int = 1, **options: Any
) -> str:
    """An alarm of PERIOD seconds over ``periods`` periods, 1 datapoint to alarm."""
    name = f"test-{metric.lower().replace('.', '-')}-{uuid.uuid4().hex[:8]}"
    aws.cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": dimension[0], "Value": dimension[1]}],
        Period=PERIOD,
        EvaluationPeriods=periods,
        DatapointsToAlarm=1,
        **options,
    )
    return name


def alarm_state(aws: Clients, name: str) -> dict[str, Any]:
    (alarm,) = aws.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm


def evaluated(plane: DataPlane, aws: Clients, name: str, at: float) -> str:
    """The alarm's state after an evaluation at ``at`` (the injectable clock of the evaluator)."""
    assert plane.alarms is not None
    plane.alarms.evaluate_once(at)
    return alarm_state(aws, name)["StateValue"]


def this_period_as_complete() -> float:
    """A moment at which the current period counts as complete: the end of the period now is in."""
    return time.time() + PERIOD


def statistic(
    aws: Clients, namespace: str, metric: str, dimension: tuple[str, str], stat: str
) -> float | None:
    points = aws.cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": dimension[0], "Value": dimension[1]}],
        StartTime=datetime.fromtimestamp(time.time() - 600, UTC),
        EndTime=datetime.fromtimestamp(time.time() + 60, UTC),
        Period=3600,
        Statistics=[stat],
    )["Datapoints"]
    return max((p[stat] for p in points), default=None)


@pytest.mark.e2e
def test_delivery_freshness_alarm_fires_while_s3_refuses_deliveries_and_clears_after(
    provisioned: Settings, aws: Clients, make_data_plane: Callable[..., DataPlane]
) -> None:
    stream = provisioned.output("DeliveryStreamName")
    dimension = ("DeliveryStreamName", stream)
    freshness = put_alarm(
        aws,
        "AWS/Firehose",
        "DeliveryToS3.DataFreshness",
        dimension,
        Statistic="Maximum",
        ComparisonOperator="GreaterThanThreshold",
        Threshold=3.0,
        TreatMissingData="ignore",  # as the template's DeliveryFreshnessAlarm
    )
    plane = make_data_plane(provisioned, status_file=None, metrics_flush_s=1.0, alarm_every_s=3600).start()
    written = 0

    def write_order() -> None:
        nonlocal written
        written += 1
        aws.dynamodb.put_item(
            TableName=provisioned.orders_table, Item={"orderId": {"S": f"freshness-{written}"}}
        )

    try:
        # The cause: the delivery stream now points at a bucket that does not exist, so every S3 put
        # fails and is retried while the records wait (Firehose does the same on AWS).
        missing_bucket = f"sales-cdc-missing-{uuid.uuid4().hex[:12]}"
        description = aws.firehose.describe_delivery_stream(DeliveryStreamName=stream)[
            "DeliveryStreamDescription"
        ]
        aws.firehose.update_destination(
            DeliveryStreamName=stream,
            CurrentDeliveryStreamVersionId=description["VersionId"],
            DestinationId=description["Destinations"][0]["DestinationId"],
            ExtendedS3DestinationUpdate={"BucketARN": f"arn:aws:s3:::{missing_bucket}"},
        )
        plane.firehose.config(refresh=True)

        def alarmed() -> bool:
            write_order()
            return evaluated(plane, aws, freshness, this_period_as_complete()) == "ALARM"

        wait_for(alarmed, 60, f"the freshness alarm; health: {format_health(plane.health())}", every=1.0)
        raised = alarm_state(aws, freshness)
        assert "NoSuchBucket" in plane.health()["firehose"]["last_error"]

        aws.s3.create_bucket(Bucket=missing_bucket)  # the cause removed: the retried puts succeed

        def cleared() -> bool:
            write_order()
            # The last complete period must lie after the recovery: evaluate at the clock's now.
            return evaluated(plane, aws, freshness, time.time()) == "OK"

        wait_for(
            cleared, 60, f"the freshness alarm to clear; health: {format_health(plane.health())}", every=1.0
        )
        cleared_state = alarm_state(aws, freshness)
    finally:
        plane.stop()

    assert raised["StateReason"].startswith("Threshold Crossed: 1 datapoint [")
    assert raised["StateReason"].endswith("] was greater than the threshold (3.0).")
    assert "was not greater than the threshold (3.0)." in cleared_state["StateReason"]
    # The other signals of the same incident, under AWS's names.
    assert statistic(aws, "AWS/Firehose", "DeliveryToS3.Success", dimension, "Minimum") == 0.0
    assert statistic(aws, "AWS/Firehose", "DeliveryToS3.Success", dimension, "Maximum") == 1.0
    assert statistic(aws, "AWS/Firehose", "DeliveryToS3.Records", dimension, "Sum") >= 1
    change_stream = ("StreamName", provisioned.output("ChangeStreamName"))
    assert statistic(aws, "AWS/Kinesis", "IncomingRecords", change_stream, "Sum") >= written
    assert statistic(aws, "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", change_stream, "SampleCount")
    pipe = ("PipeName", provisioned.output("PipeName"))
    assert statistic(aws, "AWS/EventBridge/Pipes", "Invocations", pipe, "Sum") >= 1
    assert statistic(aws, "AWS/EventBridge/Pipes", "ExecutionFailed", pipe, "Sum") == 0.0


@pytest.mark.e2e
def test_failing_records_and_a_failing_lambda_drive_the_error_alarms(
    provisioned: Settings, aws: Clients, make_data_plane: Callable[..., DataPlane]
) -> None:
    stream = provisioned.output("DeliveryStreamName")
    error_records = put_alarm(
        aws,
        "SalesCdc",
        "ErrorRecords",
        ("DeliveryStreamName", stream),
        periods=EVENT_PERIODS,
        Statistic="Sum",
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Threshold=2.0,
        TreatMissingData="notBreaching",
    )
    raiser = deploy_function(aws, f"raiser-{uuid.uuid4().hex[:8]}", f"{processors.__name__}.always_raises")
    lambda_errors = put_alarm(
        aws,
        "AWS/Lambda",
        "Errors",
        ("FunctionName", raiser.rpartition(":")[2]),
        periods=EVENT_PERIODS,
        Statistic="Sum",
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Threshold=1.0,
        TreatMissingData="notBreaching",
    )
    plane = make_data_plane(provisioned, status_file=None, metrics_flush_s=1.0, alarm_every_s=3600).start()
    try:
        # The deployed transform answers records that are not change records ProcessingFailed and
        # prints their count as an EMF line; the runtime turns it into SalesCdc ErrorRecords.
        aws.kinesis.put_records(
            StreamName=provisioned.output("ChangeStreamName"),
            Records=[{"Data": b"not a change record", "PartitionKey": str(n)} for n in range(3)],
        )
        wait_for(
            lambda: evaluated(plane, aws, error_records, this_period_as_complete()) == "ALARM",
            60,
            f"the ErrorRecords alarm; health: {format_health(plane.health())}",
        )
        assert evaluated(plane, aws, lambda_errors, this_period_as_complete()) != "ALARM"

        use_processor(aws, stream, raiser, retries=0)
        plane.firehose.config(refresh=True)
        aws.kinesis.put_records(
            StreamName=provisioned.output("ChangeStreamName"),
            Records=[{"Data": b"{}", "PartitionKey": "x"}],
        )
        wait_for(
            lambda: evaluated(plane, aws, lambda_errors, this_period_as_complete()) == "ALARM",
            60,
            f"the Lambda Errors alarm; health: {format_health(plane.health())}",
        )
        reason = alarm_state(aws, lambda_errors)["StateReason"]
    finally:
        plane.stop()

    assert reason.startswith("Threshold Crossed: 1 out of the last 3 datapoints [1.0 (")
    assert reason.endswith(
        "was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    # No more errors: a later period without data is not breaching, and both alarms return to OK.
    later = time.time() + 5 * PERIOD
    assert evaluated(plane, aws, error_records, later) == "OK"
    assert alarm_state(aws, lambda_errors)["StateValue"] == "OK"
