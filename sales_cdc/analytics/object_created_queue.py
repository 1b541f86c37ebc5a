"""The ObjectCreated queue as the raw objects sensor reads it: receiving, deleting, and parsing its messages.

One SQS message holds one S3 event notification (or the ``s3:TestEvent`` S3 sends when the
notification is configured), possibly wrapped in an SNS envelope. Keys arrive URL-encoded
(``quote_plus``). Only ``ObjectCreated:*`` records of keys in the raw layout
``<raw prefix>dt=YYYY-MM-DD/hour=HH/<name>`` announce new raw objects; everything else is ignored
with a reason, and a body that cannot be read at all is reported as malformed.
"""

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from infra.lake import InvalidIdentifierError, validate_partition_value

MAX_MESSAGES_PER_TICK = 200  # bounds a tick's duration and its cursor (one receipt handle per message)
RECEIVE_BATCH = 10  # SQS's maximum per ReceiveMessage call
DELETE_BATCH = 10  # SQS's maximum per DeleteMessageBatch call
RECEIVE_WAIT_SECONDS = 1  # long poll of a tick's first receive: asks every SQS server, not a sample

_RELATIVE_KEY = re.compile(r"dt=(?P<day>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/[^/]+")


@dataclass(frozen=True)
class RawObject:
    """A new raw CDC object announced by an S3 ObjectCreated event."""

    key: str
    day: str  # the raw partition dt: the UTC day of the changes' event time
    hour: str
    identity: str  # digest of the announced object version: the same for every redelivery

    @property
    def hour_target(self) -> str:
        """``YYYY-MM-DD/HH``: this object's partition, as partition repair takes it."""
        return f"{self.day}/{self.hour}"


@dataclass
class ParsedMessage:
    """What one queue message announced: new raw objects, or why it carries none."""

    objects: list[RawObject] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # records that are not new raw objects, with why
    malformed: str | None = None  # why the message could not be read at all


def object_identity(record: Mapping[str, Any], key: str) -> str:
    """A digest of the object version an event announces: key, version id, sequencer, ETag, event time.

    Overwriting a key makes a new version (new sequencer and event time, usually a new ETag), so it
    gets a new identity and triggers again; a redelivered message keeps its identity.
    """
    obj = record.get("s3", {}).get("object", {})
    parts = [key, obj.get("versionId"), obj.get("sequencer"), obj.get("eTag"), record.get("eventTime")]
    return hashlib.sha256("\0".join(str(p or "") for p in parts).encode()).hexdigest()[:20]


def raw_object_of(key: str, raw_prefix: str) -> tuple[str, str] | None:
    """``(day, hour)`` of a key in the raw layout, else None (dates and hours are checked for range)."""
    match = _RELATIVE_KEY.fullmatch(key[len(raw_prefix) :]) if key.startswith(raw_prefix) else None
    if match is None:
        return None
    try:
        return validate_partition_value("dt", match["day"]), validate_partition_value("hour", match["hour"])
    except InvalidIdentifierError:  # e.g. dt=2026-02-30: partition repair would refuse the whole run
        return None


def parse_message(body: str, *, bucket: str, raw_prefix: str) -> ParsedMessage:
    """Parse an SQS message body holding an S3 event notification (directly or in an SNS envelope)."""
    try:
        event = json.loads(body)
        if isinstance(event, dict) and event.get("Type") == "Notification" and "Message" in event:
            event = json.loads(event["Message"])  # delivered through an SNS topic
    except (TypeError, ValueError) as exc:
        return ParsedMessage(malformed=f"body is not JSON ({exc})")
    if not isinstance(event, dict):
        return ParsedMessage(malformed=f"body is JSON {type(event).__name__}, not an object")
    if event.get("Event") == "s3:TestEvent":
        return ParsedMessage(ignored=["s3:TestEvent (sent when the notification was configured)"])
    records = event.get("Records")
    if not isinstance(records, list):
        return ParsedMessage(malformed="no Records list: not an S3 event notification")
    parsed = ParsedMessage()
    for record in records:
        try:
            name = str(record["eventName"])
            record_bucket = record["s3"]["bucket"]["name"]
            key = unquote_plus(record["s3"]["object"]["key"])  # S3 URL-encodes keys in events
        except (KeyError, TypeError) as exc:
            parsed.ignored.append(f"record without {exc}")
            continue
        if not name.startswith("ObjectCreated:"):
            parsed.ignored.append(f"{name} of {key}")  # e.g. ObjectRemoved: nothing new to read
            continue
        if record_bucket != bucket:
            parsed.ignored.append(f"{key} is in bucket {record_bucket}, not {bucket}")
            continue
        partition = raw_object_of(key, raw_prefix)
        if partition is None:
            parsed.ignored.append(f"{key} is not a raw object {raw_prefix}dt=YYYY-MM-DD/hour=HH/<name>")
            continue
        parsed.objects.append(RawObject(key, *partition, object_identity(record, key)))
    return parsed


# ------------------------------------------------------------------------------------------ SQS


def receive_messages(
    sqs: Any, queue_url: str, *, limit: int = MAX_MESSAGES_PER_TICK, wait_seconds: int = RECEIVE_WAIT_SECONDS
) -> list[dict[str, Any]]:
    """Receive up to ``limit`` messages: batches of 10 until the queue returns none."""
    messages: list[dict[str, Any]] = []
    wait = wait_seconds
    while len(messages) < limit:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(RECEIVE_BATCH, limit - len(messages)),
            WaitTimeSeconds=wait,
        ).get("Messages", [])
        if not batch:
            break
        messages.extend(batch)
        wait = 0  # only the first call needs the long poll: after it, messages are known to flow
    return messages


def delete_messages(sqs: Any, queue_url: str, handles: Sequence[str]) -> list[str]:
    """Delete messages by receipt handle; returns a description of each one SQS refused."""
    failures: list[str] = []
    for start in range(0, len(handles), DELETE_BATCH):
        chunk = handles[start : start + DELETE_BATCH]
        response = sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
        )
        failures.extend(f"{f.get('Code')}: {f.get('Message')}" for f in response.get("Failed", []))
    return failures
