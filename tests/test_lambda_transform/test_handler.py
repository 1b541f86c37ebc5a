"""The handler end to end, on golden Firehose events (INSERT, MODIFY, REMOVE) and mixed batches."""

from __future__ import annotations

import base64
import json

import pytest

from lambda_transform import firehose
from lambda_transform.batch import transform_batch
from lambda_transform.handler import handler
from lambda_transform.schema import COLUMN_NAMES

from .builders import (
    FIXTURES,
    firehose_event,
    firehose_record,
    load_fixture,
    order_item,
    row_of,
    stream_record,
)

KINDS = ("insert", "modify", "remove")


@pytest.mark.parametrize("kind", KINDS)
def test_golden_event_gives_golden_response(kind: str, json_library: str) -> None:
    event = load_fixture(f"{kind}_firehose_event.json")

    response = handler(event, None)

    assert response == load_fixture(f"{kind}_expected_response.json")
    line = base64.b64decode(response["records"][0]["data"]).decode("utf-8")
    assert line == (FIXTURES / f"{kind}_expected_row.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", KINDS)
def test_golden_event_carries_the_golden_stream_record(kind: str) -> None:
    # The fixtures agree with each other: the Firehose event's data is the stream record fixture.
    event = load_fixture(f"{kind}_firehose_event.json")
    data = base64.b64decode(event["records"][0]["data"])
    assert json.loads(data) == load_fixture(f"{kind}_stream_record.json")
    assert set(event) == {"invocationId", "deliveryStreamArn", "sourceKinesisStreamArn", "region", "records"}
    assert set(event["records"][0]) == {
        "recordId",
        "approximateArrivalTimestamp",
        "data",
        "kinesisRecordMetadata",
    }


def test_golden_rows_say_what_each_change_was() -> None:
    insert, modify, remove = (json.loads((FIXTURES / f"{k}_expected_row.jsonl").read_text()) for k in KINDS)

    assert [tuple(row) for row in (insert, modify, remove)] == [COLUMN_NAMES] * 3
    assert (insert["event_name"], insert["is_deleted"], insert["status"]) == ("INSERT", False, "PLACED")
    assert (modify["event_name"], modify["is_deleted"], modify["status"]) == ("MODIFY", False, "PAID")
    # REMOVE comes from the old image, flagged deleted (the tutorials lose it).
    assert (remove["event_name"], remove["is_deleted"], remove["status"]) == ("REMOVE", True, "CANCELLED")
    assert modify["sequence_number"] == "1234567890123456789012345678901234567890"
    assert modify["event_time"] == "2026-11-18 11:07:02.500"  # fractional epoch seconds
    assert remove["arrival_time"] == "2026-11-18 11:08:05.999"
    assert json.loads(modify["extra_attributes"]) == {
        "discount": 0.10,
        "giftWrap": True,
        "note": None,
        "shipping": {"carrier": "DHL", "legs": ["AMS", "BER"], "weightKg": 2.5},
        "tags": ["b2b", "priority"],
        "thumbnail": "iVBORw0K",
    }
    assert insert["extra_attributes"] is None


def test_money_is_written_with_dynamodbs_exact_text() -> None:
    huge = "1234567890123456.78"  # the most digits DECIMAL(18,2) holds (test_money.py: beyond)
    record = stream_record(new=order_item(), encoded=False)
    record["dynamodb"]["NewImage"]["unitPrice"] = {"N": huge}

    (answer,) = handler(firehose_event(firehose_record(record)), None)["records"]

    line = base64.b64decode(answer["data"]).decode()
    assert f'"unit_price":{huge},' in line
    assert str(row_of(answer)["unit_price"]) == huge


def test_every_record_is_answered_once_in_order(json_library: str) -> None:
    good = stream_record(new=order_item())
    records = [
        firehose_record(
            good if i % 3 else b"not json", record_id=f"id-{i:03d}", arrival_ms=1_795_000_000_000 + i
        )
        for i in range(60)
    ]

    answers = handler(firehose_event(*records), None)["records"]

    assert [a["recordId"] for a in answers] == [f"id-{i:03d}" for i in range(60)]
    assert [a["result"] for a in answers] == ["ProcessingFailed" if i % 3 == 0 else "Ok" for i in range(60)]
    assert all(
        row_of(a)["arrival_time"].startswith("2026-11-18 11:06:40.") for a in answers if a["result"] == "Ok"
    )


def test_ok_answer_shape_is_the_firehose_contract() -> None:
    (answer,) = handler(firehose_event(firehose_record(stream_record(new=order_item()))), None)["records"]

    assert answer == firehose.ok_answer("r-1", answer["data"], {"dt": "2026-11-18", "hour": "11"})
    assert set(answer) == {"recordId", "result", "data", "metadata"}


def test_failed_answer_carries_no_data_firehose_keeps_the_original() -> None:
    (answer,) = handler(firehose_event(firehose_record(b"{oops")), None)["records"]

    assert answer == {"recordId": "r-1", "result": "ProcessingFailed"}


def test_partition_keys_follow_the_event_time_not_the_arrival() -> None:
    # Event at 23:59:59.900 on 2026-11-18, arriving after midnight: the row belongs to the 18th, 23h.
    record = stream_record(new=order_item(), seconds=1_795_046_399.9)
    (answer,) = handler(firehose_event(firehose_record(record, arrival_ms=1_795_046_400_300)), None)[
        "records"
    ]

    assert answer["metadata"] == {"partitionKeys": {"dt": "2026-11-18", "hour": "23"}}
    row = row_of(answer)
    assert (row["event_time"], row["arrival_time"]) == ("2026-11-18 23:59:59.900", "2026-11-19 00:00:00.300")


def test_empty_batch_gets_empty_response() -> None:
    assert handler(firehose_event(), None) == {"records": []}


def test_response_size_is_counted_as_the_runtime_serializes_it() -> None:
    records = [
        firehose_record(stream_record(new=order_item(orderId=f"o-{i}")), record_id=f"r{i}") for i in range(5)
    ]
    records.append(firehose_record(b"[]", record_id="bad"))

    outcome = transform_batch(firehose_event(*records))

    assert outcome.response_bytes == len(json.dumps(outcome.response))


def test_one_summary_line_per_invocation_and_one_line_per_failure(
    lambda_logs: pytest.LogCaptureFixture,
) -> None:
    records = [firehose_record(stream_record(new=order_item()), record_id=f"ok-{i}") for i in range(3)]
    records.insert(1, firehose_record(("raw", "***"), record_id="broken"))

    handler(firehose_event(*records), None)

    messages = [json.loads(r.getMessage()) for r in lambda_logs.records if r.name == "lambda_transform"]
    failures = [m for m in messages if m["message"] == "record failed"]
    summaries = [m for m in messages if m["message"] == "firehose transform summary"]
    assert len(messages) == 2 and len(failures) == 1 and len(summaries) == 1
    assert failures[0]["recordId"] == "broken" and failures[0]["reason"].startswith("bad_base64: ")
    summary = summaries[0]
    assert summary["records"] == 4
    assert summary["results"] == {"Ok": 3, "Dropped": 0, "ProcessingFailed": 1}
    assert summary["failure_reasons"] == {"bad_base64": 1}
    assert summary["bytes_in"] > summary["bytes_out"] > 0
    assert summary["duration_ms"] >= 0 and summary["json_library"] in ("orjson", "json")
    assert summary["invocationId"] == "8f3e5c2a-1b4d-4e6f-9a7b-2c1d0e9f8a7b"


def test_record_without_record_id_fails_the_invocation(lambda_logs: pytest.LogCaptureFixture) -> None:
    # Firehose always sends a recordId and matches answers by it: such an event cannot be answered.
    good = firehose_record(stream_record(new=order_item()))
    anonymous = firehose_record(stream_record(new=order_item()))
    del anonymous["recordId"]

    with pytest.raises(firehose.InvalidEventError, match=r"record #1 of 2 has no recordId"):
        handler(firehose_event(good, anonymous), None)
    assert any(
        r.levelname == "ERROR" and "invalid Firehose event" in r.getMessage() for r in lambda_logs.records
    )


@pytest.mark.parametrize("record_id", ["", 42, None])
def test_record_id_must_be_a_non_empty_string(record_id: object) -> None:
    record = firehose_record(stream_record(new=order_item()))
    record["recordId"] = record_id

    with pytest.raises(firehose.InvalidEventError, match="has no recordId"):
        transform_batch(firehose_event(record))


@pytest.mark.parametrize("event", [None, [], "records", {"invocationId": "x"}, {"records": {}}])
def test_an_event_that_is_not_a_firehose_event_is_refused(event: object) -> None:
    with pytest.raises(firehose.InvalidEventError, match="Firehose"):
        handler(event, None)  # type: ignore[arg-type]
