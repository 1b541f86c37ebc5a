"""The Firehose <-> Lambda contract: the processor response judged record by record, error records."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from local_aws.firehose.lambda_contract import apply_response, error_record
from local_aws.firehose.records import Record, Ticket
from local_aws.lambda_runtime import InvocationError


def records(count: int) -> tuple[list[Record], list[str]]:
    ticket = Ticket(None, "shardId-0", str(count), count, 0, False)  # type: ignore[arg-type]
    made = [Record(ticket, "shardId-0", str(n), "k", 1_000 + n, f"data-{n}".encode()) for n in range(count)]
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
