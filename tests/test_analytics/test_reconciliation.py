"""Unit tests of the reconciliation comparison: every column, exact numbers, timestamps, nulls, extra and
missing orders, and failed changes read from Firehose error records (no emulator needed)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlglot
from boto3.dynamodb.types import TypeSerializer

from lambda_transform.schema import CDC_COLUMNS
from local_aws.firehose.lambda_contract import error_record
from local_aws.firehose.records import Record
from sales_cdc.analytics.failed_changes import FailedChanges, failed_change
from sales_cdc.analytics.queries import render
from sales_cdc.analytics.reconciliation import (
    BUSINESS_COLUMN_NAMES,
    BUSINESS_COLUMNS,
    SEQUENCE_COLUMN,
    compare_orders,
    normalise,
)

_serializer = TypeSerializer()


def item(order_id: str = "o1", **changes: Any) -> dict[str, Any]:
    """A DynamoDB item as a consistent scan returns it (numbers as Decimal)."""
    base = {
        "orderId": order_id,
        "customerId": "c-1",
        "customerName": "Ann Lee",
        "productId": "p-1",
        "productName": "Phone X",
        "category": "Phones",
        "quantity": Decimal("2"),
        "unitPrice": Decimal("199.99"),
        "status": "PAID",
        "createdAt": "2026-11-21T09:00:00.000Z",
        "updatedAt": "2026-11-21T10:30:15.250Z",
    }
    return {**base, **changes}


def row(order_id: str = "o1", sequence: str = "100", **changes: Any) -> dict[str, Any]:
    """The orders_current row of :func:`item` as the engine returns it."""
    base = {
        "order_id": order_id,
        "customer_id": "c-1",
        "customer_name": "Ann Lee",
        "product_id": "p-1",
        "product_name": "Phone X",
        "category": "Phones",
        "quantity": 2,
        "unit_price": Decimal("199.99"),
        "status": "PAID",
        "created_at": datetime(2026, 11, 21, 9, 0, 0),
        "updated_at": datetime(2026, 11, 21, 10, 30, 15, 250000),
        SEQUENCE_COLUMN: sequence,
    }
    return {**base, **changes}


def differences(dynamodb_item: dict[str, Any], lake_row: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{column: (dynamodb, lake)} of one order that is on both sides."""
    report = compare_orders({"o1": dynamodb_item}, {"o1": lake_row})
    assert report.missing == [] and report.extra == []
    if report.ok:
        return {}
    (order,) = report.diverged
    return {d.column: (d.dynamodb, d.lake) for d in order.differences}


# ------------------------------------------------------------------------------------ columns


def test_the_compared_columns_are_every_business_column_of_the_schema() -> None:
    assert BUSINESS_COLUMN_NAMES == tuple(name for name, _, source in CDC_COLUMNS if source is not None)
    assert set(BUSINESS_COLUMN_NAMES) >= {
        "order_id", "customer_id", "customer_name", "product_id", "product_name", "category",
        "quantity", "unit_price", "status", "created_at", "updated_at",
    }  # fmt: skip
    # The lake's query selects exactly those columns and the sequence number of each row's change.
    sql = render("orders_current_state", database="sales_cdc", table="orders_current")
    selected = [column.alias_or_name for column in sqlglot.parse_one(str(sql), read="trino").selects]
    assert selected == [*BUSINESS_COLUMN_NAMES, SEQUENCE_COLUMN]


def test_equal_item_and_row_reconcile() -> None:
    report = compare_orders({"o1": item()}, {"o1": row()})
    assert report.ok and report.mismatches == 0
    assert report.describe().endswith("0 mismatches")


# A different, valid value for every business attribute, and how the report shows both sides.
OTHER_VALUES = {
    "orderId": None,  # the key: tested as missing/extra orders below
    "customerId": ("c-2", "'c-2'", "'c-1'"),
    "customerName": ("Ann B. Lee", "'Ann B. Lee'", "'Ann Lee'"),
    "productId": ("p-2", "'p-2'", "'p-1'"),
    "productName": ("Phone Y", "'Phone Y'", "'Phone X'"),
    "category": ("Tablets", "'Tablets'", "'Phones'"),
    "quantity": (Decimal("3"), "3", "2"),
    "unitPrice": (Decimal("199.98"), "199.98", "199.99"),
    "status": ("SHIPPED", "'SHIPPED'", "'PAID'"),
    "createdAt": ("2026-11-21T09:00:00.001Z", "2026-11-21 09:00:00.001", "2026-11-21 09:00:00.000"),
    "updatedAt": ("2026-11-22T10:30:15.250Z", "2026-11-22 10:30:15.250", "2026-11-21 10:30:15.250"),
}


@pytest.mark.parametrize(("column", "attribute"), [(name, source) for name, _, source in BUSINESS_COLUMNS])
def test_a_difference_in_any_business_column_is_named_with_both_values(column: str, attribute: str) -> None:
    assert attribute in OTHER_VALUES, f"add a different value of {attribute!r} to OTHER_VALUES"
    if OTHER_VALUES[attribute] is None:
        return
    value, dynamodb_shown, lake_shown = OTHER_VALUES[attribute]
    assert differences(item(**{attribute: value}), row()) == {column: (dynamodb_shown, lake_shown)}


def test_the_description_names_the_order_and_its_differing_columns() -> None:
    report = compare_orders({"o1": item(quantity=Decimal("3"), status="SHIPPED")}, {"o1": row()})
    assert not report.ok and report.mismatches == 1
    assert (
        "order o1: quantity dynamodb 3, lake 2, status dynamodb 'SHIPPED', lake 'PAID'" in report.describe()
    )
    (order,) = report.diverged
    assert order.kind == "differs"
    assert order.as_json()["columns"] == {
        "quantity": {"dynamodb": "3", "lake": "2"},
        "status": {"dynamodb": "'SHIPPED'", "lake": "'PAID'"},
    }


# ------------------------------------------------------------------------------------ values


def test_decimals_compare_by_exact_value() -> None:
    assert differences(item(unitPrice=Decimal("199.990")), row()) == {}  # same value, other scale
    assert differences(item(unitPrice=Decimal("1.5")), row(unit_price=Decimal("1.50"))) == {}
    assert differences(item(quantity=Decimal("2.0")), row()) == {}
    # What a lake column could not hold: rounded or out of range in the lake, exact in DynamoDB.
    assert differences(item(unitPrice=Decimal("1.005")), row(unit_price=Decimal("1.00"))) == {
        "unit_price": ("1.005", "1.00")
    }
    assert differences(item(unitPrice=Decimal("12345678901234567")), row()) == {
        "unit_price": ("12345678901234567", "199.99")
    }
    # A fractional quantity is not the integer it rounds to.
    assert differences(item(quantity=Decimal("2.5")), row()) == {"quantity": ("2.5", "2")}


def test_values_of_the_wrong_type_never_equal_the_lake() -> None:
    assert differences(item(quantity="three"), row()) == {"quantity": ("'three'", "2")}
    assert differences(item(quantity="2"), row()) == {"quantity": ("'2'", "2")}  # a string, not 2
    assert differences(item(quantity=True), row(quantity=1)) == {"quantity": ("bool True", "1")}
    assert differences(item(unitPrice="199.99"), row()) == {"unit_price": ("'199.99'", "199.99")}
    assert differences(item(status=Decimal("1")), row()) == {"status": ("1", "'PAID'")}


def test_timestamps_compare_as_utc_milliseconds_the_way_the_lambda_writes_them() -> None:
    # Microseconds are truncated to milliseconds, offsets converted to UTC, as the Lambda does.
    assert differences(item(updatedAt="2026-11-21T10:30:15.250999Z"), row()) == {}
    assert differences(item(updatedAt="2026-11-21T11:30:15.250+01:00"), row()) == {}
    assert differences(item(createdAt="2026-11-21T09:00:00Z"), row()) == {}
    # The engine may return aware datetimes or text: the same instant is equal.
    aware = datetime(2026, 11, 21, 11, 30, 15, 250000, tzinfo=timezone(timedelta(hours=1)))
    assert differences(item(), row(updated_at=aware)) == {}
    assert differences(item(), row(updated_at="2026-11-21 10:30:15.250")) == {}
    # One millisecond apart is a difference; text the Lambda rejects (no time zone) never matches.
    assert differences(item(updatedAt="2026-11-21T10:30:15.251Z"), row()) == {
        "updated_at": ("2026-11-21 10:30:15.251", "2026-11-21 10:30:15.250")
    }
    assert differences(item(createdAt="2026-11-21T09:00:00"), row()) == {
        "created_at": ("'2026-11-21T09:00:00'", "2026-11-21 09:00:00.000")
    }
    assert (
        normalise("timestamp", datetime(2026, 1, 2, 3, 4, 5, 6789, tzinfo=UTC)) == "2026-01-02 03:04:05.006"
    )


def test_an_absent_attribute_and_null_both_equal_a_null_column() -> None:
    absent = item()
    del absent["customerName"]
    assert differences(absent, row(customer_name=None)) == {}
    assert differences(item(customerName=None), row(customer_name=None)) == {}  # DynamoDB NULL
    assert differences(absent, row()) == {"customer_name": ("null", "'Ann Lee'")}
    assert differences(item(), row(customer_name=None)) == {"customer_name": ("'Ann Lee'", "null")}
    assert differences(item(customerName=""), row(customer_name=None)) == {"customer_name": ("''", "null")}


def test_unknown_column_types_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="array<string>.*normalise"):
        normalise("array<string>", ["a"])


# ------------------------------------------------------------------------------------ orders


def test_missing_and_extra_orders_are_named_and_counted() -> None:
    report = compare_orders(
        {"o1": item("o1"), "o2": item("o2"), "o4": item("o4", status="RETURNED")},
        {"o1": row("o1"), "o3": row("o3"), "o4": row("o4")},
    )
    assert (report.missing, report.extra) == (["o2"], ["o3"])
    assert [(o.order_id, o.kind) for o in report.diverged] == [
        ("o2", "missing"),
        ("o3", "extra"),
        ("o4", "differs"),
    ]
    assert (report.dynamodb_orders, report.lake_orders, report.mismatches) == (3, 3, 3)
    text = report.describe()
    assert "order o2: missing from orders_current" in text
    assert "order o3: in orders_current but not in DynamoDB" in text
    assert "order o4: status dynamodb 'RETURNED', lake 'PAID'" in text
    assert "and 1 more" in report.describe(limit=2)


# ------------------------------------------------------------------------------------ failed changes


def stream_record(order_id: str, sequence: int, event_name: str = "MODIFY", **changes: Any) -> dict[str, Any]:
    """A DynamoDB stream record as the Pipe delivers it to Kinesis."""
    image = {name: _serializer.serialize(value) for name, value in item(order_id, **changes).items()}
    return {
        "eventID": f"e-{order_id}-{sequence}",
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_000_000,
            "Keys": {"orderId": {"S": order_id}},
            "OldImage" if event_name == "REMOVE" else "NewImage": image,
            "SequenceNumber": str(sequence),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


def error_line(data: bytes, code: str = "Lambda.ProcessingFailedStatus") -> bytes:
    """One line of Firehose's error output for a record, written by the local Firehose's own writer."""
    record = Record(None, "shardId-000000000000", "49", "pk", 1_795_000_001_000, data)  # type: ignore[arg-type]
    return error_record(record, code, "ProcessingFailed status returned from Lambda", 1, "arn:lambda", 0)


def failures(*lines: bytes) -> FailedChanges:
    found = FailedChanges()
    for line in lines:
        found.records += 1
        change = failed_change(line, "errors/orders_cdc/processing-failed/dt=2026-11-21/obj")
        if change is None:
            found.unattributed += 1
        else:
            found.add(change)
    return found


def test_an_error_record_gives_the_order_the_change_and_the_transforms_reason() -> None:
    line = error_line(json.dumps(stream_record("o7", 120, quantity="three")).encode())
    change = failed_change(line, "errors/x")
    assert change is not None
    assert (change.order_id, change.sequence_number, change.event_name) == ("o7", "120", "MODIFY")
    assert change.error_code == "Lambda.ProcessingFailedStatus"
    assert change.transform_reason is not None and change.transform_reason.startswith(
        "wrong_type: attribute 'quantity' is S 'three'"
    )
    assert "ProcessingFailed status returned from Lambda" in change.reason and "wrong_type" in change.reason
    price = failed_change(
        error_line(json.dumps(stream_record("o8", 5, unitPrice=Decimal("1.005"))).encode()), "k"
    )
    assert price is not None and price.transform_reason is not None
    assert price.transform_reason.startswith("number_too_precise: attribute 'unitPrice' is '1.005'")
    # A record the transform accepts failed for another reason (e.g. delivery): Firehose's own words.
    other = failed_change(error_line(json.dumps(stream_record("o9", 6)).encode(), "S3.AccessDenied"), "k")
    assert other is not None and other.transform_reason is None
    assert other.reason == "S3.AccessDenied: ProcessingFailed status returned from Lambda"


def test_error_records_that_name_no_change_are_counted_not_attributed() -> None:
    found = failures(
        error_line(b"this is not json"),
        error_line(b"{}"),
        error_line(json.dumps({"dynamodb": {"Keys": {"orderId": {"S": "o1"}}}}).encode()),  # no sequence
        b"not an error record",
    )
    assert (found.records, found.unattributed, found.latest) == (4, 4, {})


def test_an_order_whose_newest_change_failed_is_diverged_with_the_reason() -> None:
    found = failures(
        error_line(json.dumps(stream_record("o1", 90, quantity="two")).encode()),  # older than the row
        error_line(json.dumps(stream_record("o1", 150, quantity="three")).encode()),
        error_line(json.dumps(stream_record("o1", 140, quantity="four")).encode()),
    )
    assert found.latest["o1"].sequence_number == "150"  # the newest failure of the order
    report = compare_orders({"o1": item(quantity="three")}, {"o1": row(sequence="100")}, found)
    (order,) = report.diverged
    assert order.failed_change is found.latest["o1"] and order.kind == "differs"
    text = report.describe()
    assert "order o1: quantity dynamodb 'three', lake 2" in text
    assert "(MODIFY, sequence 150) went to the error prefix" in text
    assert "wrong_type: attribute 'quantity' is S 'three'" in text
    assert order.as_json()["failed_change"]["transform_reason"].startswith("wrong_type")


def test_a_failure_older_than_the_rows_change_is_superseded() -> None:
    found = failures(error_line(json.dumps(stream_record("o1", 90, quantity="two")).encode()))
    # 22 digits against 21: compared as numbers, not as text.
    report = compare_orders({"o1": item()}, {"o1": row(sequence="1000000000000000000000")}, found)
    assert report.ok and report.error_records == 1
    newer = failures(error_line(json.dumps(stream_record("o1", 10**21 + 1)).encode()))
    stale = compare_orders({"o1": item()}, {"o1": row(sequence="1000000000000000000000")}, newer)
    (order,) = stale.diverged
    assert order.kind == "stale" and order.differences == ()
    assert "every column equal, but its newest change is not in the lake" in stale.describe()


def test_failed_inserts_and_removes_explain_missing_and_extra_orders() -> None:
    found = failures(
        error_line(
            json.dumps(stream_record("o2", 7, "INSERT", unitPrice=Decimal("12345678901234567"))).encode()
        ),
        error_line(json.dumps(stream_record("o3", 109, "REMOVE", quantity="three")).encode()),
        error_line(json.dumps(stream_record("gone", 11, "INSERT", quantity="x")).encode()),  # on neither side
    )
    report = compare_orders({"o2": item("o2")}, {"o3": row("o3")}, found)
    by_id = {order.order_id: order for order in report.diverged}
    assert set(by_id) == {"o2", "o3"}
    assert by_id["o2"].kind == "missing" and by_id["o2"].failed_change is not None
    assert by_id["o2"].failed_change.transform_reason.startswith("number_out_of_range: attribute 'unitPrice'")
    assert by_id["o3"].kind == "extra" and by_id["o3"].failed_change.event_name == "REMOVE"
    assert base64.b64decode(json.loads(error_line(b"x"))["rawData"]) == b"x"  # the writer keeps the data
