"""End to end on the emulator: generated orders → DynamoDB Stream → Pipe → Kinesis → Firehose → S3."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest

from local_aws.dataplane import format_health
from sales_cdc.generator import GeneratorConfig, generate_orders
from sales_cdc.settings import Settings
from test_local_aws.dataplane_helpers import (
    Clients,
    Lake,
    event_time_text,
    missing_records,
    read_stream,
    record_key,
    timestamp_text,
    wait_for,
)

EVENTS = 5_000
# Records put straight into Kinesis that the transform must reject: not JSON, and JSON whose types
# are wrong for a DynamoDB change record.
BAD_RECORDS = [
    b"this is not json",
    b'{"eventName": 5, "dynamodb": "not an object"}',
    b'{"eventID": "x", "eventName": "INSERT", "dynamodb": {"Keys": [], "NewImage": 42}}',
]


@pytest.mark.e2e
def test_every_change_lands_in_its_partition_with_typed_values(
    provisioned: Settings, aws: Clients, lake: Lake, make_data_plane
) -> None:
    plane = make_data_plane(provisioned, status_file=None).start()
    try:
        summary = generate_orders(
            aws.dynamodb, GeneratorConfig(events=EVENTS, seed=42, table=provisioned.orders_table)
        )
        assert all(summary.writes_by_kind[kind] > 0 for kind in ("INSERT", "MODIFY", "REMOVE"))
        aws.kinesis.put_records(
            StreamName=provisioned.output("ChangeStreamName"),
            Records=[{"Data": data, "PartitionKey": f"bad-{n}"} for n, data in enumerate(BAD_RECORDS)],
        )
        truth = read_stream(aws.dynamodbstreams, provisioned.output("OrdersStreamArn"))
        assert len(truth) >= EVENTS

        def delivered() -> bool:
            firehose = plane.health()["firehose"]
            return firehose["rows_delivered"] >= len(truth) and firehose["records_failed"] >= len(BAD_RECORDS)

        wait_for(delivered, 150, f"{len(truth)} rows in S3; health: {format_health(plane.health())}")
        health = plane.health()
    finally:
        plane.stop()

    assert health["pipe"]["errors"] == 0 and health["firehose"]["errors"] == 0, format_health(health)
    rows = lake.rows_by_event(provisioned.raw_cdc_prefix)
    missing = missing_records(truth, lake, provisioned.raw_cdc_prefix)
    assert not missing, f"{len(missing)} stream records are not in S3, e.g. {missing[:5]}"
    truth_by_key = {record_key(r): r for r in truth}
    assert set(rows) <= set(truth_by_key), "S3 holds rows for records the stream never had"

    for key_of_record, copies in rows.items():
        record = truth_by_key[key_of_record]
        event_time = event_time_text(record)
        image = record["dynamodb"]["NewImage" if record["eventName"] != "REMOVE" else "OldImage"]
        for key, row in copies:
            # The Hive partition of the object is the event's UTC date and hour.
            assert f"dt={event_time[:10]}/hour={event_time[11:13]}/" in key, (key, event_time)
            assert key.endswith(".gz") and "/sales-cdc-cdc-to-s3-" in key
            assert row["event_id"] == record["eventID"]
            assert row["event_name"] == record["eventName"]
            assert row["event_time"] == event_time
            assert row["is_deleted"] is (record["eventName"] == "REMOVE")
            assert row["order_id"] == image["orderId"]["S"]
            assert row["status"] == image["status"]["S"]
            assert type(row["quantity"]) is int and row["quantity"] == int(image["quantity"]["N"])
            assert isinstance(row["unit_price"], Decimal) and row["unit_price"] == Decimal(
                image["unitPrice"]["N"]
            )
            assert row["created_at"] == timestamp_text(image["createdAt"]["S"])

    errors = [
        json.loads(line)
        for obj in lake.objects(provisioned.error_prefix + "processing-failed/")
        for line in obj.lines
        if line.strip()
    ]
    failed_payloads = {base64.b64decode(error["rawData"]) for error in errors}
    assert set(BAD_RECORDS) <= failed_payloads
    for error in errors:
        assert error["errorCode"] == "Lambda.ProcessingFailedStatus"
        assert error["lambdaArn"] == provisioned.output("TransformFunctionArn")
        assert set(error) == {
            "attemptsMade",
            "arrivalTimestamp",
            "errorCode",
            "errorMessage",
            "attemptEndingTimestamp",
            "rawData",
            "lambdaArn",
        }
    error_keys = [obj.key for obj in lake.objects(provisioned.error_prefix)]
    assert all("/processing-failed/dt=" in key for key in error_keys), error_keys
