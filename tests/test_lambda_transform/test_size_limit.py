"""The response stays under Lambda's 6 MB limit: rows that do not fit are answered ProcessingFailed."""

from __future__ import annotations

import json

import pytest

from lambda_transform import firehose
from lambda_transform.batch import transform_batch
from lambda_transform.handler import handler

from .builders import firehose_event, firehose_record, order_item, row_of, stream_record


def _record(i: int, padding: int = 0, record_id: str | None = None) -> dict:
    item = order_item(orderId=f"o-{i}", **({"notes": "x" * padding} if padding else {}))
    return firehose_record(stream_record(new=item), record_id=record_id or f"id-{i:02d}")


def _serialized(response: dict) -> int:
    return len(json.dumps(response))  # what the Lambda Python runtime sends


def test_rows_beyond_the_budget_fail_with_a_reason_and_smaller_later_rows_still_fit() -> None:
    records = [_record(0), _record(1), _record(2, padding=5_000), _record(3), _record(4)]
    everything = transform_batch(firehose_event(*records), response_budget=10**9)
    full_size = everything.response_bytes
    big_row = len(everything.response["records"][2]["data"])
    budget = full_size - big_row // 2  # the big row cannot fit; the small ones can

    outcome = transform_batch(firehose_event(*records), response_budget=budget)

    answers = outcome.response["records"]
    assert [a["recordId"] for a in answers] == [f"id-{i:02d}" for i in range(5)]
    assert [a["result"] for a in answers] == ["Ok", "Ok", "ProcessingFailed", "Ok", "Ok"]
    ((record_id, reason),) = outcome.failures
    assert record_id == "id-02" and reason.startswith("response_size_limit: ")
    assert "error prefix" in reason and "BufferSizeInMBs" in reason
    assert _serialized(outcome.response) == outcome.response_bytes <= budget
    assert [row_of(a)["order_id"] for a in answers if a["result"] == "Ok"] == ["o-0", "o-1", "o-3", "o-4"]


def test_admission_is_in_input_order() -> None:
    records = [_record(i) for i in range(6)]
    sizes = transform_batch(firehose_event(*records), response_budget=10**9)
    one_ok = (
        firehose.ok_answer_bytes(0, 0)
        - firehose.failed_answer_bytes(0)
        + len(sizes.response["records"][0]["data"])
    )
    budget = sizes.response_bytes - 2 * one_ok  # room for all but two

    outcome = transform_batch(firehose_event(*records), response_budget=budget)

    assert [a["result"] for a in outcome.response["records"]] == ["Ok"] * 4 + ["ProcessingFailed"] * 2
    assert [rid for rid, _ in outcome.failures] == ["id-04", "id-05"]
    assert _serialized(outcome.response) <= budget


def test_failures_stay_in_input_order_with_size_failures_among_them() -> None:
    records = [_record(0), firehose_record(b"nope", record_id="bad-1"), _record(2, padding=3_000), _record(3)]
    roomy = transform_batch(firehose_event(*records), response_budget=10**9)
    budget = (
        roomy.response_bytes - len(roomy.response["records"][2]["data"]) // 2
    )  # the padded row cannot fit

    outcome = transform_batch(firehose_event(*records), response_budget=budget)

    assert [rid for rid, _ in outcome.failures] == ["bad-1", "id-02"]
    assert [reason.split(":")[0] for _, reason in outcome.failures] == ["not_json", "response_size_limit"]


@pytest.mark.parametrize("record_id", ['id "quoted" \\ back', "idé-ünïcode", "tab\tid"])
def test_size_is_exact_for_record_ids_that_need_escaping(record_id: str) -> None:
    records = [_record(i, record_id=f"{record_id}-{i}") for i in range(4)]
    roomy = transform_batch(firehose_event(*records), response_budget=10**9)
    budget = _serialized(roomy.response) - 1  # forces the exact, record by record, computation

    outcome = transform_batch(firehose_event(*records), response_budget=budget)

    assert [a["result"] for a in outcome.response["records"]] == ["Ok"] * 3 + ["ProcessingFailed"]
    assert outcome.response_bytes == _serialized(outcome.response) <= budget


def test_nothing_fits_everything_fails_but_every_record_is_answered() -> None:
    records = [_record(i) for i in range(3)]

    outcome = transform_batch(firehose_event(*records), response_budget=400)

    assert [a["result"] for a in outcome.response["records"]] == ["ProcessingFailed"] * 3
    assert _serialized(outcome.response) <= 400


def test_a_batch_whose_rows_exceed_six_megabytes_is_cut_at_the_real_limit() -> None:
    # Seven 700 KB items: each stream record fits Firehose's 1,000 KiB record limit, but their rows,
    # about 934 KB of base64 each, make 6.5 MB: six fit in the 6,000,000-byte budget.
    records = [_record(i, padding=700_000) for i in range(7)]

    response = handler(firehose_event(*records), None)

    size = _serialized(response)
    assert size <= firehose.RESPONSE_BUDGET_BYTES < firehose.LAMBDA_RESPONSE_LIMIT_BYTES
    results = [a["result"] for a in response["records"]]
    assert results == ["Ok"] * 6 + ["ProcessingFailed"]
    assert [a["recordId"] for a in response["records"]] == [f"id-{i:02d}" for i in range(7)]
