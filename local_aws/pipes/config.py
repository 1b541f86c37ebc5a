"""The local Pipe's reading of a deployed EventBridge Pipe (``describe_pipe``), and its target partition key.

What it honours: ``Source`` (a DynamoDB stream ARN) with ``DynamoDBStreamParameters`` (``BatchSize``,
``MaximumBatchingWindowInSeconds``, ``StartingPosition``, ``MaximumRetryAttempts``,
``DeadLetterConfig``), ``Target`` (a Kinesis stream) with ``KinesisStreamParameters.PartitionKey`` (a
JSON path such as ``$.dynamodb.Keys.orderId.S`` evaluated against each event, or a static key), and
``DesiredState`` / ``CurrentState``. Anything else it would have to honour (enrichment, filters) is
refused with a PipeConfigError naming it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from local_aws.pumps import KINESIS_STREAM_ARN

KINESIS_MAX_RECORDS = 500  # PutRecords limits
KINESIS_MAX_REQUEST_BYTES = 5 * 1024 * 1024
KINESIS_MAX_RECORD_BYTES = 1024 * 1024

_STREAM_ARN = re.compile(r"^arn:[\w-]+:dynamodb:([\w-]+):(\d{12}):table/[^/]+/stream/.+$")


class PipeConfigError(ValueError):
    """The deployed Pipe asks for something this local stand-in cannot do; the message says what."""


@dataclass(frozen=True)
class PipeConfig:
    """The parts of a deployed Pipe (``describe_pipe``) that decide how records move."""

    name: str
    arn: str
    source_arn: str
    target_arn: str
    batch_size: int
    maximum_batching_window_s: float
    starting_position: str
    maximum_retry_attempts: int  # -1: retry forever
    dead_letter_arn: str | None
    partition_key: str
    desired_state: str
    current_state: str

    @property
    def moving(self) -> bool:
        """True when the pipe moves records (AWS: only a RUNNING pipe polls its source)."""
        return self.desired_state == "RUNNING" and self.current_state in ("RUNNING", "UPDATING")

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> PipeConfig:
        """Validate ``describe_pipe``'s answer; raises PipeConfigError naming what is unsupported."""
        name = description.get("Name", "?")
        source = description.get("Source", "")
        if not _STREAM_ARN.match(source):
            raise PipeConfigError(
                f"pipe {name!r}: source {source!r} is not a DynamoDB stream ARN; the local Pipe only "
                "reads DynamoDB streams."
            )
        target = description.get("Target", "")
        if not KINESIS_STREAM_ARN.match(target):
            raise PipeConfigError(
                f"pipe {name!r}: target {target!r} is not a Kinesis stream ARN; the local Pipe only "
                "writes to Kinesis streams."
            )
        for unsupported in ("Enrichment",):
            if description.get(unsupported):
                raise PipeConfigError(
                    f"pipe {name!r} has an {unsupported} ({description[unsupported]!r}), which the local "
                    "Pipe does not implement; remove it from the template or extend local_aws/pipes/."
                )
        source_parameters = description.get("SourceParameters") or {}
        if source_parameters.get("FilterCriteria"):
            raise PipeConfigError(
                f"pipe {name!r} has FilterCriteria, which the local Pipe does not implement; remove "
                "them from the template or extend local_aws/pipes/."
            )
        params = source_parameters.get("DynamoDBStreamParameters")
        if not params:
            raise PipeConfigError(f"pipe {name!r} has no SourceParameters.DynamoDBStreamParameters.")
        starting_position = params.get("StartingPosition", "TRIM_HORIZON")
        if starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise PipeConfigError(
                f"pipe {name!r}: StartingPosition {starting_position!r} is not TRIM_HORIZON or LATEST."
            )
        batch_size = int(params.get("BatchSize", 100))
        # Each batch goes to the target's batch API in one call; PutRecords takes at most 500 records.
        if not 1 <= batch_size <= KINESIS_MAX_RECORDS:
            raise PipeConfigError(
                f"pipe {name!r}: BatchSize {batch_size} is outside 1..{KINESIS_MAX_RECORDS}, the largest "
                "batch a Kinesis target takes (AWS refuses such a pipe too)."
            )
        kinesis = (description.get("TargetParameters") or {}).get("KinesisStreamParameters") or {}
        partition_key = kinesis.get("PartitionKey")
        if not partition_key:
            raise PipeConfigError(
                f"pipe {name!r}: TargetParameters.KinesisStreamParameters.PartitionKey is required for a "
                "Kinesis target."
            )
        compile_partition_key(partition_key)  # fail early on a malformed path
        return cls(
            name=name,
            arn=description.get("Arn", ""),
            source_arn=source,
            target_arn=target,
            batch_size=batch_size,
            maximum_batching_window_s=float(params.get("MaximumBatchingWindowInSeconds", 0)),
            starting_position=starting_position,
            maximum_retry_attempts=int(params.get("MaximumRetryAttempts", -1)),
            dead_letter_arn=(params.get("DeadLetterConfig") or {}).get("Arn"),
            partition_key=partition_key,
            desired_state=description.get("DesiredState", "RUNNING"),
            current_state=description.get("CurrentState", "RUNNING"),
        )


def read_pipe_config(client: Any, name: str) -> PipeConfig:
    """Read a Pipe's configuration back from the (emulated) EventBridge Pipes API."""
    return PipeConfig.from_description(client.describe_pipe(Name=name))


# --------------------------------------------------------------------------------------------------
# partition key: a JSON path into the event, or a static value

_SEGMENT = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class PartitionKeyError(ValueError):
    """A record has no usable value at the Pipe's PartitionKey path."""


@functools.lru_cache(maxsize=64)
def compile_partition_key(expression: str) -> Callable[[Mapping[str, Any]], str]:
    """A function giving the partition key of an event: ``$.a.b[0]['c']`` paths or a static string."""
    if not expression.startswith("$"):
        return lambda event: expression
    path: list[str | int] = []
    position = 1
    while position < len(expression):
        match = _SEGMENT.match(expression, position)
        if not match:
            raise PipeConfigError(
                f"PartitionKey {expression!r} is not a JSON path the local Pipe understands at "
                f"{expression[position:]!r}; use dotted names and [index] / ['name'] segments."
            )
        name, index, quoted, double_quoted = match.groups()
        path.append(int(index) if index is not None else (name or quoted or double_quoted or ""))
        position = match.end()

    def evaluate(event: Mapping[str, Any]) -> str:
        value: Any = event
        for step in path:
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                raise PartitionKeyError(
                    f"the event has no value at PartitionKey {expression!r} (missing {step!r})"
                ) from None
        if isinstance(value, dict | list) or value is None or value == "":
            raise PartitionKeyError(f"PartitionKey {expression!r} selects {value!r}, not a scalar")
        key = value if isinstance(value, str) else orjson.dumps(value).decode()
        if len(key) > 256:
            raise PartitionKeyError(
                f"PartitionKey {expression!r} gives {len(key)} characters; Kinesis allows 256"
            )
        return key

    return evaluate
