"""A workload written independently of the product's generator, end to end through the local data plane.

Plain boto3 ``put_item`` / ``update_item`` / ``delete_item`` on the provisioned orders table: a few dozen
orders, updates, deletes, a re-insert, and poison changes the transform must reject (a quantity
``"three"``, a price of 1.005, numbers out of their column's range). The real local data plane (Pipe,
Kinesis, Firehose with the Lambda) carries the changes to S3, the crawler registers them, Dagster
rebuilds ``orders_current`` and runs ``reconciles_with_dynamodb``. The check must fail naming exactly
the poisoned orders, with the reason the error records hold; every other order must equal, column by
column, what this test wrote (computed here, not by the product's reconciliation code).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from dagster import AssetCheckSeverity, materialize
from test_analytics.analytics_support import check_results, crawl, resources
from test_local_aws.dataplane_helpers import read_stream, wait_for

from infra.clients import LOCAL_CREDENTIALS
from local_aws.dataplane import DataPlane, format_health
from sales_cdc.analytics.checks import reconciles_with_dynamodb
from sales_cdc.analytics.orders_current import orders_current
from sales_cdc.settings import Settings

pytestmark = pytest.mark.e2e

PRODUCTS = [
    ("p-phone", "Phone X", "Phones", "699.00"),
    ("p-case", "Phone case", "Accessories", "19.99"),
    ("p-laptop", "Laptop Pro", "Laptops", "1299.50"),
    ("p-buds", "Earbuds", "Audio", "49.05"),
]
# The orders whose newest change the transform rejects, and the reason each must be reported with.
POISONED = {
    "o10": ("MODIFY", "wrong_type: attribute 'quantity' is S 'three'"),
    "o11": ("MODIFY", "number_too_precise: attribute 'unitPrice' is '1.005'"),
    "o12": ("MODIFY", "number_out_of_range: attribute 'unitPrice' is '12345678901234567'"),
    "o13": ("REMOVE", "wrong_type: attribute 'quantity' is S 'three'"),  # poisoned, then deleted
    "o15": ("MODIFY", "number_out_of_range: attribute 'quantity' is '3000000000'"),
    "o40": ("INSERT", "number_too_precise: attribute 'unitPrice' is '1.005'"),  # a poisoned new order
}


class Workload:
    """Writes orders with plain boto3 and remembers what ``orders_current`` must hold for each."""

    def __init__(self, table: Any, start: datetime) -> None:
        self.table = table
        self.clock = start
        self.lake: dict[str, dict[str, Any]] = {}  # order id -> the row orders_current must show
        self.writes = 0

    def tick(self) -> str:
        self.clock += timedelta(seconds=7, milliseconds=125)
        return self.clock.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.clock.microsecond // 1000:03d}Z"

    def insert(self, order_id: str, n: int, *, created: str | None = None, **overrides: Any) -> None:
        product_id, product_name, category, price = PRODUCTS[n % len(PRODUCTS)]
        stamp = self.tick()
        item = {
            "orderId": order_id,
            "customerId": f"c-{n % 7}",
            "customerName": f"Customer {n % 7}",
            "productId": product_id,
            "productName": product_name,
            "category": category,
            "quantity": 1 + n % 3,
            "unitPrice": Decimal(price),
            "status": "PLACED",
            "createdAt": created or stamp,
            "updatedAt": stamp,
            **overrides,
        }
        self.table.put_item(Item=item)
        self.writes += 1
        self.lake[order_id] = expected_row(item)

    def update(self, order_id: str, *, poison: bool = False, **values: Any) -> None:
        values["updatedAt"] = self.tick()
        names = {f"#a{i}": name for i, name in enumerate(values)}
        self.table.update_item(
            Key={"orderId": order_id},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":v{i}": value for i, value in enumerate(values.values())},
        )
        self.writes += 1
        if not poison:  # a rejected change leaves the previous row in the lake
            row = self.lake[order_id]
            for attribute, value in values.items():
                row.update(expected_row({attribute: value}))

    def delete(self, order_id: str, *, poison: bool = False) -> None:
        self.table.delete_item(Key={"orderId": order_id})
        self.writes += 1
        if not poison:
            del self.lake[order_id]


COLUMNS = {
    "orderId": "order_id",
    "customerId": "customer_id",
    "customerName": "customer_name",
    "productId": "product_id",
    "productName": "product_name",
    "category": "category",
    "quantity": "quantity",
    "unitPrice": "unit_price",
    "status": "status",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
}


def utc_millis(text: str) -> str:
    """An ISO-8601 timestamp as UTC text to the millisecond (what a CDC row holds)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def expected_row(attributes: dict[str, Any]) -> dict[str, Any]:
    """The orders_current columns of some item attributes, written out by hand."""
    row = {}
    for attribute, value in attributes.items():
        if attribute in ("createdAt", "updatedAt"):
            value = utc_millis(value)
        elif attribute == "quantity":
            value = int(value)
        elif attribute == "unitPrice":
            value = Decimal(value)
        row[COLUMNS[attribute]] = value
    return row


def lake_rows(engine: Any, settings: Settings) -> dict[str, dict[str, Any]]:
    """Every row of orders_current, its timestamps as UTC millisecond text."""
    result = engine.execute(
        f"SELECT {', '.join(COLUMNS.values())} FROM orders_current", settings.glue_database
    )
    rows = {}
    for row in result.as_dicts():
        for column in ("created_at", "updated_at"):
            moment = row[column]
            row[column] = moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
        rows[row["order_id"]] = row
    return rows


def run_workload(table: Any) -> Workload:
    w = Workload(table, datetime.now(UTC) - timedelta(hours=3))
    for n in range(36):
        w.insert(f"o{n:02d}", n)
    # A creation time with an offset and microseconds: normalised to UTC milliseconds on both sides.
    w.insert("o36", 36, created="2026-11-20T23:30:00.123456-02:00")
    for n in range(0, 36, 3):
        w.update(f"o{n:02d}", status="PAID")
    for n in range(0, 36, 6):
        w.update(f"o{n:02d}", status="SHIPPED")
    w.update("o01", quantity=5, customerName="Customer 1 (new address)")
    w.update("o02", unitPrice=Decimal("17.5"))  # 17.5 and 17.50 are one price
    w.update("o04", status="CANCELLED")
    w.update("o07", status="RETURNED")
    w.delete("o05")
    w.delete("o06")
    w.insert("o06", 106)  # re-inserted after its deletion, with other values
    w.update("o06", status="PAID")
    # Poison: the transform rejects these changes; each goes to the error prefix.
    w.update("o10", poison=True, quantity="three")
    w.update("o11", poison=True, unitPrice=Decimal("1.005"))
    w.update("o12", poison=True, unitPrice=Decimal("12345678901234567"))
    w.update("o13", poison=True, quantity="three")
    w.delete("o13", poison=True)  # its REMOVE carries the poisoned old image: rejected too
    w.update("o14", poison=True, quantity="three")
    w.update("o14", quantity=4)  # a valid change after the poison one: the lake catches up
    w.update("o15", poison=True, quantity=Decimal("3000000000"))
    product_id, product_name, category, _ = PRODUCTS[0]
    stamp = w.tick()
    table.put_item(
        Item={
            "orderId": "o40",
            "customerId": "c-40",
            "customerName": "Customer 40",
            "productId": product_id,
            "productName": product_name,
            "category": category,
            "quantity": 1,
            "unitPrice": Decimal("1.005"),
            "status": "PLACED",
            "createdAt": stamp,
            "updatedAt": stamp,
        }
    )
    w.writes += 1
    return w


def test_reconciliation_names_exactly_the_poisoned_orders_and_the_rest_matches(
    provisioned: Settings, make_data_plane: Callable[..., DataPlane]
) -> None:
    kwargs = {**provisioned.boto3_kwargs(), **LOCAL_CREDENTIALS}
    table = boto3.resource("dynamodb", **kwargs).Table(provisioned.orders_table)
    plane = make_data_plane(provisioned, status_file=None).start()
    try:
        workload = run_workload(table)
        changes = read_stream(
            boto3.client("dynamodbstreams", **kwargs), provisioned.output("OrdersStreamArn")
        )
        assert len(changes) == workload.writes, "one stream record per write"

        def delivered() -> bool:
            firehose = plane.health()["firehose"]
            return firehose["rows_delivered"] + firehose["records_failed"] >= len(changes)

        wait_for(delivered, 60, f"{len(changes)} changes in S3; health: {format_health(plane.health())}")
        health = plane.health()
    finally:
        plane.stop()
    assert health["firehose"]["records_failed"] == 8, format_health(health)  # o14's poison update too

    crawl(provisioned)
    res = resources(provisioned)
    result = materialize([orders_current, reconciles_with_dynamodb], resources=res)
    assert result.success
    check = check_results(result)["reconciles_with_dynamodb"]

    assert not check.passed and check.severity == AssetCheckSeverity.ERROR
    description = check.description or ""
    assert "differs from DynamoDB (36 items) in 6 order(s)" in description, description
    assert "order o10: quantity dynamodb 'three', lake 2" in description
    assert "wrong_type: attribute 'quantity' is S 'three'" in description
    metadata = check.metadata
    assert sorted(metadata["diverged_ids"].value) == sorted(POISONED), check.description
    diverged = {order["order_id"]: order for order in metadata["diverged_orders"].value}
    for order_id, (event_name, reason) in POISONED.items():
        failed = diverged[order_id]["failed_change"]
        assert failed is not None, f"{order_id}: no failed change attached"
        assert failed["event_name"] == event_name
        assert failed["error_code"] == "Lambda.ProcessingFailedStatus"
        assert failed["transform_reason"].startswith(reason), failed
        assert failed["error_object"].startswith(provisioned.error_prefix)
    assert diverged["o10"]["columns"]["quantity"] == {"dynamodb": "'three'", "lake": "2"}
    assert diverged["o11"]["columns"]["unit_price"] == {"dynamodb": "1.005", "lake": PRODUCTS[11 % 4][3]}
    assert diverged["o13"]["kind"] == "extra" and diverged["o40"]["kind"] == "missing"
    assert metadata["missing_ids"].value == ["o40"] and metadata["extra_ids"].value == ["o13"]

    # Independently of the check: every other order is in the lake exactly as written, and each
    # poisoned order kept the row of its last accepted change.
    lake = lake_rows(res["query_engine"], provisioned)
    assert set(lake) == set(workload.lake)
    for order_id, expected in workload.lake.items():
        assert lake[order_id] == expected, order_id
    assert lake["o14"]["quantity"] == 4 and lake["o06"]["product_id"] == PRODUCTS[106 % 4][0]
    assert lake["o36"]["created_at"] == "2026-11-21 01:30:00.123"
