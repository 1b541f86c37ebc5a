"""DynamoDB JSON: the typed attribute-value format of DynamoDB Streams records, read into Python.

An attribute value is a one-key object whose key is the type descriptor::

    {"S": "text"}  {"N": "1299.99"}  {"B": "<base64>"}  {"BOOL": true}  {"NULL": true}
    {"M": {name: value, ...}}  {"L": [value, ...]}
    {"SS": ["a", "b"]}  {"NS": ["1", "2.5"]}  {"BS": ["<base64>", ...]}

Python mapping (the same as boto3's ``TypeDeserializer``): S -> ``str``, N -> ``Decimal`` (never
``float``: money must stay exact), B -> ``bytes``, BOOL -> ``bool``, NULL -> ``None``, M -> ``dict``,
L -> ``list``, SS / NS / BS -> ``set`` of ``str`` / ``Decimal`` / ``bytes``.

Two views of the same rules (the Lambda only reads DynamoDB JSON; to write it, e.g. in tests, use
boto3's ``TypeSerializer``):

- :func:`decode` / :func:`decode_item`: DynamoDB JSON -> Python values.
- :func:`to_json_text`: DynamoDB JSON -> plain JSON text with typed values, for the CDC row's
  ``extra_attributes`` column: numbers as JSON numbers whose text is DynamoDB's ``N`` text
  (exact, no float), binary as base64 strings, sets as sorted lists, map keys sorted.

Validation follows what DynamoDB itself accepts, so anything else is reported as
:class:`InvalidAttributeValue`: numbers have at most 38 significant digits and a magnitude between
1E-130 and 1E+126 (no NaN, no Infinity); sets are non-empty without duplicates; nesting is at most
32 levels deep.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from json.encoder import encode_basestring
from typing import Any

# DynamoDB's documented limits for numbers and documents.
MAX_NUMBER_DIGITS = 38
MIN_NUMBER_EXPONENT = -130  # smallest magnitude 1E-130
MAX_NUMBER_EXPONENT = 125  # largest magnitude 9.99...E+125
MAX_DEPTH = 32

TYPE_DESCRIPTORS = ("S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS")

# A plain decimal of at most 38 characters always has <= 38 digits and a magnitude inside DynamoDB's
# range, and it is already a valid JSON number: the hot path checks only this.
PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
PLAIN_DECIMAL_MAX_CHARS = 38
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
# What DynamoDB accepts as N text. Decimal() alone is too lenient: it takes spaces, underscores,
# non-ASCII digits, NaN and Infinity.
_DYNAMODB_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
# Longer texts are rejected before parsing: a 38-digit number with an exponent fits easily.
_MAX_NUMBER_CHARS = 200


class InvalidAttributeValue(ValueError):
    """An attribute value DynamoDB would never produce, or a Python value DynamoDB cannot store.

    ``code`` is a short, stable identifier of the kind of problem (used in failure reasons and
    counted in the Lambda's summary log); the message says what was seen and what to do.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _show(value: Any, limit: int = 60) -> str:
    """A short repr of a value for error messages (inputs can be megabytes long)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------------------------------
# Numbers


def check_number(text: Any) -> Decimal:
    """Validate DynamoDB ``N`` text and return its exact value.

    Raises :class:`InvalidAttributeValue` (code ``bad_number`` or ``number_out_of_range``) for text
    that is not a finite decimal, or that DynamoDB could not store.
    """
    if type(text) is not str:
        raise InvalidAttributeValue(
            "bad_number", f"N value must be a string holding a decimal number, got {_show(text)}"
        )
    if len(text) > _MAX_NUMBER_CHARS or not _DYNAMODB_NUMBER.fullmatch(text):
        raise InvalidAttributeValue(
            "bad_number",
            f"N value {_show(text)} is not a finite decimal number (NaN and Infinity are not numbers "
            "in DynamoDB); fix the producer of this record",
        )
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # the regex should make this unreachable; keep the reason clear
        raise InvalidAttributeValue("bad_number", f"N value {_show(text)} is not a decimal number") from exc
    if value:
        digits = value.as_tuple().digits
        significant = len(digits)
        while significant > 1 and digits[significant - 1] == 0:  # trailing zeros live in the exponent
            significant -= 1
        if significant > MAX_NUMBER_DIGITS:
            raise InvalidAttributeValue(
                "number_out_of_range",
                f"N value {_show(text)} has {significant} significant digits; DynamoDB keeps at most "
                f"{MAX_NUMBER_DIGITS}",
            )
        if not MIN_NUMBER_EXPONENT <= value.adjusted() <= MAX_NUMBER_EXPONENT:
            raise InvalidAttributeValue(
                "number_out_of_range",
                f"N value {_show(text)} is outside DynamoDB's range 1E-130 .. 9.99E+125",
            )
    return value


def number_json(text: Any) -> str:
    """Validate DynamoDB ``N`` text and return it as JSON number text of exactly the same value.

    The text is returned unchanged whenever it already is a JSON number (always, for what DynamoDB
    produces); forms JSON does not allow (``"+5"``, ``".5"``, ``"5."``) are rewritten exactly.
    Never goes through ``float``.
    """
    if type(text) is str and len(text) <= PLAIN_DECIMAL_MAX_CHARS and PLAIN_DECIMAL.fullmatch(text):
        return text
    value = check_number(text)
    if _JSON_NUMBER.fullmatch(text):
        return text
    return str(value)  # Decimal's str is exact and always valid JSON for a finite value


# --------------------------------------------------------------------------------------------------
# Binary


def _binary_bytes(value: Any) -> bytes:
    """The bytes of a ``B`` value: base64 text (stream records) or bytes (boto3's client form)."""
    if type(value) is str:
        try:
            return binascii.a2b_base64(value, strict_mode=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidAttributeValue(
                "bad_attribute_value", f"B value {_show(value)} is not valid base64 ({exc})"
            ) from exc
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise InvalidAttributeValue("bad_attribute_value", f"B value must be base64 text, got {_show(value)}")


def _base64(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


# --------------------------------------------------------------------------------------------------
# Shape checks shared by decode and to_json_text


def _split(attr_value: Any, depth: int) -> tuple[str, Any]:
    """The (type descriptor, value) of one attribute value at nesting level ``depth``, or
    InvalidAttributeValue (too deep, or not a one-key object)."""
    if depth > MAX_DEPTH:
        raise _too_deep(depth)
    if type(attr_value) is not dict or len(attr_value) != 1:
        raise InvalidAttributeValue(
            "bad_attribute_value",
            f"an attribute value must be an object with exactly one type descriptor key "
            f"({', '.join(TYPE_DESCRIPTORS)}), got {_show(attr_value)}",
        )
    ((tag, value),) = attr_value.items()
    return tag, value


def _unknown(tag: str) -> InvalidAttributeValue:
    return InvalidAttributeValue(
        "unknown_type",
        f"unknown DynamoDB type descriptor {_show(tag)}; expected one of {', '.join(TYPE_DESCRIPTORS)}",
    )


def _set_members(tag: str, value: Any, member_type: type) -> list[Any]:
    if type(value) is not list or not value:
        raise InvalidAttributeValue(
            "bad_attribute_value", f"{tag} value must be a non-empty list, got {_show(value)}"
        )
    for member in value:
        if type(member) is not member_type:
            raise InvalidAttributeValue(
                "bad_attribute_value", f"{tag} members must be {member_type.__name__}, got {_show(member)}"
            )
    return value


def _no_duplicates(tag: str, members: list[Any], distinct: set[Any]) -> None:
    if len(distinct) != len(members):
        raise InvalidAttributeValue(
            "bad_attribute_value", f"{tag} value {_show(members)} has duplicate members; sets cannot"
        )


# What the value of these type descriptors must be; the check itself stays inline (the hot path).
_SHAPES = {"S": "a string", "M": "an object", "L": "a list"}


def _bad_shape(tag: str, value: Any) -> InvalidAttributeValue:
    return InvalidAttributeValue(
        "bad_attribute_value", f"{tag} value must be {_SHAPES[tag]}, got {_show(value)}"
    )


def _too_deep(depth: int) -> InvalidAttributeValue:
    return InvalidAttributeValue(
        "nesting_too_deep", f"value nested deeper than DynamoDB's {MAX_DEPTH} levels (level {depth})"
    )


# --------------------------------------------------------------------------------------------------
# DynamoDB JSON -> Python


def decode(attr_value: Any, _depth: int = 1) -> Any:
    """Decode one DynamoDB attribute value (e.g. ``{"N": "1.5"}``) into its Python value.

    Raises :class:`InvalidAttributeValue` for anything DynamoDB would not produce.
    """
    tag, value = _split(attr_value, _depth)
    if tag == "S":
        if type(value) is not str:
            raise _bad_shape(tag, value)
        return value
    if tag == "N":
        return check_number(value)
    if tag == "B":
        return _binary_bytes(value)
    if tag == "BOOL":
        if type(value) is not bool:
            raise InvalidAttributeValue(
                "bad_attribute_value", f"BOOL value must be true/false, got {_show(value)}"
            )
        return value
    if tag == "NULL":
        if value is not True:
            raise InvalidAttributeValue("bad_attribute_value", f"NULL value must be true, got {_show(value)}")
        return None
    if tag == "M":
        if type(value) is not dict:
            raise _bad_shape(tag, value)
        return {name: decode(member, _depth + 1) for name, member in value.items()}
    if tag == "L":
        if type(value) is not list:
            raise _bad_shape(tag, value)
        return [decode(member, _depth + 1) for member in value]
    if tag == "SS":
        members = _set_members(tag, value, str)
        result: set[Any] = set(members)
    elif tag == "NS":
        members = _set_members(tag, value, str)
        result = {check_number(member) for member in members}
    elif tag == "BS":
        if type(value) is not list or not value:
            raise InvalidAttributeValue(
                "bad_attribute_value", f"BS value must be a non-empty list, got {_show(value)}"
            )
        members = value
        result = {_binary_bytes(member) for member in members}
    else:
        raise _unknown(tag)
    _no_duplicates(tag, members, result)
    return result


def decode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """Decode a DynamoDB item (attribute name -> attribute value) into a dict of Python values."""
    if not isinstance(item, Mapping):
        raise InvalidAttributeValue("bad_attribute_value", f"an item must be an object, got {_show(item)}")
    return {name: decode(value) for name, value in item.items()}


# --------------------------------------------------------------------------------------------------
# DynamoDB JSON -> plain JSON text (the CDC row's extra_attributes)


def to_json_text(attr_value: Any, _depth: int = 1) -> str:
    """Render one DynamoDB attribute value as compact JSON text with typed values.

    N keeps DynamoDB's text verbatim (see :func:`number_json`), B and BS become base64 strings, sets
    become lists sorted by value, map keys are sorted. Validates like :func:`decode`.
    """
    tag, value = _split(attr_value, _depth)
    if tag == "S":
        if type(value) is not str:
            raise _bad_shape(tag, value)
        return encode_basestring(value)
    if tag == "N":
        return number_json(value)
    if tag == "B":
        return '"' + _base64(_binary_bytes(value)) + '"'
    if tag == "M":
        if type(value) is not dict:
            raise _bad_shape(tag, value)
        return object_json_text(value, _depth + 1)
    if tag == "L":
        if type(value) is not list:
            raise _bad_shape(tag, value)
        return "[" + ",".join([to_json_text(member, _depth + 1) for member in value]) + "]"
    if tag in ("BOOL", "NULL", "SS", "NS", "BS"):
        # Rare types: validate through decode, then render the Python value.
        decoded = decode(attr_value, _depth)
        if tag == "BOOL":
            return "true" if decoded else "false"
        if tag == "NULL":
            return "null"
        if tag == "SS":
            return "[" + ",".join([encode_basestring(m) for m in sorted(decoded)]) + "]"
        if tag == "NS":
            texts = sorted(value, key=Decimal)
            return "[" + ",".join([number_json(t) for t in texts]) + "]"
        return "[" + ",".join(['"' + _base64(m) + '"' for m in sorted(decoded)]) + "]"
    raise _unknown(tag)


def object_json_text(attributes: Mapping[str, Any], _depth: int = 1) -> str:
    """Render a map of attribute name -> attribute value as a compact JSON object, keys sorted."""
    parts = []
    for name in sorted(attributes):
        parts.append(encode_basestring(name) + ":" + to_json_text(attributes[name], _depth))
    return "{" + ",".join(parts) + "}"
