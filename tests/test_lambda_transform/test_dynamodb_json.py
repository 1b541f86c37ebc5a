"""DynamoDB JSON: every type round-trips, numbers stay exact, and what DynamoDB never writes is refused."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_transform.dynamodb_json import (
    InvalidAttributeValue,
    check_number,
    decode,
    decode_item,
    number_json,
    to_json_text,
)

from .builders import dynamodb_item, dynamodb_json

# Decimals DynamoDB can hold: up to 38 significant digits, magnitude 1E-130 .. 9.99E+125.
decimals = st.builds(
    lambda sign, digits, exponent: Decimal((sign, tuple(int(d) for d in digits), exponent)),
    st.integers(0, 1),
    st.text("0123456789", min_size=1, max_size=38),
    st.integers(-140, 80),
).filter(lambda d: d == 0 or -130 <= d.adjusted() <= 125)
numbers = st.one_of(st.integers(-(10**37), 10**37), decimals)
leaves = st.one_of(
    st.text(),
    numbers,
    st.binary(),
    st.booleans(),
    st.none(),
    st.frozensets(st.text(), min_size=1, max_size=5),
    st.frozensets(numbers, min_size=1, max_size=5),
    st.frozensets(st.binary(), min_size=1, max_size=5),
)
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
items = st.dictionaries(st.text(min_size=1), values, max_size=8)


def _plain(value: Any) -> Any:
    """What the extra_attributes JSON holds for a Python value: sets sorted, bytes as base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, frozenset | set):
        members = sorted(value)
        return [_plain(m) for m in members]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


@settings(max_examples=250, deadline=None)
@given(values)
def test_decode_of_encode_is_the_value(value: Any) -> None:
    assert decode(dynamodb_json(value)) == value


@settings(max_examples=60, deadline=None)
@given(items)
def test_items_round_trip_through_the_wire_json(item: dict[str, Any]) -> None:
    wire = json.loads(json.dumps(dynamodb_item(item)))  # what a stream record carries

    assert decode_item(wire) == item


@settings(max_examples=40, deadline=None)
@given(items)
def test_items_round_trip_in_boto3_client_form(item: dict[str, Any]) -> None:
    assert decode_item(dynamodb_item(item, binary_as_base64=False)) == item


@settings(max_examples=200, deadline=None)
@given(values)
def test_json_text_has_typed_values_and_exact_numbers(value: Any) -> None:
    text = to_json_text(dynamodb_json(value))

    assert json.loads(text, parse_float=Decimal, parse_int=Decimal) == _plain(value)


@settings(max_examples=200, deadline=None)
@given(decimals)
def test_number_text_survives_unchanged(value: Decimal) -> None:
    text = dynamodb_json(value)["N"]

    assert number_json(text) == text
    assert Decimal(to_json_text({"N": text})) == value


def test_every_type_descriptor_decodes() -> None:
    item = {
        "s": {"S": "text"},
        "n": {"N": "12345678901234567890.123456789"},
        "b": {"B": "AAEC"},
        "t": {"BOOL": True},
        "z": {"NULL": True},
        "m": {"M": {"k": {"N": "1"}}},
        "l": {"L": [{"S": "a"}, {"N": "2"}]},
        "ss": {"SS": ["b", "a"]},
        "ns": {"NS": ["10", "9.5"]},
        "bs": {"BS": ["AQ==", "AA=="]},
    }

    assert decode_item(item) == {
        "s": "text",
        "n": Decimal("12345678901234567890.123456789"),
        "b": b"\x00\x01\x02",
        "t": True,
        "z": None,
        "m": {"k": Decimal(1)},
        "l": ["a", Decimal(2)],
        "ss": {"a", "b"},
        "ns": {Decimal("9.5"), Decimal(10)},
        "bs": {b"\x00", b"\x01"},
    }
    assert json.loads(to_json_text({"M": item}), parse_float=Decimal) == {
        "b": "AAEC",
        "bs": ["AA==", "AQ=="],
        "l": ["a", 2],
        "m": {"k": 1},
        "n": Decimal("12345678901234567890.123456789"),
        "ns": [Decimal("9.5"), 10],
        "s": "text",
        "ss": ["a", "b"],
        "t": True,
        "z": None,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1299.99", "1299.99"),
        ("-0", "-0"),
        ("1E+2", "1E+2"),
        ("+5", "5"),
        (".5", "0.5"),
        ("5.", "5"),
        ("007", "7"),
    ],
)
def test_number_json_keeps_json_numbers_and_rewrites_the_rest_exactly(text: str, expected: str) -> None:
    assert number_json(text) == expected
    assert Decimal(number_json(text)) == Decimal(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("abc", "bad_number"),
        ("NaN", "bad_number"),
        ("sNaN", "bad_number"),
        ("Infinity", "bad_number"),
        ("-inf", "bad_number"),
        ("1_000", "bad_number"),
        ("", "bad_number"),
        ("٣", "bad_number"),
        ("1" * 39, "number_out_of_range"),
        ("1E+126", "number_out_of_range"),
        ("1E-131", "number_out_of_range"),
        ("9" * 250, "bad_number"),
    ],
)
def test_numbers_dynamodb_could_not_hold_are_refused(text: str, code: str) -> None:
    with pytest.raises(InvalidAttributeValue) as raised:
        check_number(text)
    assert raised.value.code == code
    assert repr(text[:20]) in str(raised.value) or text[:20] in str(raised.value)


def test_numbers_at_dynamodbs_limits_are_kept() -> None:
    for text in ("9.9999999999999999999999999999999999999E+125", "1E-130", "1" * 38, "1" + "0" * 100):
        assert check_number(text) == Decimal(text)


@pytest.mark.parametrize(
    ("attr_value", "code"),
    [
        ({"Q": "x"}, "unknown_type"),
        ({"S": "a", "N": "1"}, "bad_attribute_value"),
        ({}, "bad_attribute_value"),
        ("plain", "bad_attribute_value"),
        ({"S": 1}, "bad_attribute_value"),
        ({"BOOL": 1}, "bad_attribute_value"),
        ({"NULL": False}, "bad_attribute_value"),
        ({"B": "***"}, "bad_attribute_value"),
        ({"M": []}, "bad_attribute_value"),
        ({"L": {}}, "bad_attribute_value"),
        ({"SS": []}, "bad_attribute_value"),
        ({"SS": ["a", "a"]}, "bad_attribute_value"),
        ({"SS": ["a", 1]}, "bad_attribute_value"),
        ({"NS": ["1", "1.0"]}, "bad_attribute_value"),
        ({"NS": ["x"]}, "bad_number"),
        ({"BS": ["AA==", "AA=="]}, "bad_attribute_value"),
    ],
)
def test_malformed_attribute_values_are_refused_by_decode_and_json_text(attr_value: Any, code: str) -> None:
    for function in (decode, to_json_text):
        with pytest.raises(InvalidAttributeValue) as raised:
            function(attr_value)
        assert raised.value.code == code


def test_nesting_deeper_than_dynamodbs_32_levels_is_refused() -> None:
    value: Any = "bottom"
    for _ in range(31):
        value = {"k": value}
    assert decode(dynamodb_json(value)) == value  # 32 levels: fine
    deep: Any = {"S": "bottom"}
    for _ in range(40):
        deep = {"M": {"k": deep}}
    for function in (decode, to_json_text):
        with pytest.raises(InvalidAttributeValue, match="32 levels"):
            function(deep)
