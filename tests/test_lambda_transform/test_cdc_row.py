"""The CDC row: typed, exact, from the right image; the fast path writes what the checked path writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_transform import cdc_row
from lambda_transform.batch import transform_batch
from lambda_transform.cdc_row import checked_row, fast_row, to_cdc_row
from lambda_transform.errors import RecordRejected
from lambda_transform.schema import COLUMN_NAMES

from .builders import ARRIVAL_MS, firehose_event, firehose_record, order_item, row_of, stream_record


def _row(line: str) -> dict[str, Any]:
    assert line.endswith("\n")
    return json.loads(line, parse_float=Decimal)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _athena(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


moments = st.datetimes(datetime(1971, 1, 1), datetime(9998, 12, 31), timezones=st.just(UTC))
dynamo_decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d == 0 or (len(d.as_tuple().digits) <= 38 and -130 <= d.adjusted() <= 125)
)
# Prices the unit_price column (DECIMAL(18,2)) holds exactly; test_money.py covers the others.
prices = st.integers(0, 2).flatmap(
    lambda places: st.decimals(
        min_value=Decimal("-9999999999999999.99"),
        max_value=Decimal("9999999999999999.99"),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )
)
business_items = st.fixed_dictionaries(
    {
        "orderId": st.text(),
        "customerId": st.text(),
        "customerName": st.text(),
        "productId": st.text(max_size=8),
        "productName": st.text(),
        "category": st.sampled_from(["Books", "Electronics", 'Odd "quoted"', "Tab\there", "Ünïcode"]),
        "quantity": st.integers(-(2**31), 2**31 - 1),
        "unitPrice": prices,
        "status": st.sampled_from(["PLACED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED"]),
        "createdAt": moments.map(_iso),
        "updatedAt": moments.map(_iso),
    }
)
extras = st.dictionaries(
    st.sampled_from(["giftWrap", "tags", "note", "discount"]),
    st.one_of(st.booleans(), st.none(), dynamo_decimals, st.frozensets(st.text(), min_size=1, max_size=3)),
    max_size=2,
)
event_seconds = st.one_of(
    st.integers(0, 10**11 - 1),
    st.floats(0, 2.5e11, allow_nan=False).map(lambda s: round(s, 3)),
    st.integers(10**11, 253_402_300_799_999),
)


@settings(max_examples=250, deadline=None)
@given(
    item=business_items,
    extra=extras,
    event_name=st.sampled_from(["INSERT", "MODIFY", "REMOVE"]),
    seconds=event_seconds,
    arrival_ms=st.integers(0, 253_402_300_799_999),
    sequence=st.text("0123456789", min_size=1, max_size=40),
)
def test_fast_and_checked_paths_write_the_same_row(
    item: dict[str, Any], extra: dict[str, Any], event_name: str, seconds: Any, arrival_ms: int, sequence: str
) -> None:
    image = {**item, **extra}
    kwargs = {"new": image, "old": order_item()} if event_name == "MODIFY" else {}
    if event_name == "INSERT":
        kwargs = {"new": image}
    if event_name == "REMOVE":
        kwargs = {"old": image}
    record = stream_record(event_name, **kwargs, seconds=seconds, sequence=sequence)
    parsed = json.loads(json.dumps(record))  # as a parser hands it over

    expected, keys = checked_row(parsed, arrival_ms)

    for plain in (False, "\\" not in json.dumps(record, ensure_ascii=False)):
        try:
            assert fast_row(parsed, arrival_ms, plain) == (expected, keys)
        except (LookupError, TypeError, ValueError, AttributeError):
            pass  # not the common shape: the checked path decides (and did)
    assert to_cdc_row(parsed, arrival_ms) == (expected, keys)
    (answer,) = transform_batch(firehose_event(firehose_record(record, arrival_ms=arrival_ms))).response[
        "records"
    ]
    assert row_of(answer) == _row(expected)


@settings(max_examples=150, deadline=None)
@given(item=business_items, moment=moments.filter(lambda m: m.year < 5000))  # seconds below 1e11
def test_row_holds_the_item_typed_and_exact(item: dict[str, Any], moment: datetime) -> None:
    seconds = int(moment.timestamp())
    line, keys = to_cdc_row(
        json.loads(json.dumps(stream_record("INSERT", new=item, seconds=seconds))), ARRIVAL_MS
    )

    row = _row(line)
    assert tuple(row) == COLUMN_NAMES
    assert {
        column: row[column] for column in ("order_id", "customer_id", "customer_name", "product_name")
    } == {
        "order_id": item["orderId"],
        "customer_id": item["customerId"],
        "customer_name": item["customerName"],
        "product_name": item["productName"],
    }
    assert row["quantity"] == item["quantity"] and type(row["quantity"]) is int
    assert Decimal(row["unit_price"]) == item["unitPrice"]
    assert f'"unit_price":{item["unitPrice"]},' in line  # DynamoDB's text, not a float's
    assert row["created_at"] == item["createdAt"].replace("T", " ")[:23]
    assert row["event_time"] == moment.strftime("%Y-%m-%d %H:%M:%S") + ".000"
    assert keys == {"dt": moment.strftime("%Y-%m-%d"), "hour": moment.strftime("%H")}
    assert row["is_deleted"] is False and row["extra_attributes"] is None


@pytest.mark.parametrize("product_name", ["Yoga Mat", 'UltraBook 14" Laptop'])
def test_the_fast_path_is_on_and_takes_the_common_record(product_name: str) -> None:
    item = order_item(status="PAID", productName=product_name)
    text = json.dumps(stream_record("MODIFY", new=item, old=order_item()), ensure_ascii=False)
    record = json.loads(text)

    assert cdc_row.FAST_PATH_ENABLED
    assert fast_row(record, ARRIVAL_MS, "\\" not in text) == checked_row(record, ARRIVAL_MS)
    assert fast_row(record, ARRIVAL_MS, False) == checked_row(record, ARRIVAL_MS)


def test_remove_row_comes_from_the_old_image_flagged_deleted() -> None:
    old = order_item(status="DELIVERED", quantity=3)
    line, _ = to_cdc_row(stream_record("REMOVE", old=old), ARRIVAL_MS)

    row = _row(line)
    assert (row["event_name"], row["is_deleted"], row["status"], row["quantity"]) == (
        "REMOVE",
        True,
        "DELIVERED",
        3,
    )


def test_modify_row_comes_from_the_new_image() -> None:
    line, _ = to_cdc_row(
        stream_record("MODIFY", new=order_item(status="SHIPPED"), old=order_item()), ARRIVAL_MS
    )

    assert _row(line)["status"] == "SHIPPED"


@pytest.mark.parametrize(
    ("seconds", "event_time"),
    [
        (1_795_000_000, "2026-11-18 11:06:40.000"),  # epoch seconds, as the Pipe writes it
        (1_795_000_000.123, "2026-11-18 11:06:40.123"),  # fractional seconds
        (1_795_000_000.1235, "2026-11-18 11:06:40.124"),  # rounded to the millisecond
        (
            1_795_000_000_123,
            "2026-11-18 11:06:40.123",
        ),  # epoch milliseconds (Kinesis Data Streams for DynamoDB)
        (99_999_999_999, "5138-11-16 09:46:39.000"),  # just below 1e11: still seconds
        (100_000_000_000, "1973-03-03 09:46:40.000"),  # 1e11 and above: milliseconds
        (0, "1970-01-01 00:00:00.000"),
    ],
)
def test_event_time_units(seconds: Any, event_time: str) -> None:
    line, _ = to_cdc_row(stream_record(new=order_item(), seconds=seconds), ARRIVAL_MS)

    assert _row(line)["event_time"] == event_time


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-18T11:06:39.823Z", "2026-11-18 11:06:39.823"),
        ("2026-11-18T11:06:39Z", "2026-11-18 11:06:39.000"),
        ("2026-11-18T11:06:39.823456Z", "2026-11-18 11:06:39.823"),  # truncated, never rounded up
        ("2026-11-18T12:06:39.823+01:00", "2026-11-18 11:06:39.823"),  # converted to UTC
        ("2026-11-18T00:30:00.000-02:00", "2026-11-18 02:30:00.000"),
        ("2026-11-18 11:06:39.823+00:00", "2026-11-18 11:06:39.823"),
    ],
)
def test_iso_timestamps_become_athena_utc_text(stamp: str, expected: str) -> None:
    line, _ = to_cdc_row(stream_record(new=order_item(createdAt=stamp)), ARRIVAL_MS)

    assert _row(line)["created_at"] == expected


def test_offset_conversion_matches_datetime() -> None:
    moment = datetime(2026, 12, 31, 23, 30, 15, 999_000, tzinfo=timezone(timedelta(hours=-5)))
    line, _ = to_cdc_row(stream_record(new=order_item(updatedAt=moment.isoformat())), ARRIVAL_MS)

    row = _row(line)
    assert row["updated_at"] == _athena(moment) == "2027-01-01 04:30:15.999"


def test_absent_and_null_business_attributes_are_null() -> None:
    item = order_item(customerName=None, quantity=None)
    del item["productName"]

    row = _row(to_cdc_row(stream_record(new=item), ARRIVAL_MS)[0])

    assert (row["customer_name"], row["quantity"], row["product_name"]) == (None, None, None)


def test_quantity_integral_decimal_is_an_integer() -> None:
    record = stream_record(new=order_item())
    record["dynamodb"]["NewImage"]["quantity"] = {"N": "3.0"}

    assert _row(to_cdc_row(record, ARRIVAL_MS)[0])["quantity"] == 3


def test_extra_attributes_are_json_object_text_with_typed_values() -> None:
    item = order_item(
        tags={"b", "a"}, blob=b"\x00\xff", ratio=Decimal("0.333333333333333333333333333333333333")
    )

    row = _row(to_cdc_row(stream_record(new=item), ARRIVAL_MS)[0])

    assert isinstance(row["extra_attributes"], str)
    assert json.loads(row["extra_attributes"], parse_float=Decimal) == {
        "blob": "AP8=",
        "ratio": Decimal("0.333333333333333333333333333333333333"),
        "tags": ["a", "b"],
    }


def test_business_attribute_is_read_by_its_expected_type_descriptor() -> None:
    # DynamoDB never writes two descriptors in one value; the one beside the expected is not read.
    record = stream_record(new=order_item())
    record["dynamodb"]["NewImage"]["status"] = {"S": "PAID", "NULL": True}

    assert _row(to_cdc_row(record, ARRIVAL_MS)[0])["status"] == "PAID"


def test_checked_row_explains_itself() -> None:
    with pytest.raises(RecordRejected) as raised:
        checked_row(stream_record("REMOVE", new=order_item()), ARRIVAL_MS)

    assert raised.value.code == "missing_image"
    assert "REMOVE record has no OldImage" in raised.value.reason
    assert "NEW_AND_OLD_IMAGES" in raised.value.reason
