"""Local Amazon Data Firehose: Kinesis source → Lambda processor (in-process) → S3, as deployed.

moto keeps a delivery stream's configuration but moves no data and cannot run Lambda, so this pump
does what AWS would. It reads the delivery stream back (``firehose.describe_delivery_stream``) and
honours:

- the Kinesis source (``KinesisStreamSourceDescription.KinesisStreamARN``): every shard is read
  (``list_shards``, TRIM_HORIZON on the first start, a child shard after its parent) with a durable
  checkpoint per shard (:mod:`local_aws.checkpoints`);
- the Lambda processor (``ProcessingConfiguration``): records are buffered by its
  ``BufferSizeInMBs`` / ``BufferIntervalInSeconds`` (counted from the oldest record's approximate
  arrival timestamp, the one Firehose reports to the processor); its ``LambdaArn`` is resolved with
  ``lambda.get_function`` to the deployed function's ``Handler`` (``module.function``), which is
  imported and called in this process with the event AWS sends for a Kinesis-source delivery stream
  (``invocationId``, ``deliveryStreamArn``, ``sourceKinesisStreamArn``, ``region``, ``records`` with
  ``recordId``, ``approximateArrivalTimestamp`` (epoch ms), base64 ``data`` and
  ``kinesisRecordMetadata``). A failing invocation (exception, timeout, a response that is not an
  object with a ``records`` list, not JSON, over 6 MB) is retried ``NumberOfRetries`` times, then its
  records go to the error prefix. The response contract is checked record by record: an input record
  without an answer, answered twice, with a result other than Ok / Dropped / ProcessingFailed, or Ok
  without valid base64 ``data`` is a processing failure; answers for unknown recordIds are counted;
  ``Dropped`` records are dropped;
- dynamic partitioning: Ok records are grouped by the ``metadata.partitionKeys`` the prefix uses
  (``!{partitionKeyFromLambda:name}``); a record missing one goes to the error prefix
  (``partitioning-failed``);
- ``BufferingHints`` per partition: an object is written when a partition buffer holds
  ``SizeInMBs`` or its oldest record arrived ``IntervalInSeconds`` ago. Both intervals count from
  a record's approximate arrival timestamp, so processor buffering happens inside the S3 interval and
  how often the stream is polled does not add to it;
- ``Prefix`` / ``ErrorOutputPrefix`` expressions: ``!{partitionKeyFromLambda:...}``,
  ``!{timestamp:<Java DateTimeFormatter pattern>}`` (UTC, approximate arrival of the oldest record in
  the object), ``!{firehose:error-output-type}``, ``!{firehose:random-string}``; a prefix without
  expressions gets AWS's default ``yyyy/MM/dd/HH/`` appended;
- ``CompressionFormat`` (UNCOMPRESSED, GZIP) and ``FileExtension``; object names as Firehose makes
  them: ``<prefix><stream name>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>[.gz]``;
- error records in Firehose's JSON shape, one per line: ``attemptsMade``, ``arrivalTimestamp``,
  ``errorCode``, ``errorMessage``, ``attemptEndingTimestamp``, ``rawData`` (base64 of the original
  record), ``lambdaArn``.

Error codes used: ``Lambda.FunctionError`` (the handler raised), ``Lambda.FunctionTimedOut`` (it
ran longer than the function's Timeout), ``Lambda.JsonProcessingException`` (the response is not a
JSON object with a ``records`` list), ``Lambda.ResponseSizeExceeded`` (over 6 MB),
``Lambda.MissingRecordId``, ``Lambda.DuplicatedRecordId``, ``Lambda.InvalidRecordResult``,
``Lambda.InvalidRecordData``, ``Lambda.ProcessingFailedStatus`` (the function said
ProcessingFailed), ``DynamicPartitioning.PartitionKeyMissing``. ``Lambda.InvalidRecordResult``,
``Lambda.InvalidRecordData``, ``Lambda.ResponseSizeExceeded`` and
``DynamicPartitioning.PartitionKeyMissing`` are this stand-in's own names (AWS's exact codes for
those cases are not documented); the others follow AWS.

Delivery is at-least-once: a Kinesis position is checkpointed only after every record up to it is in
S3 (or was dropped), so a kill -9 loses nothing and re-delivers at most the unfinished buffers.

Threads: a reader (Kinesis ``get_records``, Limit 10000), a processor (processor buffer, Lambda,
partition buffers) and an S3 writer (compression, ``put_object``, checkpoints).
"""

from __future__ import annotations

import binascii
import collections
import gzip
import importlib
import logging
import os
import queue
import random
import re
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from local_aws.checkpoints import (
    CheckpointStore,
    ShardReader,
    error_code,
    error_text,
    ready_shards,
    start_threads,
    stop_threads,
)

logger = logging.getLogger(__name__)

ClientFactory = Callable[[str], Any]

CONFIG_REFRESH_S = 5.0  # how often the delivery stream is described again (updates take effect)
SHARD_REFRESH_S = 10.0
# Pause when no shard returned a full page. Buffer deadlines count from each record's arrival in the
# stream, not from when it was read, so polling about once a second (as Firehose does) adds no
# latency; and each GetRecords costs moto a scan of the whole shard. Longer once the stream is quiet.
EMPTY_POLL_S = 0.5
IDLE_POLL_S = 1.0
IDLE_AFTER_S = 10.0
GET_RECORDS_LIMIT = 10_000  # Kinesis' maximum per GetRecords call
QUEUE_CHUNKS = 4
MIB = 1024 * 1024
LAMBDA_PAYLOAD_LIMIT = 6 * MIB
S3_BACKOFF_CAP_S = 5.0
CHECKPOINT_IDLE_FLUSH_S = 1.0
RESULTS = ("Ok", "Dropped", "ProcessingFailed")

DEFAULT_ERROR_PREFIX = "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"  # AWS's, when none is set
_KINESIS_ARN = re.compile(r"^arn:[\w-]+:kinesis:([\w-]+):(\d{12}):stream/(.+)$")
_EXPRESSION = re.compile(r"!\{([^:}]*):([^}]*)\}")


class FirehoseConfigError(ValueError):
    """The deployed delivery stream asks for something this stand-in cannot do; the message says what."""


class InvocationError(Exception):
    """The processor invocation failed as a whole (retried, then every record goes to the error prefix)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# --------------------------------------------------------------------------------------------------
# Java DateTimeFormatter patterns (the !{timestamp:...} namespace)

_PATTERN_TOKEN = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|[^A-Za-z']+")
_MONTHS = ("January February March April May June July August September October November December").split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def compile_java_date_format(pattern: str) -> Callable[[datetime], str]:
    """A formatter for a Java DateTimeFormatter pattern (the letters Firehose users use), in UTC.

    Supported: y (year), M (month, MMM/MMMM names), d, D (day of year), H, h, m, s, S (fraction),
    a (AM/PM), E (day name), quoted 'text' and literal punctuation. Raises FirehoseConfigError naming
    an unsupported letter.
    """
    parts: list[Callable[[datetime], str]] = []
    for match in _PATTERN_TOKEN.finditer(pattern):
        token = match.group(0)
        if token.startswith("'"):
            literal = token[1:-1].replace("''", "'") if len(token) > 2 else "'"  # '' is a quote
            parts.append(lambda _m, text=literal: text)
            continue
        letter, width = token[0], len(token)
        if not letter.isalpha():
            parts.append(lambda _m, text=token: text)
        elif letter in "yu":
            parts.append(
                (lambda m: f"{m.year % 100:02d}") if width == 2 else (lambda m, w=width: f"{m.year:0{w}d}")
            )
        elif letter == "M":
            if width >= 4:
                parts.append(lambda m: _MONTHS[m.month - 1])
            elif width == 3:
                parts.append(lambda m: _MONTHS[m.month - 1][:3])
            else:
                parts.append(lambda m, w=width: f"{m.month:0{w}d}")
        elif letter in "dHms":
            attribute = {"d": "day", "H": "hour", "m": "minute", "s": "second"}[letter]
            parts.append(lambda m, a=attribute, w=width: f"{getattr(m, a):0{w}d}")
        elif letter == "h":
            parts.append(lambda m, w=width: f"{(m.hour % 12) or 12:0{w}d}")
        elif letter == "D":
            parts.append(lambda m, w=width: f"{m.timetuple().tm_yday:0{w}d}")
        elif letter == "S":
            parts.append(lambda m, w=width: f"{m.microsecond:06d}"[:w].ljust(w, "0"))
        elif letter == "a":
            parts.append(lambda m: "AM" if m.hour < 12 else "PM")
        elif letter == "E":
            parts.append((lambda m: _DAYS[m.weekday()]) if width >= 4 else (lambda m: _DAYS[m.weekday()][:3]))
        else:
            raise FirehoseConfigError(
                f"timestamp pattern {pattern!r}: the letter {letter!r} is not supported by the local "
                "Firehose (use y, M, d, D, H, h, m, s, S, a, E and quoted text)."
            )
    return lambda moment: "".join(part(moment) for part in parts)


# --------------------------------------------------------------------------------------------------
# S3 prefixes with expressions


class PrefixTemplate:
    """A Firehose S3 prefix with ``!{namespace:value}`` expressions, compiled once.

    ``partition_key_names`` are the ``partitionKeyFromLambda`` keys it uses, in order; records are
    grouped by their values. Timestamps are evaluated once per object (the oldest record's arrival).
    """

    def __init__(self, text: str, *, error_prefix: bool) -> None:
        if error_prefix and not text:
            text = DEFAULT_ERROR_PREFIX
        self.text = text
        pieces: list[Callable[[Mapping[str, str], datetime, str], str]] = []
        names: list[str] = []
        position = 0
        uses_expressions = False
        for match in _EXPRESSION.finditer(text):
            uses_expressions = True
            literal = text[position : match.start()]
            pieces.append(lambda _k, _t, _e, literal=literal: literal)
            namespace, value = match.group(1), match.group(2)
            if namespace == "partitionKeyFromLambda":
                if error_prefix:
                    raise FirehoseConfigError(
                        f"ErrorOutputPrefix {text!r} uses !{{partitionKeyFromLambda:{value}}}; error records "
                        "have no partition keys (AWS rejects this too)."
                    )
                names.append(value)
                pieces.append(lambda keys, _t, _e, name=value: keys[name])
            elif namespace == "timestamp":
                formatter = compile_java_date_format(value)
                pieces.append(lambda _k, moment, _e, f=formatter: f(moment))
            elif namespace == "firehose" and value == "random-string":
                pieces.append(lambda _k, _t, _e: _random_string())
            elif namespace == "firehose" and value == "error-output-type":
                if not error_prefix:
                    raise FirehoseConfigError(
                        f"Prefix {text!r} uses !{{firehose:error-output-type}}, which only "
                        "ErrorOutputPrefix may use."
                    )
                pieces.append(lambda _k, _t, error_type: error_type)
            elif namespace == "partitionKeyFromQuery":
                raise FirehoseConfigError(
                    f"prefix {text!r} uses !{{partitionKeyFromQuery:{value}}} (jq partitioning), which the "
                    "local Firehose does not implement; return the key from the Lambda "
                    "(partitionKeyFromLambda)."
                )
            else:
                raise FirehoseConfigError(
                    f"prefix {text!r}: the expression !{{{namespace}:{value}}} is not one Firehose knows "
                    "(partitionKeyFromLambda, timestamp, firehose:random-string, firehose:error-output-type)."
                )
            position = match.end()
        tail = text[position:]
        if not uses_expressions:
            # AWS appends its default time prefix to a prefix without expressions.
            formatter = compile_java_date_format("yyyy/MM/dd/HH")
            pieces.append(lambda _k, moment, _e, tail=tail, f=formatter: tail + f(moment) + "/")
        else:
            pieces.append(lambda _k, _t, _e, tail=tail: tail)
        self._pieces = pieces
        self.partition_key_names: tuple[str, ...] = tuple(dict.fromkeys(names))

    def render(self, partition_keys: Mapping[str, str], arrival: datetime, error_type: str = "") -> str:
        """The evaluated prefix for one object."""
        return "".join(piece(partition_keys, arrival, error_type) for piece in self._pieces)


_RANDOM_ALPHABET = string.ascii_letters + string.digits


def _random_string() -> str:
    # Firehose's random-string is 11 characters.
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(11))


# --------------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class ProcessorConfig:
    """The Lambda processor of a delivery stream."""

    lambda_arn: str
    buffer_size_bytes: int
    buffer_interval_s: float
    number_of_retries: int


@dataclass(frozen=True)
class DeliveryStreamConfig:
    """The parts of ``describe_delivery_stream`` that decide how records are delivered."""

    name: str
    arn: str
    version_id: str
    status: str
    source_stream_arn: str
    region: str
    bucket: str
    prefix: PrefixTemplate
    error_prefix: PrefixTemplate
    buffer_size_bytes: int
    buffer_interval_s: float
    compression: str
    file_extension: str
    dynamic_partitioning: bool
    processor: ProcessorConfig | None
    append_delimiter: bool

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> DeliveryStreamConfig:
        """Validate the description; raises FirehoseConfigError naming what is unsupported."""
        name = description.get("DeliveryStreamName", "?")
        if description.get("DeliveryStreamType") != "KinesisStreamAsSource":
            raise FirehoseConfigError(
                f"delivery stream {name!r} is of type {description.get('DeliveryStreamType')!r}; the local "
                "Firehose reads Kinesis sources (KinesisStreamAsSource) only."
            )
        source = (description.get("Source") or {}).get("KinesisStreamSourceDescription") or {}
        source_arn = source.get("KinesisStreamARN", "")
        match = _KINESIS_ARN.match(source_arn)
        if not match:
            raise FirehoseConfigError(
                f"delivery stream {name!r}: source {source_arn!r} is not a Kinesis stream ARN."
            )
        destinations = description.get("Destinations") or []
        destination = destinations[0].get("ExtendedS3DestinationDescription") if destinations else None
        if not destination:
            raise FirehoseConfigError(
                f"delivery stream {name!r} has no ExtendedS3 destination; the local Firehose delivers to "
                "S3 only."
            )
        if (destination.get("DataFormatConversionConfiguration") or {}).get("Enabled"):
            raise FirehoseConfigError(
                f"delivery stream {name!r} converts record formats (DataFormatConversionConfiguration), "
                "which the local Firehose does not implement."
            )
        compression = destination.get("CompressionFormat", "UNCOMPRESSED")
        if compression not in ("UNCOMPRESSED", "GZIP"):
            raise FirehoseConfigError(
                f"delivery stream {name!r}: CompressionFormat {compression!r} is not implemented locally "
                "(UNCOMPRESSED, GZIP)."
            )
        hints = destination.get("BufferingHints") or {}
        dynamic = bool((destination.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
        processor, append_delimiter = _processors(name, destination.get("ProcessingConfiguration") or {})
        prefix = PrefixTemplate(destination.get("Prefix", "") or "", error_prefix=False)
        if prefix.partition_key_names and not (dynamic and processor):
            raise FirehoseConfigError(
                f"delivery stream {name!r}: Prefix {prefix.text!r} uses partitionKeyFromLambda, which needs "
                "DynamicPartitioningConfiguration.Enabled and a Lambda processor."
            )
        bucket_arn = destination.get("BucketARN", "")
        return cls(
            name=name,
            arn=description.get("DeliveryStreamARN", ""),
            version_id=str(description.get("VersionId", "1")),
            status=description.get("DeliveryStreamStatus", "ACTIVE"),
            source_stream_arn=source_arn,
            region=match.group(1),
            bucket=bucket_arn.split(":::", 1)[-1],
            prefix=prefix,
            error_prefix=PrefixTemplate(destination.get("ErrorOutputPrefix", "") or "", error_prefix=True),
            buffer_size_bytes=int(float(hints.get("SizeInMBs", 5)) * MIB),
            buffer_interval_s=float(hints.get("IntervalInSeconds", 300)),
            compression=compression,
            file_extension=destination.get("FileExtension") or (".gz" if compression == "GZIP" else ""),
            dynamic_partitioning=dynamic,
            processor=processor,
            append_delimiter=append_delimiter,
        )


def _processors(name: str, processing: Mapping[str, Any]) -> tuple[ProcessorConfig | None, bool]:
    if not processing.get("Enabled"):
        return None, False
    lambda_processor: ProcessorConfig | None = None
    append_delimiter = False
    for processor in processing.get("Processors", []):
        kind = processor.get("Type")
        params = {p["ParameterName"]: p["ParameterValue"] for p in processor.get("Parameters", [])}
        if kind == "Lambda":
            if "LambdaArn" not in params:
                raise FirehoseConfigError(f"delivery stream {name!r}: the Lambda processor has no LambdaArn.")
            lambda_processor = ProcessorConfig(
                lambda_arn=params["LambdaArn"],
                # AWS defaults: 1 MB (0.2..3), 60 s (0..900), 3 retries.
                buffer_size_bytes=int(float(params.get("BufferSizeInMBs", 1)) * MIB),
                buffer_interval_s=float(params.get("BufferIntervalInSeconds", 60)),
                number_of_retries=int(params.get("NumberOfRetries", 3)),
            )
        elif kind == "AppendDelimiterToRecord":
            append_delimiter = True
        elif kind == "MetadataExtraction":
            raise FirehoseConfigError(
                f"delivery stream {name!r}: the MetadataExtraction (jq) processor is not implemented "
                "locally; return partition keys from the Lambda instead."
            )
        else:
            raise FirehoseConfigError(
                f"delivery stream {name!r}: processor type {kind!r} is not implemented locally."
            )
    return lambda_processor, append_delimiter


def read_delivery_stream_config(client: Any, name: str) -> DeliveryStreamConfig:
    """Read a delivery stream's configuration back from the (emulated) Firehose API."""
    description = client.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    return DeliveryStreamConfig.from_description(description)


# --------------------------------------------------------------------------------------------------
# the Lambda processor, called in-process


class LambdaContext:
    """The context object a Python Lambda handler receives (the attributes handlers use)."""

    def __init__(self, configuration: Mapping[str, Any]) -> None:
        self.function_name = configuration.get("FunctionName", "")
        self.function_version = configuration.get("Version", "$LATEST")
        self.invoked_function_arn = configuration.get("FunctionArn", "")
        self.memory_limit_in_mb = int(configuration.get("MemorySize", 128))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + float(configuration.get("Timeout", 3))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LambdaFunction:
    """A deployed function resolved to its handler in this process (``Handler`` = ``module.function``)."""

    def __init__(self, configuration: Mapping[str, Any]) -> None:
        self.configuration = dict(configuration)
        self.arn = configuration["FunctionArn"]
        self.timeout_s = float(configuration.get("Timeout", 3))
        handler = configuration.get("Handler", "")
        module_name, _, function_name = handler.rpartition(".")
        if not module_name or not function_name:
            raise FirehoseConfigError(
                f"function {self.arn}: Handler {handler!r} is not of the form module.function."
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise FirehoseConfigError(
                f"function {self.arn}: cannot import handler module {module_name!r} ({exc}); the local "
                "Firehose runs the processor in-process, so its code must be importable from this checkout."
            ) from exc
        self.handler = getattr(module, function_name, None)
        if not callable(self.handler):
            raise FirehoseConfigError(
                f"function {self.arn}: module {module_name!r} has no callable {function_name!r}."
            )
        # The function's environment, as the Lambda runtime would set it (never overriding this process).
        for key, value in ((configuration.get("Environment") or {}).get("Variables") or {}).items():
            os.environ.setdefault(key, value)

    @classmethod
    def resolve(cls, client: Any, arn: str) -> LambdaFunction:
        """Look the function up in the (emulated) Lambda API and import its handler."""
        return cls(client.get_function(FunctionName=arn)["Configuration"])

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler like a synchronous invocation; returns the JSON-decoded response."""
        context = LambdaContext(self.configuration)
        started = time.monotonic()
        try:
            response = self.handler(event, context)
        except Exception as exc:
            raise InvocationError("Lambda.FunctionError", f"{type(exc).__name__}: {exc}") from exc
        if time.monotonic() - started > self.timeout_s:
            raise InvocationError(
                "Lambda.FunctionTimedOut", f"the function ran longer than its Timeout of {self.timeout_s:g} s"
            )
        try:
            # The runtime serializes the answer; what cannot be serialized is an invocation error.
            payload = orjson.dumps(response, option=orjson.OPT_NON_STR_KEYS)
        except TypeError as exc:
            raise InvocationError(
                "Lambda.JsonProcessingException", f"the response is not JSON: {exc}"
            ) from exc
        if len(payload) > LAMBDA_PAYLOAD_LIMIT:
            raise InvocationError(
                "Lambda.ResponseSizeExceeded",
                f"the response has {len(payload)} bytes; a synchronous Lambda response is limited to "
                f"{LAMBDA_PAYLOAD_LIMIT}",
            )
        return response


# --------------------------------------------------------------------------------------------------
# records, checkpoints and buffers


class _Ticket:
    """Records of one GetRecords answer on one shard; the checkpoint moves past it when all are done."""

    __slots__ = ("tracker", "shard_id", "last_sequence", "remaining", "end_of_shard", "first_arrival_ms")

    def __init__(self, tracker: _Tracker, shard_id: str, last_sequence: str | None, remaining: int,
                 first_arrival_ms: int, end: bool) -> None:  # fmt: skip
        self.tracker = tracker
        self.shard_id = shard_id
        self.last_sequence = last_sequence
        self.remaining = remaining
        self.first_arrival_ms = first_arrival_ms
        self.end_of_shard = end


class _Tracker:
    """Per-shard tickets in read order; advances the checkpoint over the completed prefix."""

    def __init__(self, store: CheckpointStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._tickets: dict[str, collections.deque[_Ticket]] = {}

    def open(self, ticket: _Ticket) -> None:
        with self._lock:
            self._tickets.setdefault(ticket.shard_id, collections.deque()).append(ticket)
            if ticket.remaining == 0:
                self._advance(ticket.shard_id)

    def _done(self, counts: Mapping[_Ticket, int]) -> None:
        with self._lock:
            shards = set()
            for ticket, count in counts.items():
                ticket.remaining -= count
                shards.add(ticket.shard_id)
            for shard_id in shards:
                self._advance(shard_id)

    def _advance(self, shard_id: str) -> None:
        tickets = self._tickets.get(shard_id)
        while tickets and tickets[0].remaining <= 0:
            ticket = tickets.popleft()
            if ticket.last_sequence is not None:
                self.store.advance(shard_id, ticket.last_sequence)
            if ticket.end_of_shard:
                self.store.finish(shard_id)

    def oldest_arrival_ms(self) -> int | None:
        with self._lock:
            fronts = [tickets[0].first_arrival_ms for tickets in self._tickets.values() if tickets]
        return min(fronts) if fronts else None


def _complete(counts: Mapping[_Ticket, int]) -> set[_Tracker]:
    """Mark records done (by ticket); returns the trackers whose checkpoints may have moved."""
    by_tracker: dict[_Tracker, dict[_Ticket, int]] = {}
    for ticket, count in counts.items():
        by_tracker.setdefault(ticket.tracker, {})[ticket] = count
    for tracker, tickets in by_tracker.items():
        tracker._done(tickets)
    return set(by_tracker)


class _Record:
    """One Kinesis record inside the delivery stream."""

    __slots__ = ("ticket", "shard_id", "sequence_number", "partition_key", "arrival_ms", "arrival", "data")

    def __init__(
        self,
        ticket: _Ticket,
        shard_id: str,
        sequence_number: str,
        partition_key: str,
        arrival_ms: int,
        data: bytes,
    ) -> None:
        self.ticket = ticket
        self.shard_id = shard_id
        self.sequence_number = sequence_number
        self.partition_key = partition_key
        self.arrival_ms = arrival_ms
        self.data = data
        self.arrival = arrival_ms / 1000  # epoch seconds: buffer deadlines count from here


class _Buffer:
    """Bytes waiting for one S3 object (one partition, or one error-output type)."""

    __slots__ = ("parts", "size", "opened", "oldest_arrival_ms", "tickets", "records", "keys", "error_type")

    def __init__(self, keys: Mapping[str, str], error_type: str) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.opened = float("inf")  # arrival (epoch seconds) of the oldest record
        self.oldest_arrival_ms = 2**62
        self.tickets: collections.Counter[_Ticket] = collections.Counter()
        self.records = 0
        self.keys = keys
        self.error_type = error_type

    def add(self, record: _Record, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)
        self.records += 1
        self.tickets[record.ticket] += 1
        if record.arrival < self.opened:
            self.opened = record.arrival
        if record.arrival_ms < self.oldest_arrival_ms:
            self.oldest_arrival_ms = record.arrival_ms


@dataclass
class _S3Object:
    bucket: str
    key: str
    parts: list[bytes]
    compression: str
    tickets: collections.Counter[_Ticket]
    records: int
    error_type: str


def _ms(moment: Any) -> int:
    if isinstance(moment, datetime):
        return int(moment.timestamp() * 1000)
    return int(float(moment) * 1000) if moment is not None else int(time.time() * 1000)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _backoff(attempt: int, cap: float = S3_BACKOFF_CAP_S) -> float:
    return min(cap, 0.1 * 2 ** max(0, attempt - 1)) * random.uniform(0.5, 1.0)  # noqa: S311


# --------------------------------------------------------------------------------------------------
# the response contract


@dataclass
class ProcessedBatch:
    """How one invocation's records came out."""

    ok: list[tuple[_Record, bytes, Mapping[str, Any]]]  # record, data, partition keys
    dropped: list[_Record]
    failed: list[tuple[_Record, str, str]]  # record, errorCode, errorMessage
    unknown_ids: int = 0


def apply_response(records: list[_Record], record_ids: list[str], response: Any) -> ProcessedBatch:
    """Check a processor response against the contract and sort its records.

    Raises InvocationError when the response as a whole is unusable (not an object with a ``records``
    list); everything else is judged per input record.
    """
    if not isinstance(response, dict) or not isinstance(response.get("records"), list):
        shown = type(response).__name__ if not isinstance(response, dict) else f"keys {sorted(response)[:5]}"
        raise InvocationError(
            "Lambda.JsonProcessingException",
            f"the response must be an object with a 'records' list, got {shown}",
        )
    index = {record_id: position for position, record_id in enumerate(record_ids)}
    answers: list[Any] = [None] * len(records)
    duplicated: set[int] = set()
    unknown = 0
    for answer in response["records"]:
        position = index.get(answer.get("recordId")) if isinstance(answer, dict) else None
        if position is None:
            unknown += 1
            continue
        if answers[position] is not None:
            duplicated.add(position)
        answers[position] = answer
    result = ProcessedBatch([], [], [], unknown)
    a2b = binascii.a2b_base64
    for position, record in enumerate(records):
        answer = answers[position]
        if answer is None:
            result.failed.append(
                (record, "Lambda.MissingRecordId", f"no answer for recordId {record_ids[position]}")
            )
            continue
        if position in duplicated:
            result.failed.append(
                (
                    record,
                    "Lambda.DuplicatedRecordId",
                    f"recordId {record_ids[position]} was answered more than once",
                )
            )
            continue
        status = answer.get("result")
        if status == "Ok":
            data = answer.get("data")
            try:
                if not isinstance(data, str):
                    raise ValueError(f"'data' is {type(data).__name__}, not base64 text")
                decoded = a2b(data, strict_mode=True)
            except (binascii.Error, ValueError) as exc:
                result.failed.append(
                    (record, "Lambda.InvalidRecordData", f"Ok record with invalid data: {exc}")
                )
                continue
            metadata = answer.get("metadata")
            keys = metadata.get("partitionKeys") if isinstance(metadata, dict) else None
            result.ok.append((record, decoded, keys if isinstance(keys, dict) else {}))
        elif status == "Dropped":
            result.dropped.append(record)
        elif status == "ProcessingFailed":
            result.failed.append(
                (record, "Lambda.ProcessingFailedStatus", "ProcessingFailed status returned from Lambda")
            )
        else:
            result.failed.append(
                (
                    record,
                    "Lambda.InvalidRecordResult",
                    f"result {status!r} is not one of {', '.join(RESULTS)}",
                )
            )
    return result


def error_record(
    record: _Record, code: str, message: str, attempts: int, lambda_arn: str, ended_ms: int
) -> bytes:
    """One line of Firehose's error-output JSON for a record."""
    return (
        orjson.dumps(
            {
                "attemptsMade": attempts,
                "arrivalTimestamp": record.arrival_ms,
                "errorCode": code,
                "errorMessage": message,
                "attemptEndingTimestamp": ended_ms,
                "rawData": binascii.b2a_base64(record.data, newline=False).decode(),
                "lambdaArn": lambda_arn,
            }
        )
        + b"\n"
    )


def object_name(config: DeliveryStreamConfig, arrival: datetime) -> str:
    """The object name Firehose appends to the evaluated prefix."""
    return (
        f"{config.name}-{config.version_id}-{arrival:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{config.file_extension}"
    )


# --------------------------------------------------------------------------------------------------
# the pump


@dataclass
class _Chunk:
    tracker: _Tracker
    records: list[_Record]


class LocalFirehose:
    """The Firehose stand-in: ``start()`` runs its threads, ``stop()`` flushes buffers and ends them."""

    def __init__(self, delivery_stream_name: str, clients: ClientFactory, checkpoint_dir: Path) -> None:
        self.delivery_stream_name = delivery_stream_name
        self.checkpoint_dir = Path(checkpoint_dir)
        self._firehose = clients("firehose")
        self._kinesis = clients("kinesis")
        self._lambda = clients("lambda")
        self._s3 = clients("s3")
        self._config: DeliveryStreamConfig | None = None
        self._config_read_at = 0.0
        self._config_lock = threading.Lock()
        self._function: LambdaFunction | None = None
        self._queue: queue.Queue[_Chunk | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._s3_queue: queue.Queue[_S3Object | None] = queue.Queue(maxsize=8)
        self._stopping = threading.Event()
        self._abort = threading.Event()
        self._threads: list[threading.Thread] = []
        self._tracker: _Tracker | None = None
        self.counters: dict[str, int] = collections.defaultdict(int)
        self.state = "STARTING"
        self.last_error = ""
        self.millis_behind = 0
        self._touched: set[_Tracker] = set()  # trackers of earlier stream incarnations still finishing
        # Records in the processor buffer and in the S3 (partition) buffers.
        self.buffer_levels = (0, 0)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalFirehose:
        """Start the reader, processor and S3 writer threads (returns immediately)."""
        self._threads = start_threads(
            {
                "firehose-reader": self._guard(self._read_loop),
                "firehose-processor": self._guard(self._process_loop),
                "firehose-s3-writer": self._guard(self._write_loop),
            }
        )
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reading; process, write and checkpoint every buffered record (up to ``timeout`` s)."""
        stop_threads(self._threads, self._stopping, self._abort, timeout)
        self.state = "STOPPED_LOCALLY"

    @property
    def alive(self) -> bool:
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def health(self) -> dict[str, Any]:
        """Counters, state and lag (behind the stream tip, or age of the oldest record not yet in S3)."""
        c = self.counters
        oldest = self._tracker.oldest_arrival_ms() if self._tracker else None
        lag = max(self.millis_behind / 1000, (time.time() * 1000 - oldest) / 1000 if oldest else 0.0)
        return {
            "alive": self.alive,
            "state": self.state,
            "records_read": c["records_read"],
            "rows_delivered": c["rows_delivered"],
            "records_failed": c["records_failed"],
            "records_dropped": c["records_dropped"],
            "buffered": c["records_read"] - c["rows_delivered"] - c["records_failed"] - c["records_dropped"],
            "lag_s": round(max(0.0, lag), 1),
            "processor_buffer": self.buffer_levels[0],
            "delivery_buffers": self.buffer_levels[1],
            "objects": c["objects_written"],
            "error_objects": c["error_objects_written"],
            "bytes": c["bytes_written"],
            "invocations": c["invocations"],
            "invocation_failures": c["invocation_failures"],
            "errors": c["source_errors"] + c["s3_errors"] + c["invocation_failures"],
            "last_error": self.last_error,
        }

    def _guard(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                loop()
            except Exception as exc:
                logger.exception("local firehose %s: %s crashed", self.delivery_stream_name, loop.__name__)
                self.last_error = f"{loop.__name__} crashed: {error_text(exc)}"
                self.state = "CRASHED"
                self._abort.set()
                self._stopping.set()
                raise

        return run

    def _note_error(self, counter: str, exc: BaseException | str) -> None:
        text = exc if isinstance(exc, str) else error_text(exc)
        self.counters[counter] += 1
        self.last_error = text
        logger.warning("local firehose %s: %s", self.delivery_stream_name, text)

    # ------------------------------------------------------------------ configuration

    def config(self, refresh: bool = False) -> DeliveryStreamConfig | None:
        """The delivery stream's configuration, described again when older than CONFIG_REFRESH_S."""
        with self._config_lock:
            now = time.monotonic()
            if not refresh and self._config is not None and now - self._config_read_at < CONFIG_REFRESH_S:
                return self._config
            self._config_read_at = now
            try:
                config = read_delivery_stream_config(self._firehose, self.delivery_stream_name)
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    self._config, self.state = None, "NOT_FOUND"
                else:
                    self._note_error("source_errors", exc)
                return self._config
            except BotoCoreError as exc:
                self._note_error("source_errors", exc)
                return self._config
            except FirehoseConfigError as exc:
                self._config, self.state, self.last_error = None, "UNSUPPORTED_CONFIG", str(exc)
                return None
            if config.processor and (
                self._function is None or self._function.arn != config.processor.lambda_arn
            ):
                try:
                    self._function = LambdaFunction.resolve(self._lambda, config.processor.lambda_arn)
                except (ClientError, BotoCoreError, FirehoseConfigError) as exc:
                    self._function = None
                    self.state = "PROCESSOR_UNAVAILABLE"
                    self.last_error = f"processor {config.processor.lambda_arn}: {error_text(exc)}"
                    self._config = None
                    return None
            self._config, self.state = config, config.status
            return config

    # ------------------------------------------------------------------ reader

    def _read_loop(self) -> None:
        source_arn: str | None = None
        tracker: _Tracker | None = None
        shards: dict[str, ShardReader] = {}
        known: set[str] = set()
        shards_read_at = 0.0
        attempt = 0
        last_records = time.monotonic()
        while not self._stopping.is_set():
            config = self.config()
            if config is None or config.status != "ACTIVE":
                self._stopping.wait(0.5)
                continue
            try:
                if config.source_stream_arn != source_arn:
                    summary = self._kinesis.describe_stream_summary(StreamARN=config.source_stream_arn)
                    created = summary["StreamDescriptionSummary"].get("StreamCreationTimestamp")
                    incarnation = created.isoformat() if isinstance(created, datetime) else str(created)
                    store = CheckpointStore(
                        self.checkpoint_dir,
                        f"firehose-{self.delivery_stream_name}",
                        config.source_stream_arn,
                        incarnation,
                    )
                    tracker = self._tracker = _Tracker(store)
                    source_arn = config.source_stream_arn
                    shards, known, shards_read_at = {}, set(), 0.0
                assert tracker is not None and source_arn is not None
                if time.monotonic() - shards_read_at >= SHARD_REFRESH_S or not shards:
                    listed = self._list_shards(source_arn)
                    shards_read_at = time.monotonic()
                    known |= set(listed)
                    for shard_id, parent_id in listed.items():
                        position = tracker.store.position(shard_id)
                        if shard_id not in shards and not (position and position.finished):
                            shards[shard_id] = ShardReader(shard_id, parent_id)
                got, full = 0, False
                for shard in ready_shards(shards, tracker.store, known):
                    if self._stopping.is_set():
                        break
                    count = self._read_shard(source_arn, shard, tracker)
                    got, full = got + count, full or count >= GET_RECORDS_LIMIT
                attempt = 0
            except (ClientError, BotoCoreError) as exc:
                attempt += 1
                self._note_error("source_errors", exc)
                if error_code(exc) == "ResourceNotFoundException":
                    source_arn = None  # re-provisioned: a new stream incarnation, new checkpoints
                    self.config(refresh=True)
                self._stopping.wait(_backoff(attempt))
                continue
            if got:
                last_records = time.monotonic()
            if not full:
                # Caught up: wait before the next poll. moto scans the whole shard on every GetRecords,
                # so a tight loop of small answers would steal the emulator's CPU from the Pipe's reads.
                quiet = time.monotonic() - last_records > IDLE_AFTER_S
                self._stopping.wait(IDLE_POLL_S if quiet else EMPTY_POLL_S)
        self._put(self._queue, None)

    def _list_shards(self, stream_arn: str) -> dict[str, str | None]:
        shards: dict[str, str | None] = {}
        kwargs: dict[str, Any] = {"StreamARN": stream_arn}
        while True:
            response = self._kinesis.list_shards(**kwargs)
            for shard in response.get("Shards", []):
                shards[shard["ShardId"]] = shard.get("ParentShardId")
            token = response.get("NextToken")
            if not token:
                return shards
            kwargs = {"NextToken": token}

    def _read_shard(self, stream_arn: str, shard: ShardReader, tracker: _Tracker) -> int:
        """One GetRecords call on a shard; queues what it got and returns how many records came back."""
        if shard.iterator is None:
            position = tracker.store.position(shard.shard_id)
            after = shard.last_read or (position.sequence_number if position else None)
            kwargs: dict[str, Any] = {"StreamARN": stream_arn, "ShardId": shard.shard_id}
            if after:
                kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
            else:
                kwargs.update(ShardIteratorType="TRIM_HORIZON")  # Firehose reads a new source from its start
            shard.iterator = self._kinesis.get_shard_iterator(**kwargs)["ShardIterator"]
        try:
            response = self._kinesis.get_records(
                ShardIterator=shard.iterator, Limit=GET_RECORDS_LIMIT, StreamARN=stream_arn
            )
        except ClientError as exc:
            if error_code(exc) == "ExpiredIteratorException":
                shard.iterator = None
                return 0
            raise
        shard.iterator = response.get("NextShardIterator")
        self.millis_behind = int(response.get("MillisBehindLatest", 0) or 0)
        raw = response.get("Records", [])
        if shard.iterator is None:
            shard.exhausted = True
        if not raw and not shard.exhausted:
            return 0
        last = raw[-1]["SequenceNumber"] if raw else None
        if last:
            shard.last_read = last
        first_arrival = _ms(raw[0].get("ApproximateArrivalTimestamp")) if raw else int(time.time() * 1000)
        ticket = _Ticket(tracker, shard.shard_id, last, len(raw), first_arrival, shard.exhausted)
        records = [
            _Record(
                ticket,
                shard.shard_id,
                r["SequenceNumber"],
                r.get("PartitionKey", ""),
                _ms(r.get("ApproximateArrivalTimestamp")),
                r["Data"],
            )
            for r in raw
        ]
        tracker.open(ticket)
        self.counters["records_read"] += len(records)
        if records:
            self._put(self._queue, _Chunk(tracker, records))
        return len(records)

    def _put(self, target: queue.Queue, item: Any) -> bool:
        while not self._abort.is_set():
            try:
                target.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    # ------------------------------------------------------------------ processor

    def _process_loop(self) -> None:
        pending: list[_Record] = []  # the processor buffer
        pending_bytes = 0
        pending_opened = 0.0  # arrival (epoch seconds) of the oldest record in the processor buffer
        buffers: dict[tuple[Any, ...], _Buffer] = {}  # one per partition / error-output type
        reader_done = False
        while not self._abort.is_set():
            config = self._config
            if config is None:
                # No usable configuration (deleted, unsupported, processor missing): hold the records.
                # Nothing held is checkpointed, so stopping now loses nothing.
                if self._stopping.is_set():
                    break
                self._abort.wait(0.5)
                continue
            processor = config.processor
            now = time.time()
            deadlines = [buffer.opened + config.buffer_interval_s for buffer in buffers.values()]
            if pending and processor:
                deadlines.append(pending_opened + processor.buffer_interval_s)
            wait = min(0.5, max(0.0, min(deadlines) - now)) if deadlines else 0.5
            if not reader_done:
                try:
                    chunk = self._queue.get(timeout=wait)
                except queue.Empty:
                    chunk = False
                if chunk is None:
                    reader_done = True  # stopping: process and write everything that was read
                elif chunk:
                    for record in chunk.records:
                        if processor is None:
                            self._route_unprocessed(config, record, buffers)
                            continue
                        if not pending or record.arrival < pending_opened:
                            pending_opened = record.arrival
                        pending.append(record)
                        pending_bytes += len(record.data)
                        if pending_bytes >= processor.buffer_size_bytes:
                            self._invoke(config, pending, buffers)
                            pending, pending_bytes = [], 0
            elif wait:
                self._abort.wait(0.01)
            now = time.time()
            if pending and processor and (reader_done or now - pending_opened >= processor.buffer_interval_s):
                self._invoke(config, pending, buffers)
                pending, pending_bytes = [], 0
            due = [
                key
                for key, buffer in buffers.items()
                if reader_done
                or buffer.size >= config.buffer_size_bytes
                or now - buffer.opened >= config.buffer_interval_s
            ]
            for key in due:
                self._flush(config, buffers.pop(key))
            self.buffer_levels = (len(pending), sum(buffer.records for buffer in buffers.values()))
            if reader_done and not pending and not buffers:
                break
        self._put(self._s3_queue, None)

    def _route_unprocessed(self, config: DeliveryStreamConfig, record: _Record, buffers: dict) -> None:
        data = record.data + (b"\n" if config.append_delimiter else b"")
        if config.prefix.partition_key_names:
            now_ms = int(time.time() * 1000)
            reason = "no processor returns the partition keys the prefix uses"
            line = error_record(record, "DynamicPartitioning.PartitionKeyMissing", reason, 0, "", now_ms)
            self._buffer(buffers, ("error", "partitioning-failed"), {}, "partitioning-failed", record, line)
        else:
            self._buffer(buffers, ("ok",), {}, "", record, data)

    def _buffer(self, buffers: dict, key: tuple, keys: Mapping[str, str], error_type: str, record: _Record,
                data: bytes) -> None:  # fmt: skip
        buffer = buffers.get(key)
        if buffer is None:
            buffer = buffers[key] = _Buffer(keys, error_type)
        buffer.add(record, data)

    def _invoke(self, config: DeliveryStreamConfig, records: list[_Record], buffers: dict) -> None:
        """Call the processor for a batch (with retries) and route every record to a buffer or drop it."""
        processor = config.processor
        assert processor is not None
        record_ids = [f"{r.sequence_number}{position:08d}" for position, r in enumerate(records)]
        b2a = binascii.b2a_base64
        event_records = [
            {
                "recordId": record_id,
                "approximateArrivalTimestamp": r.arrival_ms,
                "data": b2a(r.data, newline=False).decode(),
                "kinesisRecordMetadata": {
                    "shardId": r.shard_id,
                    "partitionKey": r.partition_key,
                    "approximateArrivalTimestamp": r.arrival_ms,
                    "sequenceNumber": r.sequence_number,
                    "subsequenceNumber": 0,
                },
            }
            for record_id, r in zip(record_ids, records, strict=True)
        ]
        attempts = 0
        failure: InvocationError | None = None
        outcome: ProcessedBatch | None = None
        while attempts <= processor.number_of_retries and not self._abort.is_set():
            attempts += 1
            self.counters["invocations"] += 1
            event = {
                "invocationId": str(uuid.uuid4()),
                "deliveryStreamArn": config.arn,
                "sourceKinesisStreamArn": config.source_stream_arn,
                "region": config.region,
                "records": [dict(r) for r in event_records],  # a handler may mutate its event
            }
            try:
                if self._function is None or self._function.arn != processor.lambda_arn:
                    self._function = LambdaFunction.resolve(self._lambda, processor.lambda_arn)
                outcome = apply_response(records, record_ids, self._function.invoke(event))
                break
            except InvocationError as exc:
                failure = exc
                self._note_error("invocation_failures", f"processor {processor.lambda_arn}: {exc}")
            except (ClientError, BotoCoreError, FirehoseConfigError) as exc:
                failure = InvocationError("Lambda.ResourceNotFound", error_text(exc))
                self._note_error("invocation_failures", f"processor {processor.lambda_arn}: {failure}")
            if attempts <= processor.number_of_retries:
                self._abort.wait(min(1.0, 0.05 * 2**attempts))
        ended = int(time.time() * 1000)
        if outcome is None:
            failure = failure or InvocationError(
                "Lambda.FunctionError", "the data plane stopped while retrying"
            )
            outcome = ProcessedBatch([], [], [(r, failure.code, failure.message) for r in records])
        if outcome.unknown_ids:
            self._note_error(
                "contract_violations", f"the processor answered {outcome.unknown_ids} unknown recordIds"
            )
        names = config.prefix.partition_key_names
        delimiter = b"\n" if config.append_delimiter else b""
        for record, data, partition_keys in outcome.ok:
            if names:
                values = tuple(partition_keys.get(name) for name in names)
                if not all(isinstance(v, str) and v for v in values):
                    missing = [
                        n for n, v in zip(names, values, strict=True) if not (isinstance(v, str) and v)
                    ]
                    line = error_record(record, "DynamicPartitioning.PartitionKeyMissing",
                                        f"the processor returned no partition key {', '.join(missing)}",
                                        attempts, processor.lambda_arn, ended)  # fmt: skip
                    self._buffer(
                        buffers, ("error", "partitioning-failed"), {}, "partitioning-failed", record, line
                    )
                    continue
                key = ("ok", *values)
                keys = dict(zip(names, values, strict=True))
            else:
                key, keys = ("ok",), {}
            self._buffer(buffers, key, keys, "", record, data + delimiter)
        for record, code, message in outcome.failed:
            line = error_record(record, code, message, attempts, processor.lambda_arn, ended)
            self._buffer(buffers, ("error", "processing-failed"), {}, "processing-failed", record, line)
        if outcome.dropped:
            self.counters["records_dropped"] += len(outcome.dropped)
            _complete(collections.Counter(r.ticket for r in outcome.dropped))

    def _flush(self, config: DeliveryStreamConfig, buffer: _Buffer) -> None:
        arrival = _utc(buffer.oldest_arrival_ms)
        if buffer.error_type:
            prefix = config.error_prefix.render({}, arrival, buffer.error_type)
        else:
            prefix = config.prefix.render(buffer.keys, arrival)
        self._put(
            self._s3_queue,
            _S3Object(
                config.bucket,
                prefix + object_name(config, arrival),
                buffer.parts,
                config.compression,
                buffer.tickets,
                buffer.records,
                buffer.error_type,
            ),  # fmt: skip
        )

    # ------------------------------------------------------------------ S3 writer

    def _write_loop(self) -> None:
        last_flush = time.monotonic()
        while not self._abort.is_set():
            try:
                item = self._s3_queue.get(timeout=0.5)
            except queue.Empty:
                item = False
            if item is None:
                break
            if item:
                self._write_object(item)
            # Checkpoint after every object; also when idle, for records the processor dropped.
            if item or time.monotonic() - last_flush >= CHECKPOINT_IDLE_FLUSH_S:
                self._flush_checkpoints()
                last_flush = time.monotonic()
        if not self._abort.is_set():
            self._flush_checkpoints()

    def _flush_checkpoints(self) -> None:
        trackers = set(self._touched)
        if self._tracker is not None:
            trackers.add(self._tracker)
        for tracker in trackers:
            tracker.store.flush()
        self._touched -= {t for t in trackers if t is not self._tracker}

    def _write_object(self, item: _S3Object) -> None:
        body = b"".join(item.parts)
        if item.compression == "GZIP":
            body = gzip.compress(body, compresslevel=6)
        attempt = 0
        while True:
            if self._abort.is_set():
                return  # not written, not checkpointed: read again after a restart
            try:
                self._s3.put_object(Bucket=item.bucket, Key=item.key, Body=body)
                break
            except (ClientError, BotoCoreError) as exc:
                attempt += 1
                self._note_error("s3_errors", f"put s3://{item.bucket}/{item.key}: {error_text(exc)}")
                self._abort.wait(_backoff(attempt))
        if item.error_type:
            self.counters["records_failed"] += item.records
            self.counters["error_objects_written"] += 1
        else:
            self.counters["rows_delivered"] += item.records
            self.counters["objects_written"] += 1
        self.counters["bytes_written"] += len(body)
        self._touched |= _complete(item.tickets)


def iter_objects(s3: Any, bucket: str, prefix: str) -> Iterable[dict[str, Any]]:
    """Every object under a prefix (list_objects_v2, paginated)."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = s3.list_objects_v2(**kwargs)
        yield from page.get("Contents", [])
        if not page.get("IsTruncated"):
            return
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
