"""The local Pipe's dead-letter queue (``DeadLetterConfig``, SQS) and what it says of undeliverable records.

The message describes the failed batch (shard, first/last sequence number) as AWS does for stream
sources, so the records can be read again from the stream.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from local_aws.pipes.config import PipeConfigError
from local_aws.pipes.events import epoch_seconds
from local_aws.pumps import backoff

_SQS_ARN = re.compile(r"^arn:[\w-]+:sqs:([\w-]+):(\d{12}):(.+)$")


def dead_letter_message(
    pipe_arn: str,
    stream_arn: str,
    shard_id: str,
    first: Mapping[str, Any],
    last: Mapping[str, Any],
    batch_size: int,
    attempts: int,
    error_message: str,
) -> dict[str, Any]:
    """The DLQ message for undeliverable records of one shard, ``first`` to ``last`` (stream records).

    ``attempts`` counts the retries made: none means the records were invalid (no partition key, too
    large), not that the target refused them.
    """
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "pipeArn": pipe_arn,
            "condition": "RetryAttemptsExhausted" if attempts else "InvalidRecord",
            "approximateInvokeCount": attempts + 1,
        },
        "responseContext": {"errorMessage": error_message},
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso(first["dynamodb"].get("ApproximateCreationDateTime")),
            "approximateArrivalOfLastRecord": _iso(last["dynamodb"].get("ApproximateCreationDateTime")),
            "batchSize": batch_size,
            "streamArn": stream_arn,
        },
    }


def _iso(moment: Any) -> str | None:
    if moment is None:
        return None
    seconds = float(epoch_seconds(moment))
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DeadLetterQueue:
    """Sends dead-letter messages to SQS queues named by ARN (their URLs looked up once)."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self._urls: dict[str, str] = {}

    def send(
        self,
        arn: str,
        message: Mapping[str, Any],
        abort: threading.Event,
        on_error: Callable[[BaseException], None],
    ) -> bool:
        """Send one message, retrying with backoff until it is accepted; False if ``abort`` was set first."""
        attempt = 0
        while True:
            if abort.is_set():
                return False
            try:
                self._sqs.send_message(QueueUrl=self._url(arn), MessageBody=orjson.dumps(message).decode())
                return True
            except (ClientError, BotoCoreError) as exc:
                attempt += 1
                on_error(exc)
                abort.wait(backoff(attempt))

    def visible_messages(self, arn: str) -> int:
        """Messages visible in the queue (its attribute ApproximateNumberOfMessages; AWS/SQS publishes it as
        ApproximateNumberOfMessagesVisible)."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._url(arn), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def _url(self, arn: str) -> str:
        if arn not in self._urls:
            match = _SQS_ARN.match(arn)
            if not match:
                raise PipeConfigError(f"DeadLetterConfig.Arn {arn!r} is not an SQS queue ARN")
            self._urls[arn] = self._sqs.get_queue_url(
                QueueName=match.group(3), QueueOwnerAWSAccountId=match.group(2)
            )["QueueUrl"]
        return self._urls[arn]
