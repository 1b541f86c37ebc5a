"""Benchmark: the Firehose transformation Lambda against a tutorial-style handler and the JSON floor.

Builds one deterministic ~1 MB Firehose batch of realistic DynamoDB change records (order lifecycles:
INSERT, MODIFY through PAID/SHIPPED/..., some REMOVE; compact UTF-8 JSON as AWS writes it; a
Kinesis-source Firehose event as the Pipe feeds it) and, in one run, measures records/s of:

  (a) lambda_transform.handler.handler: the full typed CDC row (every event kind, exact numbers,
      partition keys, every value validated), with the JSON library it deploys with (orjson);
  (b) a tutorial-style handler: per record base64-decode, json.loads, read the NewImage fields, print
      the image (stdout sent to /dev/null), json.dumps, base64-encode, answer Ok (standard json);
  (c) the floor: the tutorial reduced to base64-decode + parse + serialize + base64-encode of each
      record, answering Ok, with the same JSON library as (a);
  (c') for information, a stricter floor: binascii directly and no answers at all.

Targets (issue 3): (a) >= 1.5x (b), and time(a) <= 1.25x time(c). The handlers run interleaved for
several rounds, each timed in CPU time of this process (on a shared machine wall time measures the
neighbours); each ratio is the median over rounds of the per-round ratio (which cancels slow drift),
and best/median records/s are printed. Exits 1 if a target fails. ``--json json`` measures (a) and
(c) with the standard library's json instead (the Lambda's fallback when orjson is not deployed).

Run: .venv/bin/python bench/bench_lambda_transform.py [--rounds N] [--batch-bytes N] [--json json]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import gc
import json
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from lambda_transform import firehose
from lambda_transform.handler import handler

TARGET_VS_TUTORIAL = 1.5  # (a) records/s at least this times (b)
TARGET_VS_FLOOR = 1.25  # (a) time at most this times (c)

STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-11-18T00:00:00.000"
FIRST_NAMES = "Alice Bob Chloé Dmitri Émile Fatima Grace Hiro Inés José Łukasz Mia Noah Olivia Priya".split()
FIRST_NAMES += "Quentin Rosa Søren Tariq Uma Zoë".split()
LAST_NAMES = "Anderson Brown Castillo Dubois Evans Fischer García Hansen Ivanova Jensen Kowalski".split()
LAST_NAMES += "López Müller Nakamura O'Brien Patel Rossi Smith".split()
CATALOG = [  # (productId, productName, category, unitPrice)
    ("p-1001", 'UltraBook 14" Laptop', "Electronics", "1299.99"),
    ("p-1002", "Noise-Cancelling Headphones", "Electronics", "249.00"),
    ("p-1003", "4K Monitor 27-inch", "Electronics", "399.5"),
    ("p-1004", "USB-C Hub, 7 ports", "Electronics", "39.99"),
    ("p-1005", "Mechanical Keyboard", "Electronics", "119.9"),
    ("p-2001", "Espresso Machine", "Home & Kitchen", "549.95"),
    ("p-2002", 'Cast Iron Skillet 12"', "Home & Kitchen", "34.5"),
    ("p-2003", "Chef's Knife", "Home & Kitchen", "89"),
    ("p-2004", "Linen Duvet Cover", "Home & Kitchen", "129.99"),
    ("p-3001", "Trail Running Shoes", "Sports", "139.95"),
    ("p-3002", "Yoga Mat", "Sports", "29.99"),
    ("p-3003", "Carbon Road Bike", "Sports", "2499"),
    ("p-4001", "The Pragmatic Programmer", "Books", "44.99"),
    ("p-4002", "Designing Data-Intensive Applications", "Books", "52.75"),
    ("p-4003", "Café Stories (Hardcover)", "Books", "24.9"),
    ("p-5001", "Organic Green Tea, 100 bags", "Grocery", "12.49"),
    ("p-5002", "Dark Chocolate 85%", "Grocery", "3.99"),
    ("p-6001", "Wool Sweater", "Clothing", "79.95"),
    ("p-6002", "Rain Jacket", "Clothing", "159"),
    ("p-6003", "Silk Scarf", "Clothing", "65.5"),
]
_SERIALIZER = TypeSerializer()  # items hold only str, int and Decimal: the wire form as is
LIFECYCLE = {"PLACED": ["PAID", "CANCELLED"], "PAID": ["SHIPPED", "CANCELLED"], "SHIPPED": ["DELIVERED"],
             "DELIVERED": ["RETURNED"], "CANCELLED": [], "RETURNED": []}  # fmt: skip


def _dynamodb_item(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An item of Python values as DynamoDB JSON, as a stream record carries it."""
    return {name: _SERIALIZER.serialize(value) for name, value in item.items()}


def _iso(epoch_ms: int) -> str:
    seconds, ms = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def build_event(batch_bytes: int = 1_000_000, seed: int = 20261121) -> dict[str, Any]:
    """A deterministic Firehose transformation event of about ``batch_bytes`` of base64 data."""
    rng = random.Random(seed)
    start_ms = 1_795_000_000_000  # 2026-11-18; the batch spans about a minute, as Firehose buffers it
    orders: dict[str, dict[str, Any]] = {}
    active: list[str] = []  # orders not yet in a final state
    records: list[dict[str, Any]] = []
    total = 0
    stream_seq = 10**26 * 4 + rng.randrange(10**20)
    kinesis_seq = 49_657_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000 + rng.randrange(
        10**20
    )
    while total < batch_bytes:
        now_ms = start_ms + len(records) * 70 + rng.randrange(70)
        roll = rng.random()
        old_image = new_image = None
        if not orders or roll < 0.35:
            order_id = f"o-{rng.randrange(16**12):012x}"
            product = rng.choice(CATALOG)
            item = {
                "orderId": order_id,
                "customerId": f"c-{rng.randrange(100000):05d}",
                "customerName": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "productId": product[0],
                "productName": product[1],
                "category": product[2],
                "quantity": rng.randint(1, 5),
                "unitPrice": Decimal(product[3]),
                "status": "PLACED",
                "createdAt": _iso(now_ms - rng.randrange(500)),
                "updatedAt": _iso(now_ms),
            }
            orders[order_id] = item
            active.append(order_id)
            event_name, new_image = "INSERT", item
        elif roll < 0.90 and active:  # the next step of an order's lifecycle
            order_id = rng.choice(active)
            old_image = orders[order_id]
            status = rng.choice(LIFECYCLE[old_image["status"]])
            new_image = orders[order_id] = dict(old_image, status=status, updatedAt=_iso(now_ms))
            if not LIFECYCLE[status]:
                active.remove(order_id)
            event_name = "MODIFY"
        else:  # an order deleted (archived)
            order_id = rng.choice(sorted(orders))
            old_image = orders.pop(order_id)
            if order_id in active:
                active.remove(order_id)
            event_name = "REMOVE"
        stream_seq += rng.randrange(1, 10**6)
        kinesis_seq += rng.randrange(1, 10**12)
        dynamodb: dict[str, Any] = {
            "ApproximateCreationDateTime": now_ms // 1000,
            "Keys": {"orderId": {"S": order_id}},
        }
        if new_image is not None:
            dynamodb["NewImage"] = _dynamodb_item(new_image)
        if old_image is not None:
            dynamodb["OldImage"] = _dynamodb_item(old_image)
        dynamodb |= {"SequenceNumber": str(stream_seq), "SizeBytes": 180 + rng.randrange(120),
                     "StreamViewType": "NEW_AND_OLD_IMAGES"}  # fmt: skip
        change = {
            "eventID": f"{rng.randrange(16**32):032x}",
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": dynamodb,
            "eventSourceARN": STREAM_ARN,
        }
        # As AWS writes it: compact, UTF-8 (not \\u escapes); see the Kinesis examples in AWS docs.
        data = base64.b64encode(
            json.dumps(change, ensure_ascii=False, separators=(",", ":")).encode()
        ).decode()
        arrival_ms = now_ms + 200 + rng.randrange(300)
        records.append(
            {
                "recordId": f"{kinesis_seq}{len(records):06d}",
                "approximateArrivalTimestamp": arrival_ms,
                "data": data,
                "kinesisRecordMetadata": {
                    "shardId": "shardId-000000000000",
                    "partitionKey": order_id,
                    "approximateArrivalTimestamp": arrival_ms,
                    "sequenceNumber": str(kinesis_seq),
                    "subsequenceNumber": 0,
                },
            }
        )
        total += len(data)
    return {
        "invocationId": "8f3e5c2a-1b4d-4e6f-9a7b-2c1d0e9f8a7b",
        "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/sales-cdc-raw",
        "sourceKinesisStreamArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/sales-cdc-orders",
        "region": "eu-west-1",
        "records": records,
    }


def tutorial_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """(b) The handler tutorials show, with the standard json module (REMOVE becomes an empty row)."""
    output = []
    for record in event["records"]:
        payload = json.loads(base64.b64decode(record["data"]))
        new_image = payload["dynamodb"].get("NewImage", {})
        item = {name: next(iter(value.values())) for name, value in new_image.items()}
        print(new_image)
        data = json.dumps(item) + "\n"
        output.append(
            {"recordId": record["recordId"], "result": "Ok", "data": base64.b64encode(data.encode()).decode()}
        )
    return {"records": output}


def _json_functions() -> tuple[Any, Any]:
    """loads and dumps (to bytes) of the JSON library the handler uses."""
    if firehose.JSON_LIBRARY == "orjson":
        import orjson

        return orjson.loads, orjson.dumps
    return json.loads, lambda value: json.dumps(value).encode()


def floor_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """(c) The floor: the tutorial handler reduced to decode + parse + serialize + encode of each
    record, answering it Ok, with the handler's JSON library."""
    loads, dumps = _json_functions()
    b64decode, b64encode = base64.b64decode, base64.b64encode
    return {
        "records": [
            {
                "recordId": r["recordId"],
                "result": "Ok",
                "data": b64encode(dumps(loads(b64decode(r["data"])))).decode(),
            }
            for r in event["records"]
        ]
    }


def bare_floor(event: dict[str, Any], context: Any) -> list[str]:
    """(c') Stricter than the floor, for information: binascii directly and no answers, only the
    list of encoded records. Not a handler (Firehose needs recordId and result)."""
    loads, dumps = _json_functions()
    a2b, b2a = binascii.a2b_base64, binascii.b2a_base64
    return [b2a(dumps(loads(a2b(r["data"]))), newline=False).decode() for r in event["records"]]


def _time_once(function: Any, event: dict[str, Any]) -> float:
    # CPU time of this process: on a shared, noisy machine wall time mostly measures the neighbours.
    gc.collect()
    started = time.process_time()
    function(event, None)
    return time.process_time() - started


def _median_ratio(numerator: list[float], denominator: list[float]) -> float:
    return statistics.median(n / d for n, d in zip(numerator, denominator, strict=True))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print figures and verdicts; return 0 on PASS, 1 on FAIL."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=100, help="interleaved timing rounds (default 100)")
    parser.add_argument("--batch-bytes", type=int, default=1_000_000, help="base64 data per batch")
    parser.add_argument(
        "--json",
        choices=["orjson", "json"],
        help="JSON library for the handler and the floor (default: the handler's)",
    )
    args = parser.parse_args(argv)
    if args.json:
        firehose.use_json_library(args.json)

    event = build_event(args.batch_bytes)
    n = len(event["records"])
    data_bytes = sum(len(r["data"]) for r in event["records"])
    kinds: dict[str, int] = {}
    for r in event["records"]:
        name = json.loads(base64.b64decode(r["data"]))["eventName"]
        kinds[name] = kinds.get(name, 0) + 1
    response = handler(event, None)
    results = {answer["result"] for answer in response["records"]}
    if results != {"Ok"} or len(response["records"]) != n:
        print(f"FAIL: the handler did not answer every benchmark record Ok: {results}")
        return 1
    print(f"batch: {n} records, {data_bytes:,} base64 bytes, {kinds}; JSON library: {firehose.JSON_LIBRARY}")

    handlers = {"a": handler, "b": tutorial_handler, "c": floor_handler, "c'": bare_floor}
    times: dict[str, list[float]] = {key: [] for key in handlers}
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        for function in handlers.values():  # warm-up: caches, allocator
            function(event, None)
        for _ in range(args.rounds):
            for key, function in handlers.items():
                times[key].append(_time_once(function, event))

    labels = {
        "a": "lambda_transform handler",
        "b": "tutorial-style handler",
        "c": "floor (decode+parse+encode)",
        "c'": "bare floor (info only)",
    }
    print(f"{'':33} {'best rec/s':>12} {'median rec/s':>13}   (CPU time, {args.rounds} interleaved rounds)")
    for key, label in labels.items():
        print(f"({key}) {label:29} {n / min(times[key]):12,.0f} {n / statistics.median(times[key]):13,.0f}")

    speedup = _median_ratio(times["b"], times["a"])
    vs_floor = _median_ratio(times["a"], times["c"])
    vs_bare = _median_ratio(times["a"], times["c'"])
    ok_speedup = speedup >= TARGET_VS_TUTORIAL
    ok_floor = vs_floor <= TARGET_VS_FLOOR
    verdict = {True: "PASS", False: "FAIL"}
    print(f"(a) vs (b): {speedup:.2f}x as fast     target >= {TARGET_VS_TUTORIAL}x   {verdict[ok_speedup]}")
    print(f"time(a) / time(c): {vs_floor:.2f}    target <= {TARGET_VS_FLOOR}    {verdict[ok_floor]}")
    print(f"time(a) / time(c'): {vs_bare:.2f}   (information)")
    print("ratios: median over rounds of the per-round ratio")
    return 0 if ok_speedup and ok_floor else 1


if __name__ == "__main__":
    sys.exit(main())
