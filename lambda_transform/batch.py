"""One Firehose batch: parse the event, transform each record, answer each one within the size budget.

Pure (no logging, no clock): :func:`transform_batch` returns the response together with what the
handler logs, so tests and the local data plane can call it directly.
"""

from __future__ import annotations

import binascii
import gc
from dataclasses import dataclass
from typing import Any

from lambda_transform import cdc_row, firehose
from lambda_transform.errors import RecordRejected


@dataclass(slots=True)
class BatchOutcome:
    """The response for one invocation, with the figures and failures the handler logs."""

    response: dict[str, Any]
    failures: list[tuple[str, str]]  # (recordId, reason) of each ProcessingFailed answer, in order
    data_chars_in: int  # base64 characters of the records' data (that could be decoded)
    data_chars_out: int  # base64 characters of the Ok answers' data
    response_bytes: int  # the response as the Lambda runtime serializes it

    def result_counts(self) -> dict[str, int]:
        """Number of answers per result (Ok, Dropped, ProcessingFailed)."""
        failed = len(self.failures)
        return {
            firehose.RESULT_OK: len(self.response["records"]) - failed,
            firehose.RESULT_DROPPED: 0,  # a change is never dropped
            firehose.RESULT_FAILED: failed,
        }

    def reason_counts(self) -> dict[str, int]:
        """Number of failures per reason code."""
        counts: dict[str, int] = {}
        for _, reason in self.failures:
            code = reason.partition(":")[0]
            counts[code] = counts.get(code, 0) + 1
        return counts


def transform_batch(event: Any, response_budget: int = firehose.RESPONSE_BUDGET_BYTES) -> BatchOutcome:
    """Answer every record of a Firehose transformation event, in order, exactly once.

    A record that cannot be transformed is answered ProcessingFailed and its reason recorded; it
    never fails the batch. Ok answers are admitted only while the serialized response stays within
    ``response_budget`` bytes (see :mod:`lambda_transform.firehose`). Raises
    :class:`~lambda_transform.firehose.InvalidEventError` if the event itself is malformed,
    including a record without a recordId (nothing is answered then).
    """
    records = firehose.parse_event(event)
    # Each answer holds a nested dict, so the cyclic GC tracks it and rescans the growing list at
    # every collection the parsing triggers. Nothing here makes reference cycles (refcounting frees
    # every parsed record), so collection is paused for the loop and then restored.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _answer_all(records, response_budget)
    finally:
        if gc_was_enabled:
            gc.enable()


def _answer_all(records: list[Any], response_budget: int) -> BatchOutcome:
    answers: list[dict[str, Any]] = []
    failures: list[tuple[int, str, str]] = []  # (position, recordId, reason)
    # This loop runs once per record and is the Lambda's cost, so it inlines the common case of each
    # step; anything unusual goes to the step's own function (firehose.decode_data,
    # cdc_row.checked_row), which decides, with a reason.
    parse, a2b, b2a = firehose.parse_payload, binascii.a2b_base64, binascii.b2a_base64
    max_chars, fast_row, checked_row = firehose.MAX_DATA_CHARS, cdc_row.fast_row, cdc_row.checked_row
    ok = firehose.RESULT_OK
    chars_in = chars_out = id_chars = 0

    for record in records:
        try:
            record_id = record["recordId"]
        except (TypeError, KeyError, IndexError):
            record_id = None
        if type(record_id) is not str or not record_id:
            raise firehose.missing_record_id(records, record)
        id_chars += len(record_id)
        try:
            data = record.get("data")
            stream_record = raw = None
            if type(data) is str and len(data) <= max_chars:
                chars_in += len(data)
                try:
                    stream_record = parse(raw := a2b(data, strict_mode=True))
                except (ValueError, RecursionError):
                    pass
            if type(stream_record) is not dict:
                stream_record = firehose.decode_data(data)  # raises, with the reason
            arrival_ms = record.get("approximateArrivalTimestamp")
            try:
                line, partition_keys = fast_row(stream_record, arrival_ms, b"\\" not in raw)
            except Exception:
                line, partition_keys = checked_row(stream_record, arrival_ms)
            encoded = b2a(line.encode(), newline=False).decode()
            chars_out += len(encoded)
            answers.append(
                {
                    "recordId": record_id,
                    "result": ok,
                    "data": encoded,
                    "metadata": {"partitionKeys": partition_keys},
                }
            )
            continue
        except RecordRejected as exc:
            reason = exc.reason
        except UnicodeEncodeError as exc:
            reason = firehose.invalid_string_reason(exc)
        except Exception as exc:  # a bug must cost one record, not the batch
            reason = f"internal_error: {type(exc).__name__}: {exc}"
        failures.append((len(answers), record_id, reason))
        answers.append(firehose.failed_answer(record_id))

    n_failed = len(failures)
    size, chars_out = _fit_response(
        answers, len(answers) - n_failed, chars_out, id_chars, failures, response_budget
    )
    if len(failures) > n_failed:
        failures.sort()  # by position: response_size_limit failures were appended after the loop's
    return BatchOutcome(
        firehose.response(answers),
        [(record_id, reason) for _, record_id, reason in failures],
        chars_in,
        chars_out,
        size,
    )


def _fit_response(
    answers: list[dict[str, Any]],
    n_ok: int,
    chars_out: int,
    id_chars: int,
    failures: list[tuple[int, str, str]],
    budget: int,
) -> tuple[int, int]:
    """Keep the serialized response within ``budget`` bytes; return its size and the Ok data chars.

    The cost of answering every record ProcessingFailed is reserved first; then, in input order, each
    Ok answer keeps its data only if it still fits, else it becomes ProcessingFailed with reason
    ``response_size_limit`` (appended to ``failures``). Checked once per batch, after the loop: the
    limit almost never bites, so the common case is arithmetic on an upper bound (recordIds at their
    worst-case escaped length) and the returned size counts recordIds unescaped, as Firehose's are.
    """
    n = len(answers)
    ok_extra = firehose.ok_answer_bytes(0, 0) - firehose.failed_answer_bytes(0)
    fixed = firehose.envelope_bytes(n) + firehose.failed_answer_bytes(2) * n + ok_extra * n_ok + chars_out
    if fixed + firehose.MAX_ESCAPE_GROWTH * id_chars <= budget:
        return fixed + id_chars, chars_out

    reserved = firehose.envelope_bytes(n) + firehose.failed_answers_bytes([a["recordId"] for a in answers])
    size = reserved
    chars_out = 0
    for position, answer in enumerate(answers):
        if answer["result"] != firehose.RESULT_OK:
            continue
        cost = ok_extra + len(answer["data"])
        if size + cost <= budget:
            size += cost
            chars_out += len(answer["data"])
            continue
        reason = (
            f"response_size_limit: the row ({len(answer['data'])} base64 characters) does not fit in the "
            f"{budget}-byte response budget ({size} bytes used); the record goes to the error prefix "
            "with its original data: replay it from there, and keep the processor's BufferSizeInMBs at "
            "3 MB or less"
        )
        failures.append((position, answer["recordId"], reason))
        answers[position] = firehose.failed_answer(answer["recordId"])
    return size, chars_out
