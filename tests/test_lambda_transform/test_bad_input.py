"""Bad input: each kind is answered ProcessingFailed with a reason; the good records around it are Ok."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from lambda_transform import cdc_row
from lambda_transform.batch import transform_batch
from lambda_transform.firehose import MAX_RECORD_BYTES

from .builders import firehose_event, firehose_record, order_item, row_of, stream_record


def _with_image(mutate: Callable[[dict[str, Any]], None], event_name: str = "INSERT") -> dict[str, Any]:
    """A valid stream record whose image (DynamoDB JSON) ``mutate`` then spoils."""
    record = stream_record(event_name, new=order_item()) if event_name != "REMOVE" else None
    if record is None:
        record = stream_record("REMOVE", old=order_item())
    image = record["dynamodb"]["OldImage" if event_name == "REMOVE" else "NewImage"]
    mutate(image)
    return record


def _with(path: tuple[str, ...], value: Any, delete: bool = False) -> dict[str, Any]:
    record = stream_record(new=order_item())
    target = record
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return record


def _set(name: str, attr_value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(image: dict[str, Any]) -> None:
        image[name] = attr_value

    return mutate


def _nested_map(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"S": "bottom"}
    for _ in range(depth):
        value = {"M": {"inner": value}}
    return value


# (case id, Firehose record (built lazily), expected reason code)
BAD_RECORDS: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    ("bad base64", lambda: firehose_record(("raw", "!!not base64!!")), "bad_base64"),
    ("base64 wrong padding", lambda: firehose_record(("raw", "eyJhIjoxfQ")), "bad_base64"),
    ("not UTF-8", lambda: firehose_record(b'{"eventName": "\xff\xfe"}'), "not_utf8"),
    ("not JSON", lambda: firehose_record(b"{this is not json"), "not_json"),
    ("JSON not an object (list)", lambda: firehose_record(b"[1, 2, 3]"), "not_an_object"),
    ("JSON not an object (string)", lambda: firehose_record(b'"INSERT"'), "not_an_object"),
    ("empty data", lambda: firehose_record(("raw", "")), "empty_data"),
    (
        "missing data",
        lambda: {k: v for k, v in firehose_record(b"{}").items() if k != "data"},
        "missing_data",
    ),
    ("data not a string", lambda: {**firehose_record(b"{}"), "data": 12}, "missing_data"),
    ("oversized record", lambda: firehose_record(b" " * (MAX_RECORD_BYTES + 3) + b"{}"), "record_too_large"),
    ("JSON nested 5000 deep", lambda: firehose_record(b"[" * 5000 + b"]" * 5000), "too_deeply_nested"),
    ("missing dynamodb", lambda: _with(("dynamodb",), None, delete=True), "missing_dynamodb"),
    ("dynamodb not an object", lambda: _with(("dynamodb",), "x"), "missing_dynamodb"),
    ("INSERT without NewImage", lambda: _with(("dynamodb", "NewImage"), None, delete=True), "missing_image"),
    (
        "REMOVE without OldImage",
        lambda: stream_record("REMOVE", new=order_item()),
        "missing_image",
    ),
    ("unknown eventName", lambda: _with(("eventName",), "UPSERT"), "unknown_event_name"),
    ("missing eventName", lambda: _with(("eventName",), None, delete=True), "unknown_event_name"),
    ("missing eventID", lambda: _with(("eventID",), None, delete=True), "missing_event_id"),
    ("empty eventID", lambda: _with(("eventID",), ""), "missing_event_id"),
    ("unknown type descriptor", lambda: _with_image(_set("unitPrice", {"D": "1.0"})), "unknown_type"),
    ("unknown type in extra attribute", lambda: _with_image(_set("x", {"X": 1})), "unknown_type"),
    ("N 'abc'", lambda: _with_image(_set("unitPrice", {"N": "abc"})), "bad_number"),
    ("N 'NaN'", lambda: _with_image(_set("unitPrice", {"N": "NaN"})), "bad_number"),
    ("N 'Infinity'", lambda: _with_image(_set("unitPrice", {"N": "Infinity"})), "bad_number"),
    ("N '-Infinity' in extra", lambda: _with_image(_set("discount", {"N": "-Infinity"})), "bad_number"),
    ("N with spaces", lambda: _with_image(_set("unitPrice", {"N": " 12.5 "})), "bad_number"),
    ("N as JSON number", lambda: _with_image(_set("unitPrice", {"N": 12.5})), "bad_number"),
    ("huge number 1E+200", lambda: _with_image(_set("unitPrice", {"N": "1E+200"})), "number_out_of_range"),
    ("39 significant digits", lambda: _with_image(_set("unitPrice", {"N": "1" * 39})), "number_out_of_range"),
    (
        "quantity beyond INT",
        lambda: _with_image(_set("quantity", {"N": "99999999999"})),
        "number_out_of_range",
    ),
    ("quantity not an integer", lambda: _with_image(_set("quantity", {"N": "2.5"})), "wrong_type"),
    ("quantity as a string", lambda: _with_image(_set("quantity", {"S": "2"})), "wrong_type"),
    ("orderId as a number", lambda: _with_image(_set("orderId", {"N": "1"})), "missing_key"),
    ("customerName as a number", lambda: _with_image(_set("customerName", {"N": "1"})), "wrong_type"),
    (
        "customerName S not a string",
        lambda: _with_image(_set("customerName", {"S": 7})),
        "bad_attribute_value",
    ),
    ("missing orderId", lambda: _with_image(lambda image: image.pop("orderId")), "missing_key"),
    (
        "deeply nested maps (40 levels)",
        lambda: _with_image(_set("meta", _nested_map(40))),
        "nesting_too_deep",
    ),
    (
        "attribute with two types",
        lambda: _with_image(_set("gift", {"S": "yes", "N": "1"})),
        "bad_attribute_value",
    ),
    ("attribute not an object", lambda: _with_image(_set("status", "PAID")), "bad_attribute_value"),
    ("eventID not a string", lambda: _with(("eventID",), 12345), "missing_event_id"),
    ("bad base64 in B", lambda: _with_image(_set("thumb", {"B": "%%%"})), "bad_attribute_value"),
    ("set with duplicates", lambda: _with_image(_set("tags", {"SS": ["a", "a"]})), "bad_attribute_value"),
    ("empty set", lambda: _with_image(_set("tags", {"SS": []})), "bad_attribute_value"),
    ("BOOL not a boolean", lambda: _with_image(_set("gift", {"BOOL": "yes"})), "bad_attribute_value"),
    ("NULL not true", lambda: _with_image(_set("note", {"NULL": False})), "bad_attribute_value"),
    (
        "impossible createdAt",
        lambda: _with_image(_set("createdAt", {"S": "2026-02-30T10:00:00.000Z"})),
        "bad_timestamp",
    ),
    (
        "createdAt without zone",
        lambda: _with_image(_set("createdAt", {"S": "2026-11-18T11:06:39"})),
        "bad_timestamp",
    ),
    ("createdAt not a date", lambda: _with_image(_set("updatedAt", {"S": "yesterday"})), "bad_timestamp"),
    (
        "sequence with letters",
        lambda: _with(("dynamodb", "SequenceNumber"), "4000abc"),
        "bad_sequence_number",
    ),
    ("sequence of 41 digits", lambda: _with(("dynamodb", "SequenceNumber"), "1" * 41), "bad_sequence_number"),
    ("sequence as a number", lambda: _with(("dynamodb", "SequenceNumber"), 4000), "bad_sequence_number"),
    ("sequence of other digits", lambda: _with(("dynamodb", "SequenceNumber"), "٤٥"), "bad_sequence_number"),
    (
        "event time as text",
        lambda: _with(("dynamodb", "ApproximateCreationDateTime"), "now"),
        "bad_event_time",
    ),
    ("event time negative", lambda: _with(("dynamodb", "ApproximateCreationDateTime"), -5), "bad_event_time"),
    (
        "event time a boolean",
        lambda: _with(("dynamodb", "ApproximateCreationDateTime"), True),
        "bad_event_time",
    ),
    (
        "event time year 10000",
        lambda: _with(("dynamodb", "ApproximateCreationDateTime"), 2.6e14),
        "bad_event_time",
    ),
    (
        "arrival time not a number",
        lambda: firehose_record(stream_record(new=order_item()), arrival_ms="soon"),
        "bad_arrival_time",
    ),
]


def _as_firehose_record(built: dict[str, Any]) -> dict[str, Any]:
    return built if "recordId" in built else firehose_record(built)


@pytest.mark.parametrize(
    ("build", "code"), [(b, c) for _, b, c in BAD_RECORDS], ids=[i for i, _, _ in BAD_RECORDS]
)
def test_bad_record_fails_alone_with_its_reason(build: Callable[[], dict[str, Any]], code: str) -> None:
    good_before = firehose_record(stream_record(new=order_item(orderId="o-before")), record_id="before")
    bad = _as_firehose_record(build())
    bad["recordId"] = "bad"
    good_after = firehose_record(stream_record(new=order_item(orderId="o-after")), record_id="after")

    outcome = transform_batch(firehose_event(good_before, bad, good_after))

    before, failed, after = outcome.response["records"]
    assert failed == {"recordId": "bad", "result": "ProcessingFailed"}
    ((record_id, reason),) = outcome.failures
    assert record_id == "bad"
    assert reason.startswith(f"{code}: "), reason
    assert len(reason) > len(code) + 10  # says what was wrong, not only the code
    assert (before["result"], after["result"]) == ("Ok", "Ok")
    assert (row_of(before)["order_id"], row_of(after)["order_id"]) == ("o-before", "o-after")


def test_there_are_at_least_twenty_kinds_of_bad_input() -> None:
    assert len({code for _, _, code in BAD_RECORDS}) >= 20


def test_mixed_batch_every_bad_record_failed_every_good_record_ok(json_library: str) -> None:
    records, expected = [], []
    for i, (_, build, code) in enumerate(BAD_RECORDS):
        records.append(
            firehose_record(stream_record(new=order_item(orderId=f"o-{i}")), record_id=f"good-{i}")
        )
        expected.append(("Ok", None))
        bad = _as_firehose_record(build())
        bad["recordId"] = f"bad-{i}"
        records.append(bad)
        expected.append(("ProcessingFailed", code))

    outcome = transform_batch(firehose_event(*records))

    answers = outcome.response["records"]
    assert [a["recordId"] for a in answers] == [r["recordId"] for r in records]
    assert [a["result"] for a in answers] == [result for result, _ in expected]
    reasons = dict(outcome.failures)
    assert [rid for rid, _ in outcome.failures] == [
        r["recordId"] for r in records if r["recordId"].startswith("bad")
    ]
    for record, (result, code) in zip(records, expected, strict=True):
        if result == "Ok":
            assert row_of(answers[records.index(record)])["order_id"] == "o-" + record["recordId"][5:]
        elif json_library == "orjson" or code != "too_deeply_nested":
            assert reasons[record["recordId"]].split(":")[0] == code


def test_lone_surrogate_is_refused_by_either_parser(json_library: str) -> None:
    # A \ud800 escape is valid JSON text but not Unicode: orjson refuses to parse it, the standard
    # library parses it and the row cannot be written as UTF-8.
    record = stream_record(new=order_item(customerName="PLACEHOLDER"))
    text = json.dumps(record).replace("PLACEHOLDER", "\\ud800")

    outcome = transform_batch(firehose_event(firehose_record(text)))

    ((_, reason),) = outcome.failures
    assert reason.split(":")[0] == ("not_json" if json_library == "orjson" else "invalid_string")


def test_nan_literal_is_refused_by_either_parser(json_library: str) -> None:
    text = json.dumps(stream_record(new=order_item())).replace("1795000000", "NaN", 1)

    outcome = transform_batch(firehose_event(firehose_record(text)))

    ((_, reason),) = outcome.failures
    assert reason.split(":")[0] == ("not_json" if json_library == "orjson" else "bad_event_time")


def test_a_bug_costs_one_record_not_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(record: dict[str, Any], arrival_ms: Any) -> tuple[str, dict[str, str]]:
        if record["dynamodb"]["NewImage"]["orderId"]["S"] == "o-boom":
            raise ZeroDivisionError("a bug")
        return original(record, arrival_ms)

    original = cdc_row.checked_row
    monkeypatch.setattr(cdc_row, "fast_row", cdc_row._refuse)
    monkeypatch.setattr(cdc_row, "checked_row", broken)
    records = [
        firehose_record(stream_record(new=order_item(orderId=o)), record_id=o)
        for o in ("o-1", "o-boom", "o-3")
    ]

    outcome = transform_batch(firehose_event(*records))

    assert [a["result"] for a in outcome.response["records"]] == ["Ok", "ProcessingFailed", "Ok"]
    assert outcome.failures == [("o-boom", "internal_error: ZeroDivisionError: a bug")]
