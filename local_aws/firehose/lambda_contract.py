"""The Firehose <-> Lambda transformation contract, as the local Firehose applies it.

The invocation event AWS sends for a Kinesis-source delivery stream: ``invocationId``,
``deliveryStreamArn``, ``sourceKinesisStreamArn``, ``region``, ``records`` with ``recordId``,
``approximateArrivalTimestamp`` (epoch ms), base64 ``data`` and ``kinesisRecordMetadata``.

The response is checked record by record: an input record without an answer, answered twice, with a
result other than Ok / Dropped / ProcessingFailed, or Ok without valid base64 ``data`` is a processing
failure; answers for unknown recordIds are counted; ``Dropped`` records are dropped. A response that is
not an object with a ``records`` list fails the invocation as a whole. Failed records are written in
Firehose's error-output JSON shape.

Error codes: ``Lambda.MissingRecordId``, ``Lambda.DuplicatedRecordId``, ``Lambda.ProcessingFailedStatus``
and ``Lambda.JsonProcessingException`` follow AWS; ``Lambda.InvalidRecordResult`` and
``Lambda.InvalidRecordData`` are this stand-in's own names (AWS's exact codes for those cases are not
documented).
"""

from __future__ import annotations

import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from local_aws.firehose.config import DeliveryStreamConfig
from local_aws.firehose.records import Record
from local_aws.lambda_runtime import InvocationError

RESULTS = ("Ok", "Dropped", "ProcessingFailed")


def invocation_records(records: list[Record]) -> tuple[list[str], list[dict[str, Any]]]:
    """The recordIds of a batch and its ``records`` as the invocation event lists them."""
    record_ids = [f"{r.sequence_number}{position:08d}" for position, r in enumerate(records)]
    b2a = binascii.b2a_base64
    event_records = [
        {
            "recordId": record_id,
            "approximateArrivalTimestamp": r.arrival_ms,
            "data": b2a(r.data, newline=False).decode(),
            "kinesisRecordMetadata": {
                "shardId": r.shard_id,
                "partitionKey": r.partition_key,
                "approximateArrivalTimestamp": r.arrival_ms,
                "sequenceNumber": r.sequence_number,
                "subsequenceNumber": 0,
            },
        }
        for record_id, r in zip(record_ids, records, strict=True)
    ]
    return record_ids, event_records


def invocation_event(config: DeliveryStreamConfig, event_records: list[dict[str, Any]]) -> dict[str, Any]:
    """The event of one invocation (a new ``invocationId`` per attempt, as AWS does)."""
    return {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": config.arn,
        "sourceKinesisStreamArn": config.source_stream_arn,
        "region": config.region,
        "records": [dict(r) for r in event_records],  # a handler may mutate its event
    }


@dataclass
class ProcessedBatch:
    """How one invocation's records came out."""

    ok: list[tuple[Record, bytes, Mapping[str, Any]]]  # record, data, partition keys
    dropped: list[Record]
    failed: list[tuple[Record, str, str]]  # record, errorCode, errorMessage
    unknown_ids: int = 0


def apply_response(records: list[Record], record_ids: list[str], response: Any) -> ProcessedBatch:
    """Check a processor response against the contract and sort its records.

    Raises InvocationError when the response as a whole is unusable (not an object with a ``records``
    list); everything else is judged per input record.
    """
    if not isinstance(response, dict) or not isinstance(response.get("records"), list):
        shown = type(response).__name__ if not isinstance(response, dict) else f"keys {sorted(response)[:5]}"
        raise InvocationError(
            "Lambda.JsonProcessingException",
            f"the response must be an object with a 'records' list, got {shown}",
        )
    index = {record_id: position for position, record_id in enumerate(record_ids)}
    answers: list[Any] = [None] * len(records)
    duplicated: set[int] = set()
    unknown = 0
    for answer in response["records"]:
        position = index.get(answer.get("recordId")) if isinstance(answer, dict) else None
        if position is None:
            unknown += 1
            continue
        if answers[position] is not None:
            duplicated.add(position)
        answers[position] = answer
    result = ProcessedBatch([], [], [], unknown)
    a2b = binascii.a2b_base64
    for position, record in enumerate(records):
        answer = answers[position]
        if answer is None:
            result.failed.append(
                (record, "Lambda.MissingRecordId", f"no answer for recordId {record_ids[position]}")
            )
            continue
        if position in duplicated:
            result.failed.append(
                (
                    record,
                    "Lambda.DuplicatedRecordId",
                    f"recordId {record_ids[position]} was answered more than once",
                )
            )
            continue
        status = answer.get("result")
        if status == "Ok":
            data = answer.get("data")
            try:
                if not isinstance(data, str):
                    raise ValueError(f"'data' is {type(data).__name__}, not base64 text")
                decoded = a2b(data, strict_mode=True)
            except (binascii.Error, ValueError) as exc:
                result.failed.append(
                    (record, "Lambda.InvalidRecordData", f"Ok record with invalid data: {exc}")
                )
                continue
            metadata = answer.get("metadata")
            keys = metadata.get("partitionKeys") if isinstance(metadata, dict) else None
            result.ok.append((record, decoded, keys if isinstance(keys, dict) else {}))
        elif status == "Dropped":
            result.dropped.append(record)
        elif status == "ProcessingFailed":
            result.failed.append(
                (record, "Lambda.ProcessingFailedStatus", "ProcessingFailed status returned from Lambda")
            )
        else:
            result.failed.append(
                (
                    record,
                    "Lambda.InvalidRecordResult",
                    f"result {status!r} is not one of {', '.join(RESULTS)}",
                )
            )
    return result


def error_record(
    record: Record, code: str, message: str, attempts: int, lambda_arn: str, ended_ms: int
) -> bytes:
    """One line of Firehose's error-output JSON for a record."""
    return (
        orjson.dumps(
            {
                "attemptsMade": attempts,
                "arrivalTimestamp": record.arrival_ms,
                "errorCode": code,
                "errorMessage": message,
                "attemptEndingTimestamp": ended_ms,
                "rawData": binascii.b2a_base64(record.data, newline=False).decode(),
                "lambdaArn": lambda_arn,
            }
        )
        + b"\n"
    )
