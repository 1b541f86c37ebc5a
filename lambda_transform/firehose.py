"""The Firehose data-transformation contract: the event Firehose sends, the response it expects.

Event (Kinesis Data Stream as the delivery stream's source)::

    {"invocationId": "...", "deliveryStreamArn": "arn:aws:firehose:...",
     "sourceKinesisStreamArn": "arn:aws:kinesis:...", "region": "eu-west-1",
     "records": [{"recordId": "...", "approximateArrivalTimestamp": 1795000000123,   # epoch ms
                  "data": "<base64 of the DynamoDB Streams record JSON>",
                  "kinesisRecordMetadata": {"shardId": "shardId-000000000000", "partitionKey": "...",
                                            "approximateArrivalTimestamp": 1795000000123,
                                            "sequenceNumber": "...", "subsequenceNumber": 0}}]}

Response: one answer per input record, same recordId, same order::

    {"records": [{"recordId": "...", "result": "Ok", "data": "<base64 of the row line>",
                  "metadata": {"partitionKeys": {"dt": "2026-11-21", "hour": "23"}}},
                 {"recordId": "...", "result": "ProcessingFailed"}]}

A ProcessingFailed answer carries no ``data``: Firehose writes the record's *original* data to the
error output prefix (``rawData``, with its own errorCode ``Lambda.ProcessingFailedStatus``), as the
AWS CloudWatch Logs processor blueprint relies on; echoing the input back would only spend response
bytes. ``Dropped`` is part of the contract but this Lambda never drops a change.

**Response size.** Lambda refuses a synchronous response over 6 MB; Firehose then counts the whole
invocation as failed, retries it, and finally sends *every* record of the batch to the error prefix.
To keep one oversized batch from failing all its records, the response is kept under
:data:`RESPONSE_BUDGET_BYTES` (6,000,000 bytes, below Lambda's 6,291,456-byte limit, measured as the
Python runtime serializes it, ``json.dumps`` with default separators): the cost of answering every
record ProcessingFailed is reserved first, then each Ok answer is admitted in order if it still fits;
one that does not is answered ProcessingFailed with reason ``response_size_limit`` (later, smaller
ones may still fit). Those records land in the error prefix with their original data and are replayed
from there. (AWS's own blueprint re-puts such records into the source stream instead; that needs
write access to the stream and a second delivery path, for a case that does not happen with this
data: a CDC row is smaller than the stream record it comes from, so keep the processor's
``BufferSizeInMBs`` at or below 3 MB and the output stays far below the limit.)

Firehose does not retry a ProcessingFailed record: it delivers it to the error prefix. Replaying from
there is an operator's decision (the reason is in the Lambda's log, by recordId).

**Malformed events.** A record without a non-empty string ``recordId`` cannot be answered: Firehose
matches answers by id and always sends one, so such an event is not a Firehose transformation event.
The invocation then fails with :class:`InvalidEventError` (see :func:`missing_record_id`) and
answers nothing (on AWS: retried, then the whole batch goes to the error prefix; nothing is lost or
answered under a wrong id). Answering by position would be a guess Firehose could not match.
"""

from __future__ import annotations

import binascii
import json
from json.encoder import encode_basestring_ascii
from typing import Any

from lambda_transform.errors import RecordRejected

RESULT_OK = "Ok"
RESULT_DROPPED = "Dropped"
RESULT_FAILED = "ProcessingFailed"

LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024
RESPONSE_BUDGET_BYTES = 6_000_000
# Firehose's maximum record size (1,000 KiB before base64); larger data is not a Firehose record.
MAX_RECORD_BYTES = 1_024_000
MAX_DATA_CHARS = (MAX_RECORD_BYTES + 2) // 3 * 4

_a2b_base64 = binascii.a2b_base64
_b2a_base64 = binascii.b2a_base64
_stdlib_loads = json.JSONDecoder().decode

# orjson parses a stream record in about half the standard library's time, which the throughput
# targets need (bench/bench_lambda_transform.py). The deployment package vendors it (see
# lambda_transform/requirements.txt); without it the standard library parses (same rows, slower) and
# the summary log line says which one ran.
try:
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - exercised by deployments without the vendored wheel
    _orjson_loads = None
JSON_LIBRARY = "orjson" if _orjson_loads is not None else "json"


class InvalidEventError(ValueError):
    """The event is not a Firehose data-transformation event; no record can be answered."""


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------------------------------
# Parsing


def parse_event(event: Any) -> list[Any]:
    """Validate the event envelope and return its records.

    Raises :class:`InvalidEventError` when the event is not a Firehose transformation event. Each
    record's recordId is checked as it is answered (see :func:`missing_record_id`).
    """
    if not isinstance(event, dict):
        raise InvalidEventError(
            f"a Firehose transformation event is a JSON object, got {_show(event)}; "
            "is this function wired to a Firehose delivery stream?"
        )
    records = event.get("records")
    if not isinstance(records, list):
        raise InvalidEventError(
            f"the event has no 'records' list (keys: {sorted(event)[:10]}); "
            "is this function wired to a Firehose delivery stream?"
        )
    return records


def missing_record_id(records: list[Any], record: Any) -> InvalidEventError:
    """The error for a record without a non-empty string recordId: the batch cannot be answered."""
    position = next(i for i, candidate in enumerate(records) if candidate is record)
    return InvalidEventError(
        f"record #{position} of {len(records)} has no recordId (got {_show(record)}). Firehose "
        "matches answers by recordId and always sends one, so no answer can be given: the "
        "invocation fails, and Firehose retries it, then sends the batch to the error prefix."
    )


def _stdlib_parse(raw: bytes) -> Any:
    # Explicit UTF-8: json.loads(bytes) would guess UTF-16/32 from the first bytes.
    return _stdlib_loads(raw.decode("utf-8"))


# parse_payload(bytes) -> the parsed JSON value; raises ValueError. Bound by use_json_library.
parse_payload = _orjson_loads if _orjson_loads is not None else _stdlib_parse


def decode_data(data: Any) -> dict[str, Any]:
    """Decode a record's ``data``: base64 -> UTF-8 -> JSON object (a DynamoDB Streams record).

    Raises :class:`RecordRejected` saying which step failed.
    """
    if type(data) is str and len(data) <= MAX_DATA_CHARS:
        try:
            parsed = parse_payload(_a2b_base64(data, strict_mode=True))
        except (ValueError, RecursionError):  # binascii.Error, JSONDecodeError, UnicodeDecodeError
            pass
        else:
            if type(parsed) is dict:
                return parsed
    raise _rejection(data)


def _rejection(data: Any) -> RecordRejected:
    """Why ``data`` does not decode to a JSON object: each step again, slowly, with its reason."""
    if type(data) is not str:
        return RecordRejected("missing_data", f"the record's 'data' must be base64 text, got {_show(data)}")
    if len(data) > MAX_DATA_CHARS:
        return RecordRejected(
            "record_too_large",
            f"data is {len(data)} base64 characters, above Firehose's {MAX_RECORD_BYTES}-byte record "
            "maximum; this is not a record Firehose sends",
        )
    try:
        raw = _a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        return RecordRejected("bad_base64", f"data {_show(data, 40)} is not valid base64 ({exc})")
    if not raw:
        return RecordRejected("empty_data", "data is empty; expected a DynamoDB Streams record as JSON")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordRejected(
            "not_utf8",
            f"data is not UTF-8 text ({exc.reason} at byte {exc.start}: {raw[exc.start : exc.start + 4]!r})",
        )
    try:
        parsed = parse_payload(raw)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, RecursionError) or "depth limit" in str(exc):
            return RecordRejected(
                "too_deeply_nested", f"the JSON nests deeper than the parser allows ({exc})"
            )
        return RecordRejected("not_json", f"data is not JSON ({exc}); starts with {_show(text, 40)}")
    return RecordRejected(
        "not_an_object",
        f"data is JSON {type(parsed).__name__} {_show(parsed, 40)}, "
        "expected a DynamoDB Streams record object",
    )


def use_json_library(name: str) -> None:
    """Parse payloads with ``"orjson"`` or the standard library's ``"json"`` (the default is orjson
    when it is installed). Both give the same rows; on a few invalid records the reason differs
    (orjson refuses NaN literals and lone surrogates as ``not_json``).
    """
    global JSON_LIBRARY, parse_payload
    if name not in ("orjson", "json"):
        raise ValueError(f"unknown JSON library {name!r}; use 'orjson' or 'json'")
    if name == "orjson" and _orjson_loads is None:
        raise ValueError("orjson is not installed: vendor it into the deployment package")
    JSON_LIBRARY = name
    parse_payload = _orjson_loads if name == "orjson" else _stdlib_parse


# --------------------------------------------------------------------------------------------------
# Response building


def invalid_string_reason(error: UnicodeEncodeError) -> str:
    """The reason for a row whose text cannot be UTF-8 (a lone surrogate from a JSON escape)."""
    bad = error.object[error.start : error.end]
    return f"invalid_string: a string holds {bad!r}, which is not Unicode text; fix the producer"


def ok_answer(record_id: str, data: str, partition_keys: dict[str, str]) -> dict[str, Any]:
    """The Ok answer for a record: the row's base64 and its dynamic-partitioning keys.

    (batch.transform_batch writes this literal inline, in its hot loop; a test holds them equal.)
    """
    return {
        "recordId": record_id,
        "result": RESULT_OK,
        "data": data,
        "metadata": {"partitionKeys": partition_keys},
    }


def failed_answer(record_id: str) -> dict[str, Any]:
    """The ProcessingFailed answer for a record (no data: Firehose keeps the original)."""
    return {"recordId": record_id, "result": RESULT_FAILED}


def response(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """The response object for the answers (one per input record, in input order)."""
    return {"records": answers}


# Sizes as the Lambda Python runtime serializes the response (json.dumps, default separators,
# ASCII escapes). Partition key values always have these lengths (4-digit years, 2-digit hours).
_EMPTY_RESPONSE_BYTES = len(json.dumps(response([])))
_ANSWER_SEPARATOR_BYTES = len(", ")
# The recordId's quotes are left out: record_id_bytes() counts them.
_FAILED_ANSWER_BYTES = len(json.dumps(failed_answer(""))) - 2
_OK_ANSWER_BYTES = len(json.dumps(ok_answer("", "", {"dt": "2026-01-01", "hour": "00"}))) - 2


def record_id_bytes(record_id: str) -> int:
    """Serialized size of a recordId (quotes and escapes included)."""
    return len(encode_basestring_ascii(record_id))


# A character's JSON escape is at most 6 characters (\uXXXX; a surrogate pair is 12 for 2).
MAX_ESCAPE_GROWTH = 6


def failed_answers_bytes(record_ids: list[str]) -> int:
    """Serialized size of ProcessingFailed answers for all these recordIds (without separators)."""
    # Escaping is per character, so the joined ids tell the summed length: one C-level pass.
    # Firehose's ids are letters and digits, which need no escaping at all.
    joined = "".join(record_ids)
    escaped = (
        len(joined) if joined.isascii() and joined.isalnum() else len(encode_basestring_ascii(joined)) - 2
    )
    return (_FAILED_ANSWER_BYTES + 2) * len(record_ids) + escaped


def failed_answer_bytes(record_id_size: int) -> int:
    """Serialized size of a ProcessingFailed answer, given :func:`record_id_bytes`."""
    return _FAILED_ANSWER_BYTES + record_id_size


def ok_answer_bytes(record_id_size: int, data_chars: int) -> int:
    """Serialized size of an Ok answer, given :func:`record_id_bytes` and the base64 length."""
    return _OK_ANSWER_BYTES + record_id_size + data_chars


def envelope_bytes(n_answers: int) -> int:
    """Serialized size of the response around ``n_answers`` answers (braces, key, separators)."""
    return _EMPTY_RESPONSE_BYTES + _ANSWER_SEPARATOR_BYTES * max(n_answers - 1, 0)
