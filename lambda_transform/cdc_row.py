"""The business transformation: one DynamoDB Streams change record -> one CDC row (a JSON line).

The row has the columns of :data:`lambda_transform.schema.CDC_COLUMNS`, in that order, as one compact
JSON object terminated by a newline:

- INSERT and MODIFY rows come from ``NewImage``; a REMOVE row comes from ``OldImage`` with
  ``is_deleted`` true (the stream view type must be NEW_AND_OLD_IMAGES).
- ``unit_price`` (every ``decimal(p,s)`` column) is a JSON number of exactly DynamoDB's value, or
  the record fails: a value the column cannot hold exactly (more decimal places than s, more
  integer digits than p - s) is ``number_too_precise`` / ``number_out_of_range``, never rounded or
  NULL. Its text is DynamoDB's ``N`` text when that is plain decimal text (``"1.500"`` stays), else
  the same value in plain notation (``"1E+2"`` -> ``100``). Numbers in ``extra_attributes`` are
  DynamoDB's text, validated as finite decimals. No float ever touches them. ``quantity`` must be
  an integer that fits Athena's INT.
- ``sequence_number`` is the stream sequence number as an exact string of 1-40 digits.
- ``event_time`` / ``arrival_time`` / ``created_at`` / ``updated_at`` are UTC text
  ``YYYY-MM-DD HH:MM:SS.fff`` (see :mod:`lambda_transform.timestamps` for the units).
- item attributes that are not business columns go to ``extra_attributes`` as JSON object text
  (see :func:`lambda_transform.dynamodb_json.to_json_text`), or null when there are none.
- a business attribute that is absent, or ``{"NULL": true}``, is a JSON null; the key ``orderId``
  is required. A business attribute is read through its column's type descriptor (S or N);
  DynamoDB never writes two descriptors in one value, and one beside the expected is not looked
  at (checking would cost every record; ``extra_attributes`` values are checked in full).

Why it is written this way: this runs once per change event and is the Lambda's cost. So there are
two paths to the same row. :func:`fast_row` handles the common record (every business attribute
present with its expected type, no extra attributes, integer-second event time, canonical
timestamps) with plain subscripts and f-strings: no intermediate dict, no ``Decimal`` (a price is
checked once per distinct text and copied), no escaping when the record's JSON had no backslash,
the timestamp text of each epoch second computed once per batch. Anything else makes it raise, and
:func:`checked_row` decides, checking every value and explaining every failure. Both write the same
text for a record the fast path accepts (the tests hold them equal, and the module checks its own
fast path against the schema on import, turning it off if they disagree).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from lambda_transform import timestamps
from lambda_transform.dynamodb_json import InvalidAttributeValue, check_number, decode, to_json_text
from lambda_transform.errors import RecordRejected
from lambda_transform.schema import CDC_COLUMNS, COLUMN_NAMES, DECIMAL_COLUMNS

# The table's partition key (infra/ defines the table; this is the attribute every image carries).
KEY_ATTRIBUTE = "orderId"
MAX_SEQUENCE_DIGITS = 40  # DynamoDB Streams sequence numbers have 21 to 40 digits
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # Athena INT

_esc = encode_basestring  # C implementation: JSON string text with quotes, non-ASCII kept (UTF-8 rows)


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------------------------------
# Business-column converters: DynamoDB attribute value (or None when absent) -> JSON value text.


def _attribute_problem(attr_value: Any, name: str, expected: str) -> RecordRejected:
    """Explain why an attribute cannot fill its column (the slow path, only for bad records)."""
    try:
        decode(attr_value)
    except InvalidAttributeValue as exc:
        return RecordRejected(exc.code, f"attribute {name!r}: {exc}")
    (tag,) = attr_value
    return RecordRejected(
        "wrong_type",
        f"attribute {name!r} is {tag} {_show(attr_value[tag])} but its column needs {expected}; "
        "fix the writer of the item",
    )


def _string(attr_value: Any, name: str) -> str:
    if attr_value is None:
        return "null"
    if type(attr_value) is dict:
        text = attr_value.get("S")
        if type(text) is str:
            return _esc(text)
        if attr_value.get("NULL") is True:
            return "null"
    raise _attribute_problem(attr_value, name, "S (a string)")


def _integer(attr_value: Any, name: str) -> str:
    if attr_value is None:
        return "null"
    if type(attr_value) is dict:
        text = attr_value.get("N")
        if type(text) is str:
            # Up to 9 digits always fits INT; DynamoDB never writes leading zeros.
            if (
                0 < len(text) <= 9
                and text.isdigit()
                and text.isascii()
                and (text[0] != "0" or len(text) == 1)
            ):
                return text
            return _integer_slow(text, name)
        if attr_value.get("NULL") is True:
            return "null"
    raise _attribute_problem(attr_value, name, "N (an integer)")


def _integer_slow(text: str, name: str) -> str:
    try:
        value = check_number(text)
    except InvalidAttributeValue as exc:
        raise RecordRejected(exc.code, f"attribute {name!r}: {exc}") from None
    if value != value.to_integral_value():
        raise RecordRejected("wrong_type", f"attribute {name!r} is {text!r}, not an integer")
    number = int(value)
    if not INT_MIN <= number <= INT_MAX:
        raise RecordRejected(
            "number_out_of_range", f"attribute {name!r} is {text!r}, outside INT ({INT_MIN}..{INT_MAX})"
        )
    return str(number)


# Plain decimal text (no exponent, no '+', no bare '.'): already a JSON number, kept as written.
_PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


def _fitting_decimal_text(precision: int, scale: int) -> re.Pattern[str]:
    """Plain decimal texts that DECIMAL(precision, scale) surely holds exactly: at most
    ``precision - scale`` integer digits and ``scale`` decimal places, no exponent. (A few other
    texts fit too, e.g. ``"1.500"`` or ``"1E+2"``: the digit count of :func:`_exact_decimal` decides.)"""
    integer = "0" if precision == scale else f"(?:0|[1-9][0-9]{{0,{precision - scale - 1}}})"
    fraction = f"(?:\\.[0-9]{{1,{scale}}})?" if scale else ""
    return re.compile(f"-?{integer}{fraction}")


def _exact_decimal(text: Any, name: str, glue_type: str, precision: int, scale: int) -> str:
    """JSON text of N ``text`` if the column holds its value exactly; else RecordRejected."""
    try:
        value = check_number(text)
    except InvalidAttributeValue as exc:
        raise RecordRejected(exc.code, f"attribute {name!r}: {exc}") from None
    if value:
        _, digits, exponent = value.as_tuple()
        significant = len(digits)
        while digits[significant - 1] == 0:  # trailing zeros are exact: 1.500 fits scale 2
            significant -= 1
            exponent += 1
        places = max(0, -exponent)
        integer_digits = max(0, significant + exponent)
        if integer_digits > precision - scale:
            code = "number_out_of_range"
            problem = f"{integer_digits} integer digits, the column keeps at most {precision - scale} "
            problem += "(Athena would read NULL)"
        elif places > scale:
            code = "number_too_precise"
            problem = f"{places} decimal places, the column keeps {scale} (Athena would round it)"
        else:
            code = ""
        if code:
            raise RecordRejected(
                code,
                f"attribute {name!r} is {_show(text)}, which its column type {glue_type} cannot hold "
                f"exactly: {problem}; fix the writer of the item, or widen the column in "
                "lambda_transform/schema.py",
            )
    if _PLAIN_DECIMAL.fullmatch(text):
        return text
    return format(value, "f")  # exact: no precision given, so no rounding ('1E+2' -> '100')


def _decimal_converter(column: str, glue_type: str) -> Any:
    """The converter of a decimal column: its value exactly, or RecordRejected."""
    precision, scale = DECIMAL_COLUMNS[column]
    fits = _fitting_decimal_text(precision, scale).fullmatch

    def convert(attr_value: Any, name: str) -> str:
        if attr_value is None:
            return "null"
        if type(attr_value) is dict:
            text = attr_value.get("N")
            if text is not None:
                if type(text) is str and fits(text):
                    return text
                return _exact_decimal(text, name, glue_type, precision, scale)
            if attr_value.get("NULL") is True:
                return "null"
        raise _attribute_problem(attr_value, name, "N (a decimal number)")

    return convert


def _timestamp(attr_value: Any, name: str) -> str:
    if attr_value is None:
        return "null"
    if type(attr_value) is dict:
        text = attr_value.get("S")
        if type(text) is str:
            try:
                return '"' + timestamps.iso_timestamp(text) + '"'
            except ValueError as exc:
                raise RecordRejected("bad_timestamp", f"attribute {name!r}: {exc}") from None
        if attr_value.get("NULL") is True:
            return "null"
    raise _attribute_problem(attr_value, name, "S (an ISO-8601 timestamp)")


def _converter(column: str, glue_type: str) -> Any:
    if glue_type == "string":
        return _string
    if glue_type == "int":
        return _integer
    if glue_type.startswith("decimal"):
        return _decimal_converter(column, glue_type)
    if glue_type == "timestamp":
        return _timestamp
    raise RuntimeError(f"cdc_row has no converter for Glue type {glue_type!r}; add one to cdc_row.py")


# --------------------------------------------------------------------------------------------------
# The row template, derived from the schema.

# Event-metadata columns this module fills, in the order the schema must list them, with how each
# value is written ('"%s"' for values that are never null and need no escaping).
_METADATA_FORMATS = (
    ("event_id", "%s"),
    ("event_name", '"%s"'),
    ("sequence_number", '"%s"'),
    ("event_time", '"%s"'),
    ("arrival_time", '"%s"'),
    ("is_deleted", "%s"),
)
_EXTRA_COLUMN = "extra_attributes"


def _build_row_plan() -> tuple[str, tuple[tuple[str, Any], ...]]:
    """The %-template of a row and the (attribute, converter) of each business column, in order."""
    head = tuple(name for name, _ in _METADATA_FORMATS)
    n_head = len(head)
    business = CDC_COLUMNS[n_head:-1]
    if (
        COLUMN_NAMES[:n_head] != head
        or COLUMN_NAMES[-1] != _EXTRA_COLUMN
        or any(source is None for _, _, source in business)
    ):
        raise RuntimeError(
            "lambda_transform.schema.CDC_COLUMNS no longer has the shape cdc_row fills: "
            f"{head} first, business columns (with a DynamoDB source), then {_EXTRA_COLUMN!r} last; "
            f"got {COLUMN_NAMES}. Teach lambda_transform/cdc_row.py about the new column."
        )
    formats = [*_METADATA_FORMATS, *((name, "%s") for name, _, _ in business), (_EXTRA_COLUMN, "%s")]
    template = "{" + ",".join(_esc(name).replace("%", "%%") + ":" + fmt for name, fmt in formats) + "}\n"
    plan = tuple((source, _converter(name, glue_type)) for name, glue_type, source in business)
    return template, plan


_ROW_TEMPLATE, _BUSINESS_PLAN = _build_row_plan()
_BUSINESS_ATTRIBUTES = frozenset(source for source, _ in _BUSINESS_PLAN)


def _extra_attributes(image: dict[str, Any]) -> str:
    """JSON string text holding the JSON object of the non-business attributes, keys sorted."""
    parts = []
    for name in sorted(image.keys() - _BUSINESS_ATTRIBUTES):
        try:
            value = to_json_text(image[name])
        except InvalidAttributeValue as exc:
            raise RecordRejected(exc.code, f"attribute {name!r}: {exc}") from None
        parts.append(_esc(name) + ":" + value)
    return _esc("{" + ",".join(parts) + "}")


# --------------------------------------------------------------------------------------------------
# The fast path: the common record (every business attribute present with its expected type, no
# extra attributes, integer-second event time) read with plain subscripts. Anything unexpected makes
# it raise (KeyError, TypeError, ...) and the record goes through the checked path, which decides.
# It never returns a row the checked path would not return (a test holds them equal).

# The business attributes the fast path reads, in column order, with their Glue types.
_FAST_COLUMNS = (
    ("orderId", "string"),
    ("customerId", "string"),
    ("customerName", "string"),
    ("productId", "string"),
    ("productName", "string"),
    ("category", "string"),
    ("quantity", "int"),
    ("unitPrice", "decimal"),
    ("status", "string"),
    ("createdAt", "timestamp"),
    ("updatedAt", "timestamp"),
)
_N_BUSINESS = len(_BUSINESS_PLAN)
_SMALL_INTS = frozenset(str(n) for n in range(1000))  # quantities: membership is the whole check
# Prices come from a catalog, so the texts repeat: each distinct one is checked once (bounded).
# The check is the unit_price column's digit counts (schema.DECIMAL_COLUMNS), a regex on the text.
_valid_prices: set[str] = set()
_price_fits = _fitting_decimal_text(*DECIMAL_COLUMNS["unit_price"]).fullmatch
_seconds = timestamps.SECONDS_CACHE
_second_entry = timestamps.second_entry
_MILLIS = timestamps.MILLIS
_fromisoformat = datetime.fromisoformat
_SECONDS_LIMIT = timestamps.MILLISECONDS_THRESHOLD


def _valid_price(text: str) -> bool:
    if _price_fits(text):  # what the checked path writes unchanged (the regex bounds the length)
        if len(_valid_prices) >= 4096:
            _valid_prices.clear()
        _valid_prices.add(text)
        return True
    return False


def _parser_keys(*names: str) -> tuple[str, ...]:
    """The key strings the JSON parser hands out for these names.

    orjson returns the same cached str object for a key every time, which is not the interpreter's
    interned literal: a dict lookup with the parser's own object is an identity hit instead of a
    string comparison. Purely a speed-up; any equal string gives the same result.
    """
    try:
        from orjson import loads
    except ImportError:  # pragma: no cover - the standard library parser: literals are as good
        return names
    return tuple(loads(json.dumps(dict.fromkeys(names, 0))))


(
    _K_DYNAMODB, _K_EVENT_NAME, _K_EVENT_ID, _K_NEW_IMAGE, _K_OLD_IMAGE, _K_SEQUENCE, _K_CREATION,
    _K_ORDER_ID, _K_CUSTOMER_ID, _K_CUSTOMER_NAME, _K_PRODUCT_ID, _K_PRODUCT_NAME, _K_CATEGORY,
    _K_QUANTITY, _K_UNIT_PRICE, _K_STATUS, _K_CREATED_AT, _K_UPDATED_AT, _K_S, _K_N,
) = _parser_keys(
    "dynamodb", "eventName", "eventID", "NewImage", "OldImage", "SequenceNumber",
    "ApproximateCreationDateTime",
    "orderId", "customerId", "customerName", "productId", "productName", "category",
    "quantity", "unitPrice", "status", "createdAt", "updatedAt", "S", "N",
)  # fmt: skip


def fast_row(
    record: dict[str, Any], arrival_ms: Any, plain_strings: bool = False
) -> tuple[str, dict[str, str]]:
    """:func:`to_cdc_row` for the common record only; raises (anything) for any other record.

    ``plain_strings`` says the record's JSON text has no backslash: JSON must escape quotes,
    backslashes and control characters, so then no string holds one and each is its own JSON text.
    """
    change = record[_K_DYNAMODB]
    event_name = record[_K_EVENT_NAME]
    if event_name == "MODIFY" or event_name == "INSERT":
        image, is_deleted = change[_K_NEW_IMAGE], "false"
    elif event_name == "REMOVE":
        image, is_deleted = change[_K_OLD_IMAGE], "true"
    else:
        raise LookupError(event_name)
    sequence = change[_K_SEQUENCE]
    seconds = change[_K_CREATION]
    quantity = image[_K_QUANTITY][_K_N]
    price = image[_K_UNIT_PRICE][_K_N]
    created = image[_K_CREATED_AT][_K_S]
    updated = image[_K_UPDATED_AT][_K_S]
    event_id = record[_K_EVENT_ID]
    order_id = image[_K_ORDER_ID][_K_S]
    customer_id = image[_K_CUSTOMER_ID][_K_S]
    customer_name = image[_K_CUSTOMER_NAME][_K_S]
    product_id = image[_K_PRODUCT_ID][_K_S]
    product_name = image[_K_PRODUCT_NAME][_K_S]
    category = image[_K_CATEGORY][_K_S]
    status = image[_K_STATUS][_K_S]
    # The checks of checked_row, for this shape (timestamps: timestamps.check_canonical_iso).
    if not (
        len(image) == _N_BUSINESS  # no extra attributes: all business ones are read here
        and event_id
        and sequence.encode().isdigit()  # bytes.isdigit: ASCII digits only, and faster than str's
        and len(sequence) <= MAX_SEQUENCE_DIGITS
        and type(seconds) is int
        and 0 <= seconds < _SECONDS_LIMIT
        and type(arrival_ms) is int  # its range: second_entry checks it on a cache miss
        and quantity in _SMALL_INTS
        and (price in _valid_prices or _valid_price(price))
        and len(created) == len(updated) == 24
        and created[4:20:3] == updated[4:20:3] == "--T::."
        and created[23] == updated[23] == "Z"
    ):
        raise LookupError("not the common shape")
    _fromisoformat(created)  # the field ranges: month 13, Feb 30, hour 24 raise ValueError
    _fromisoformat(updated)
    # One C-level pass checks they are all strings (join refuses anything else).
    joined = "".join(
        (event_id, order_id, customer_id, customer_name, product_id, product_name, category, status)
    )
    if not plain_strings and not (joined.isprintable() and '"' not in joined and "\\" not in joined):
        # Rare: a string needs escaping (without its quotes: the row text adds them).
        event_id = _esc(event_id)[1:-1]
        order_id = _esc(order_id)[1:-1]
        customer_id = _esc(customer_id)[1:-1]
        customer_name = _esc(customer_name)[1:-1]
        product_id = _esc(product_id)[1:-1]
        product_name = _esc(product_name)[1:-1]
        category = _esc(category)[1:-1]
        status = _esc(status)[1:-1]
    try:
        event_time = _seconds[seconds]
        arrival = _seconds[arrival_ms // 1000]
    except KeyError:
        event_time = _seconds.get(seconds) or _second_entry(seconds)
        arrival = _seconds.get(arrival_ms // 1000) or _second_entry(arrival_ms // 1000)
    # Two f-strings: each stays under the compiler's 30-piece limit for a direct BUILD_STRING.
    head = (
        f'{{"event_id":"{event_id}","event_name":"{event_name}","sequence_number":"{sequence}",'
        f'"event_time":"{event_time[0]}.000","arrival_time":"{arrival[0]}{_MILLIS[arrival_ms % 1000]}",'
        f'"is_deleted":{is_deleted},"order_id":"{order_id}","customer_id":"{customer_id}"'
    )
    return head + (
        f',"customer_name":"{customer_name}","product_id":"{product_id}","product_name":"{product_name}",'
        f'"category":"{category}","quantity":{quantity},"unit_price":{price},"status":"{status}",'
        f'"created_at":"{created[:10]} {created[11:23]}","updated_at":"{updated[:10]} {updated[11:23]}",'
        '"extra_attributes":null}\n'
    ), event_time[1]


def _refuse(
    record: dict[str, Any], arrival_ms: Any, plain_strings: bool = False
) -> tuple[str, dict[str, str]]:
    raise LookupError("the fast path is off: the schema changed under it")


def _fast_path_matches_schema() -> bool:
    """Whether :func:`fast_row` writes what :func:`checked_row` writes, for the schema's columns."""
    business = tuple(
        (source, "decimal" if glue_type.startswith("decimal") else glue_type)
        for _, glue_type, source in CDC_COLUMNS
        if source is not None
    )
    if business != _FAST_COLUMNS:
        return False
    sample_image = {
        source: {"N": "1"} if kind in ("int", "decimal") else {"S": "2026-01-01T00:00:00.000Z"}
        for source, kind in _FAST_COLUMNS
    }
    sample = {
        "eventID": "e",
        "eventName": "INSERT",
        "dynamodb": {"NewImage": sample_image, "SequenceNumber": "1", "ApproximateCreationDateTime": 0},
    }
    line, _ = fast_row(sample, 0, True)
    return tuple(json.loads(line)) == COLUMN_NAMES and line == checked_row(sample, 0)[0]


# --------------------------------------------------------------------------------------------------


def to_cdc_row(record: dict[str, Any], arrival_ms: Any) -> tuple[str, dict[str, str]]:
    """Transform one DynamoDB Streams record (as the Pipe delivers it) into a CDC row.

    ``arrival_ms`` is the Firehose record's ``approximateArrivalTimestamp`` (epoch milliseconds).
    Returns the row as a newline-terminated JSON line and its partition keys ``{"dt", "hour"}``
    (a shared dict: read-only). Raises :class:`RecordRejected` with the reason when the record
    cannot become a row.
    """
    try:
        return fast_row(record, arrival_ms)
    except Exception:  # noqa: S110 - anything unusual: the checked path decides, with a reason
        pass
    return checked_row(record, arrival_ms)


def checked_row(record: dict[str, Any], arrival_ms: Any) -> tuple[str, dict[str, str]]:
    """:func:`to_cdc_row` without the fast path: every value checked, every failure explained."""
    event_name = record.get("eventName")
    if event_name == "INSERT" or event_name == "MODIFY":
        image_name, is_deleted = "NewImage", "false"
    elif event_name == "REMOVE":
        image_name, is_deleted = "OldImage", "true"
    else:
        raise RecordRejected(
            "unknown_event_name", f"eventName {_show(event_name)} is not INSERT, MODIFY or REMOVE"
        )
    change = record.get("dynamodb")
    if type(change) is not dict:
        raise RecordRejected("missing_dynamodb", f"the record has no 'dynamodb' object (got {_show(change)})")
    image = change.get(image_name)
    if type(image) is not dict:
        raise RecordRejected(
            "missing_image",
            f"{event_name} record has no {image_name} (got {_show(image)}); the table's stream view "
            "type must be NEW_AND_OLD_IMAGES",
        )
    event_id = record.get("eventID")
    if type(event_id) is not str or not event_id:
        raise RecordRejected("missing_event_id", f"eventID must be a non-empty string, got {_show(event_id)}")
    sequence = change.get("SequenceNumber")
    if not (
        type(sequence) is str
        and 0 < len(sequence) <= MAX_SEQUENCE_DIGITS
        and sequence.isdigit()
        and sequence.isascii()
    ):
        raise RecordRejected(
            "bad_sequence_number",
            f"SequenceNumber must be 1-{MAX_SEQUENCE_DIGITS} digits as a string, got {_show(sequence)}",
        )
    try:
        event_time, partition_keys = timestamps.event_time(change.get("ApproximateCreationDateTime"))
    except ValueError as exc:
        raise RecordRejected("bad_event_time", str(exc)) from None
    try:
        arrival_time = timestamps.arrival_time(arrival_ms)
    except ValueError as exc:
        raise RecordRejected("bad_arrival_time", str(exc)) from None
    key = image.get(KEY_ATTRIBUTE)
    if type(key) is not dict or type(key.get("S")) is not str:
        raise RecordRejected(
            "missing_key", f"{image_name} has no {KEY_ATTRIBUTE!r} string attribute (got {_show(key)})"
        )

    values = [_esc(event_id), event_name, sequence, event_time, arrival_time, is_deleted]
    for attribute, convert in _BUSINESS_PLAN:
        values.append(convert(image.get(attribute), attribute))
    values.append("null" if image.keys() <= _BUSINESS_ATTRIBUTES else _extra_attributes(image))
    return _ROW_TEMPLATE % tuple(values), partition_keys


FAST_PATH_ENABLED = _fast_path_matches_schema()
if not FAST_PATH_ENABLED:  # pragma: no cover - only after a schema change; a test fails then too
    fast_row = _refuse
