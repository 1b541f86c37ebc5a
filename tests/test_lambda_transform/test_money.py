"""Money is exact or the record is an error: a price its DECIMAL column cannot hold is never rounded or NULL.

Athena reads the row's JSON number into the column's declared DECIMAL(p,s): too many decimal places
are rounded, too many integer digits read as NULL, both silently. So the Lambda refuses such a record
(ProcessingFailed, with a reason naming the attribute, the value and the column type) and writes every
other price as its exact value.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_transform import schema
from lambda_transform.batch import transform_batch
from lambda_transform.cdc_row import checked_row, fast_row, to_cdc_row
from lambda_transform.errors import RecordRejected
from lambda_transform.handler import handler
from lambda_transform.schema import COLUMN_TYPES

from .builders import ARRIVAL_MS, firehose_event, firehose_record, order_item, row_of, stream_record

# The declared type, read here independently of the code under test.
UNIT_PRICE_TYPE = COLUMN_TYPES["unit_price"]
_declared = re.fullmatch(r"decimal\((\d+),(\d+)\)", UNIT_PRICE_TYPE)
assert _declared, UNIT_PRICE_TYPE
PRECISION, SCALE = int(_declared[1]), int(_declared[2])
PLAIN_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")  # no exponent: Athena reads it as is


def _fits(value: Decimal) -> bool:
    """Whether DECIMAL(PRECISION, SCALE) holds ``value`` exactly."""
    with localcontext() as ctx:
        ctx.prec = 400
        return value % Decimal(10) ** -SCALE == 0 and abs(value) < Decimal(10) ** (PRECISION - SCALE)


def _quantized(value: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 400
        return value.quantize(Decimal(10) ** -SCALE)


def _priced(text: str, event_name: str = "INSERT") -> dict[str, Any]:
    """A common-shape stream record whose unitPrice is ``{"N": text}`` (text as given, not re-encoded)."""
    if event_name == "REMOVE":
        record = stream_record("REMOVE", old=order_item())
        record["dynamodb"]["OldImage"]["unitPrice"] = {"N": text}
    else:
        record = stream_record(event_name, new=order_item(), old=order_item())
        record["dynamodb"]["NewImage"]["unitPrice"] = {"N": text}
    return json.loads(json.dumps(record))  # as a parser hands it over


def _price_text(line: str) -> str:
    (text,) = re.findall(r'"unit_price":([^,]*),', line)
    return text


def test_the_price_column_holds_cents_and_sixteen_integer_digits() -> None:
    assert UNIT_PRICE_TYPE == "decimal(18,2)"
    # parsed once, at import, from the declared types
    assert getattr(schema, "DECIMAL_COLUMNS", None) == {"unit_price": (18, 2)}


# (N text, reason code): legal DynamoDB numbers that DECIMAL(18,2) cannot hold exactly.
UNREPRESENTABLE = [
    ("1.005", "number_too_precise"),  # Athena rounds it to 1.01
    ("0.001", "number_too_precise"),  # Athena rounds it to 0.00
    ("-1.005", "number_too_precise"),
    ("0.0000001", "number_too_precise"),
    ("1.2345E-3", "number_too_precise"),
    ("1299.991", "number_too_precise"),
    ("12345678901234567", "number_out_of_range"),  # 17 integer digits: Athena reads NULL
    ("99999999999999999.99", "number_out_of_range"),
    ("-10000000000000000", "number_out_of_range"),
    ("1E+16", "number_out_of_range"),
    ("12345678901234567890.123456789", "number_out_of_range"),
]


@pytest.mark.parametrize(("text", "code"), UNREPRESENTABLE, ids=[t for t, _ in UNREPRESENTABLE])
def test_a_price_the_column_cannot_hold_is_an_error_on_every_path(text: str, code: str) -> None:
    record = _priced(text)

    with pytest.raises(Exception) as fast:  # noqa: PT011 - the fast path refuses in any way it likes
        fast_row(record, ARRIVAL_MS, False)
    assert not isinstance(fast.value, RecordRejected)  # it refuses; the checked path explains
    for transform in (checked_row, to_cdc_row):
        with pytest.raises(RecordRejected) as rejected:
            transform(record, ARRIVAL_MS)
        assert rejected.value.code == code
        assert "'unitPrice'" in rejected.value.detail
        assert repr(text) in rejected.value.detail
        assert UNIT_PRICE_TYPE in rejected.value.detail


@pytest.mark.parametrize("event_name", ["INSERT", "MODIFY", "REMOVE"])
@pytest.mark.parametrize(("text", "code"), UNREPRESENTABLE, ids=[t for t, _ in UNREPRESENTABLE])
def test_the_handler_answers_processing_failed_naming_attribute_value_and_type(
    text: str, code: str, event_name: str, lambda_logs: pytest.LogCaptureFixture, json_library: str
) -> None:
    good = firehose_record(stream_record(new=order_item(orderId="o-good")), record_id="good")
    bad = firehose_record(_priced(text, event_name), record_id="bad")

    response = handler(firehose_event(good, bad), None)

    answer_good, answer_bad = response["records"]
    assert answer_bad == {"recordId": "bad", "result": "ProcessingFailed"}  # never a rounded or NULL row
    assert answer_good["result"] == "Ok" and row_of(answer_good)["order_id"] == "o-good"
    logged = [json.loads(r.getMessage()) for r in lambda_logs.records if r.name == "lambda_transform"]
    (failure,) = [m for m in logged if m["message"] == "record failed"]
    assert failure["recordId"] == "bad"
    reason = failure["reason"]
    assert reason.startswith(f"{code}: ")
    assert "'unitPrice'" in reason and repr(text) in reason and UNIT_PRICE_TYPE in reason


# (N text, its exact value): what DECIMAL(18,2) holds exactly, in any form DynamoDB's N text allows.
REPRESENTABLE = [
    ("123456789012.34", Decimal("123456789012.34")),  # NULL in Athena under the old DECIMAL(12,2)
    ("12345678901.5", Decimal("12345678901.5")),  # NULL under the old DECIMAL(12,2) too
    ("9999999999999999.99", Decimal("9999999999999999.99")),  # the largest
    ("-9999999999999999.99", Decimal("-9999999999999999.99")),
    ("1E+2", Decimal(100)),
    ("1.5E-1", Decimal("0.15")),
    ("100E-2", Decimal(1)),
    ("1.50", Decimal("1.5")),
    ("1.500", Decimal("1.5")),  # trailing zeros: exact, so fine
    ("1.230000", Decimal("1.23")),
    ("-0.00", Decimal(0)),
    ("0", Decimal(0)),
    ("+5", Decimal(5)),
    (".5", Decimal("0.5")),
    ("1299.99", Decimal("1299.99")),
]


def test_a_price_the_column_holds_is_written_as_its_exact_value_on_every_path() -> None:
    for text, value in REPRESENTABLE:
        record = _priced(text)
        expected = checked_row(record, ARRIVAL_MS)
        written = _price_text(expected[0])
        assert PLAIN_JSON_NUMBER.fullmatch(written), (text, written)
        assert Decimal(written) == value, (text, written)
        assert _fits(Decimal(written)), (text, written, UNIT_PRICE_TYPE)
        assert to_cdc_row(record, ARRIVAL_MS) == expected, text
        try:
            fast = fast_row(record, ARRIVAL_MS, False)
        except (LookupError, TypeError, ValueError):
            pass  # not the common shape for the fast path: the checked path decides (above)
        else:
            assert fast == expected, text
        (answer,) = transform_batch(firehose_event(firehose_record(record))).response["records"]
        assert answer["result"] == "Ok", text
        assert row_of(answer)["unit_price"] == value, text


# N texts in every form DynamoDB accepts: plain, scientific, trailing zeros, signs, leading dot.
_coefficients = st.one_of(
    st.integers(-(10**20), 10**20), st.integers(-(10**19), 10**19).map(lambda n: n * 10**18)
)


@st.composite
def n_texts(draw: st.DrawFn) -> tuple[str, Decimal]:
    coefficient = draw(_coefficients)
    exponent = draw(st.integers(-8, 8))
    value = Decimal(f"{coefficient}E{exponent}")
    form = draw(st.sampled_from(["plain", "str", "scientific", "trailing_zeros", "plus"]))
    if form == "plain":
        text = format(value, "f")
    elif form == "str":
        text = str(value)
    elif form == "scientific":
        text = f"{coefficient}{draw(st.sampled_from('eE'))}{exponent}"
    elif form == "trailing_zeros":
        plain = format(value, "f")
        text = (plain if "." in plain else plain + ".") + "0" * draw(st.integers(1, 4))
    else:
        text = "+" + format(abs(value), "f") if value >= 0 else format(value, "f")
    return text, value


@settings(max_examples=400, deadline=None)
@given(n=n_texts(), event_name=st.sampled_from(["INSERT", "MODIFY", "REMOVE"]))
def test_any_accepted_price_is_exact_and_any_other_is_refused(
    n: tuple[str, Decimal], event_name: str
) -> None:
    text, value = n
    record = _priced(text, event_name)
    try:
        line, _ = to_cdc_row(record, ARRIVAL_MS)
    except RecordRejected as exc:
        assert not _fits(value), (text, exc.reason)
        assert exc.code in ("number_too_precise", "number_out_of_range")
        assert "'unitPrice'" in exc.detail and UNIT_PRICE_TYPE in exc.detail
        with pytest.raises(Exception):  # noqa: B017, PT011 - the fast path refuses it too
            fast_row(record, ARRIVAL_MS, False)
        return
    assert _fits(value), (text, line)
    written = _price_text(line)
    assert PLAIN_JSON_NUMBER.fullmatch(written), (text, written)
    assert Decimal(written) == _quantized(value) == value  # the exact value; never rounded
    assert line == checked_row(record, ARRIVAL_MS)[0]
