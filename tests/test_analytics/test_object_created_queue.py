"""Parsing S3 event notifications, the cursor and day blocks: the sensor's pure parts."""

from __future__ import annotations

import json

import pytest

from sales_cdc.analytics.object_created_queue import parse_message, raw_object_of
from sales_cdc.analytics.raw_objects_sensor import SensorCursor
from sales_cdc.analytics.refresh_plan import day_blocks, partition_tags

BUCKET = "lake"
PREFIX = "raw/orders_cdc/"


def event(key: str, name: str = "ObjectCreated:Put", **obj: str) -> dict:
    return {
        "eventName": name,
        "eventTime": "2026-05-01T10:00:00.123Z",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "eTag": "abc", **obj}},
    }


def test_keys_are_url_decoded_and_placed_in_their_partition():
    body = json.dumps({"Records": [event("raw%2Forders_cdc%2Fdt%3D2026-05-01%2Fhour%3D07%2Fa+b%2Bc.gz")]})
    (obj,) = parse_message(body, bucket=BUCKET, raw_prefix=PREFIX).objects
    assert obj.key == "raw/orders_cdc/dt=2026-05-01/hour=07/a b+c.gz"
    assert (obj.day, obj.hour, obj.hour_target) == ("2026-05-01", "07", "2026-05-01/07")


def test_a_notification_through_sns_is_unwrapped():
    inner = json.dumps({"Records": [event(f"{PREFIX}dt=2026-05-01/hour=00/x.gz")]})
    body = json.dumps({"Type": "Notification", "Message": inner})
    assert len(parse_message(body, bucket=BUCKET, raw_prefix=PREFIX).objects) == 1


def test_identity_follows_the_object_version_not_the_message():
    key = f"{PREFIX}dt=2026-05-01/hour=00/x.gz"
    first = parse_message(
        json.dumps({"Records": [event(key, sequencer="01")]}), bucket=BUCKET, raw_prefix=PREFIX
    )
    again = parse_message(
        json.dumps({"Records": [event(key, sequencer="01")]}), bucket=BUCKET, raw_prefix=PREFIX
    )
    overwrite = parse_message(
        json.dumps({"Records": [event(key, sequencer="02")]}), bucket=BUCKET, raw_prefix=PREFIX
    )
    assert first.objects[0].identity == again.objects[0].identity
    assert first.objects[0].identity != overwrite.objects[0].identity


@pytest.mark.parametrize(
    "key",
    [
        f"{PREFIX}dt=2026-05-01/x.gz",  # no hour folder
        f"{PREFIX}dt=2026-05-01/hour=24/x.gz",
        f"{PREFIX}dt=2026-13-01/hour=01/x.gz",
        f"{PREFIX}dt=2026-05-01/hour=01/",  # a folder marker
        f"{PREFIX}dt=2026-05-01/hour=01/deeper/x.gz",
        "errors/orders_cdc/dt=2026-05-01/hour=01/x.gz",
    ],
)
def test_keys_outside_the_raw_layout_are_not_raw_objects(key):
    assert raw_object_of(key, PREFIX) is None
    parsed = parse_message(json.dumps({"Records": [event(key)]}), bucket=BUCKET, raw_prefix=PREFIX)
    assert not parsed.objects and parsed.ignored and not parsed.malformed


def test_removals_and_test_events_are_ignored_not_malformed():
    removal = json.dumps(
        {"Records": [event(f"{PREFIX}dt=2026-05-01/hour=01/x.gz", name="ObjectRemoved:Delete")]}
    )
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})
    for body in (removal, test_event):
        parsed = parse_message(body, bucket=BUCKET, raw_prefix=PREFIX)
        assert not parsed.objects and parsed.ignored and parsed.malformed is None


@pytest.mark.parametrize("body", ["", "{", "[1]", json.dumps({"Records": "no"}), json.dumps({"Hello": 1})])
def test_unreadable_bodies_are_malformed(body):
    assert parse_message(body, bucket=BUCKET, raw_prefix=PREFIX).malformed


def test_cursor_round_trips_and_an_unreadable_one_is_discarded_with_a_reason():
    cursor = SensorCursor(
        delete=["h1"], seen=["i1"], after=42, pending_hours=["2026-05-01/07"], pending_token="t"
    )
    restored, problem = SensorCursor.from_json(cursor.to_json())
    assert restored == cursor and problem is None
    assert SensorCursor.from_json(None) == (SensorCursor(), None)
    for text in ("not json", json.dumps({"v": 99, "delete": [], "seen": []}), json.dumps({"v": 1})):
        empty, problem = SensorCursor.from_json(text)
        assert empty == SensorCursor() and "discarded" in problem


def test_days_group_into_blocks_of_consecutive_days():
    days = ["2026-03-01", "2026-02-28", "2026-03-03", "2025-12-31", "2026-01-01"]
    assert day_blocks(days) == [["2025-12-31", "2026-01-01"], ["2026-02-28", "2026-03-01"], ["2026-03-03"]]
    assert partition_tags(["2026-03-03"]) == ("2026-03-03", {})
    key, tags = partition_tags(["2026-02-28", "2026-03-01"])
    assert key is None and set(tags.values()) == {"2026-02-28", "2026-03-01"}
