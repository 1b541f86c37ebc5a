"""Local EventBridge Pipe: moves DynamoDB Stream records to the Kinesis target, as the deployed Pipe says.

moto keeps a Pipe's configuration but moves no data, so this pump does what AWS would. It reads the
Pipe back from the emulator (``pipes.describe_pipe``) and honours:

- ``Source`` (the DynamoDB stream ARN) and ``StartingPosition`` (TRIM_HORIZON / LATEST; it applies to
  the shards open when the pipe first starts; child shards are read from their start);
- ``BatchSize`` and ``MaximumBatchingWindowInSeconds``: a batch goes to the target when it holds
  BatchSize records or its first record has waited the window;
- ``Target`` (a Kinesis stream) with ``KinesisStreamParameters.PartitionKey``: a JSON path such as
  ``$.dynamodb.Keys.orderId.S`` evaluated against each event, or a static key;
- ``DesiredState`` / ``CurrentState``: a pipe that is not RUNNING moves nothing; the configuration is
  read again every few seconds, so stop/start and updates take effect while running;
- ``MaximumRetryAttempts`` (-1: forever) with exponential backoff, then ``DeadLetterConfig`` (SQS): the
  dead-letter message describes the failed batch (shard, first/last sequence number) as AWS does for
  stream sources, so the records can be read again from the stream.

Each record is delivered as the JSON AWS Pipes sends for a DynamoDB stream source: ``eventID``,
``eventName``, ``eventVersion``, ``eventSource`` ("aws:dynamodb"), ``awsRegion``, ``dynamodb`` (with
``ApproximateCreationDateTime`` as epoch seconds, a number) and ``eventSourceARN`` (the stream ARN).

Delivery is at-least-once: per shard, the sequence number of the last record Kinesis acknowledged is
checkpointed durably (:mod:`local_aws.checkpoints`); after a crash reading resumes after it.

Shards are handled generally (paginated ``describe_stream``, closed shards read to their end, a child
shard read only after its parent), although moto's streams have a single shard that never closes.

Threads: a reader issues ``get_records`` (Limit 1000) back to back and queues the records; a writer
batches, encodes and puts them to Kinesis. The emulator's Streams serializer is the bottleneck, so the
reader does nothing else.
"""

from __future__ import annotations

import base64
import functools
import logging
import queue
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

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

CONFIG_REFRESH_S = 2.0  # how often the Pipe's configuration is read again (stop/start, updates)
SHARD_REFRESH_S = 10.0  # how often the stream's shard list is read again (new child shards)
# Pause after a round in which no shard had records: short while changes keep coming (freshness),
# growing to IDLE_POLL_S when the stream has been quiet (each empty poll costs the emulator a little).
EMPTY_POLL_S = 0.1
IDLE_POLL_S = 1.0
IDLE_AFTER_S = 10.0
GET_RECORDS_LIMIT = 1000  # DynamoDB Streams' maximum per GetRecords call
QUEUE_CHUNKS = 16  # read-ahead between reader and writer, in GetRecords responses
KINESIS_MAX_RECORDS = 500  # PutRecords limits
KINESIS_MAX_REQUEST_BYTES = 5 * 1024 * 1024
KINESIS_MAX_RECORD_BYTES = 1024 * 1024
BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 5.0
READ_TIMEOUT_S = 120.0

ClientFactory = Callable[[str], Any]

_STREAM_ARN = re.compile(r"^arn:[\w-]+:dynamodb:([\w-]+):(\d{12}):table/[^/]+/stream/.+$")
_KINESIS_ARN = re.compile(r"^arn:[\w-]+:kinesis:([\w-]+):(\d{12}):stream/(.+)$")
_SQS_ARN = re.compile(r"^arn:[\w-]+:sqs:([\w-]+):(\d{12}):(.+)$")


class PipeConfigError(ValueError):
    """The deployed Pipe asks for something this local stand-in cannot do; the message says what."""


# --------------------------------------------------------------------------------------------------
# configuration


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

    @property
    def region(self) -> str:
        match = _STREAM_ARN.match(self.source_arn)
        return match.group(1) if match else "us-east-1"

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
        if not _KINESIS_ARN.match(target):
            raise PipeConfigError(
                f"pipe {name!r}: target {target!r} is not a Kinesis stream ARN; the local Pipe only "
                "writes to Kinesis streams."
            )
        for unsupported in ("Enrichment",):
            if description.get(unsupported):
                raise PipeConfigError(
                    f"pipe {name!r} has an {unsupported} ({description[unsupported]!r}), which the local "
                    "Pipe does not implement; remove it from the template or extend infra/local/pipes.py."
                )
        source_parameters = description.get("SourceParameters") or {}
        if source_parameters.get("FilterCriteria"):
            raise PipeConfigError(
                f"pipe {name!r} has FilterCriteria, which the local Pipe does not implement; remove "
                "them from the template or extend infra/local/pipes.py."
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
# the event AWS Pipes sends for a DynamoDB stream record


def epoch_seconds(moment: Any) -> int | float:
    """``ApproximateCreationDateTime`` as Pipes writes it: epoch seconds, a number.

    DynamoDB Streams on AWS round to the second (an integer); moto keeps milliseconds, which are kept
    as a fraction rather than thrown away.
    """
    if isinstance(moment, datetime):
        value = moment.timestamp() if moment.tzinfo else moment.replace(tzinfo=UTC).timestamp()
    else:
        value = float(moment)
    rounded = round(value, 3)
    return int(rounded) if rounded == int(rounded) else rounded


def to_pipe_event(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """The JSON object AWS Pipes delivers for one DynamoDB Streams record (boto3's GetRecords shape)."""
    stream = dict(record["dynamodb"])
    if "ApproximateCreationDateTime" in stream:
        stream["ApproximateCreationDateTime"] = epoch_seconds(stream["ApproximateCreationDateTime"])
    event: dict[str, Any] = {
        "eventID": record.get("eventID"),
        "eventName": record.get("eventName"),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": record.get("eventSource", "aws:dynamodb"),
        "awsRegion": record.get("awsRegion"),
        "dynamodb": stream,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:  # TTL deletions carry the service principal
        event["userIdentity"] = record["userIdentity"]
    return event


def _json_default(value: Any) -> Any:
    # boto3 decodes binary attribute values (B, BS) to bytes; on the wire they are base64 text.
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return epoch_seconds(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a Pipe event")


def encode_event(event: Mapping[str, Any]) -> bytes:
    """The event as compact JSON bytes (the Kinesis record's data)."""
    return orjson.dumps(event, default=_json_default)


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


# --------------------------------------------------------------------------------------------------
# GetRecords on the wire


class WireGetRecords:
    """DynamoDB Streams ``GetRecords`` sent as a SigV4-signed request, its answer parsed with orjson.

    The reader spends its life in this call, and what matters is how soon the next one goes out:
    botocore's response parser needs 0.1-0.3 s per 1000 records (the emulator's Streams path idles
    meanwhile) where orjson needs about 10 ms. The answer keeps the wire shape
    (``ApproximateCreationDateTime`` as epoch seconds, binary values as base64), which is also what the
    Pipe forwards. Errors become the ClientError / BotoCoreError boto3 would raise.
    """

    TARGET = "DynamoDBStreams_20120810.GetRecords"

    def __init__(self, endpoint_url: str, region: str, credentials: Any) -> None:
        self._url = endpoint_url.rstrip("/") + "/"
        self._signer = SigV4Auth(credentials, "dynamodb", region)
        self._http = urllib3.PoolManager(
            maxsize=2, retries=False, timeout=urllib3.Timeout(connect=5.0, read=READ_TIMEOUT_S)
        )

    def __call__(self, iterator: str, limit: int) -> dict[str, Any]:
        request = AWSRequest(
            method="POST",
            url=self._url,
            data=orjson.dumps({"ShardIterator": iterator, "Limit": limit}),
            headers={"X-Amz-Target": self.TARGET, "Content-Type": "application/x-amz-json-1.0"},
        )
        self._signer.add_auth(request)
        try:
            response = self._http.request(
                "POST",
                self._url,
                body=request.body,
                headers=dict(request.headers.items()),
                preload_content=True,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise EndpointConnectionError(endpoint_url=self._url, error=exc) from exc
        try:
            answer = orjson.loads(response.data) if response.data else {}
        except orjson.JSONDecodeError:
            answer = {}
        if response.status != 200:
            code = str(answer.get("__type", f"HTTP{response.status}")).rsplit("#", 1)[-1]
            message = (
                answer.get("message") or answer.get("Message") or response.data[:200].decode(errors="replace")
            )
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": message},
                    "ResponseMetadata": {"HTTPStatusCode": response.status},
                },
                "GetRecords",
            )
        return answer


# --------------------------------------------------------------------------------------------------
# the pump


@dataclass
class _Chunk:
    """Records of one GetRecords answer, in order, and where to checkpoint them."""

    store: CheckpointStore
    source_arn: str
    shard_id: str
    records: list[dict[str, Any]]
    read_at: float
    end_of_shard: bool = False


@dataclass
class PipeHealth:
    """Counters of the local Pipe (all since start)."""

    state: str = "STARTING"
    events_read: int = 0
    events_moved: int = 0  # acknowledged by Kinesis
    batches: int = 0
    largest_batch: int = 0
    put_calls: int = 0
    retries: int = 0
    dead_lettered: int = 0
    discarded: int = 0  # failed after retries and no dead-letter queue configured
    source_errors: int = 0
    target_errors: int = 0
    last_error: str = ""
    oldest_pending_created: float | None = None  # ApproximateCreationDateTime of the oldest undelivered
    iterator_age_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _backoff(attempt: int) -> float:
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempt - 1)) * random.uniform(0.5, 1.0)  # noqa: S311


class LocalPipe:
    """The Pipe stand-in: ``start()`` runs its reader and writer threads, ``stop()`` drains and ends them.

    ``clients`` makes a boto3 client for a service name (the data plane passes one bound to the
    emulator); ``get_records`` optionally replaces boto3's Streams GetRecords (see WireGetRecords).
    Checkpoints go to ``checkpoint_dir``.
    """

    def __init__(
        self,
        pipe_name: str,
        clients: ClientFactory,
        checkpoint_dir: Path,
        get_records: Callable[[str, int], dict[str, Any]] | None = None,
    ) -> None:
        self.pipe_name = pipe_name
        self.checkpoint_dir = Path(checkpoint_dir)
        self._pipes = clients("pipes")
        self._streams = clients("dynamodbstreams")
        # GetRecords(iterator, limit): the wire-level call the data plane passes, else boto3's.
        self._get_records = get_records or (
            lambda iterator, limit: self._streams.get_records(ShardIterator=iterator, Limit=limit)
        )
        self._kinesis = clients("kinesis")
        self._sqs = clients("sqs")
        self._config: PipeConfig | None = None
        self._config_read_at = 0.0
        self._config_lock = threading.Lock()
        self._queue: queue.Queue[_Chunk | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._stopping = threading.Event()  # stop reading, deliver what was read
        self._abort = threading.Event()  # stop now, deliver nothing more
        self._reader_done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending: list[float] = []  # creation times of chunks in flight (oldest first)
        self._pending_lock = threading.Lock()
        self.health_counters = PipeHealth()
        self._dlq_urls: dict[str, str] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalPipe:
        """Start the reader and writer threads (returns immediately)."""
        self._threads = start_threads(
            {"pipe-reader": self._guard(self._read_loop), "pipe-writer": self._guard(self._write_loop)}
        )
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reading, deliver and checkpoint what was read (up to ``timeout`` s), end the threads."""
        stop_threads(self._threads, self._stopping, self._abort, timeout)
        self.health_counters.state = "STOPPED_LOCALLY"

    @property
    def alive(self) -> bool:
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def health(self) -> dict[str, Any]:
        """Counters, state and lag (seconds behind the stream: oldest undelivered record, or iterator age)."""
        h = self.health_counters
        now = time.time()
        with self._pending_lock:
            oldest = self._pending[0] if self._pending else None
        lag = max(h.iterator_age_s, now - oldest if oldest else 0.0)
        return {
            "alive": self.alive,
            "state": h.state,
            "events_read": h.events_read,
            "events_moved": h.events_moved,
            "pending": h.events_read - h.events_moved - h.dead_lettered - h.discarded,
            "lag_s": round(max(0.0, lag), 1),
            "batches": h.batches,
            "largest_batch": h.largest_batch,
            "retries": h.retries,
            "dead_lettered": h.dead_lettered,
            "discarded": h.discarded,
            "errors": h.source_errors + h.target_errors,
            "last_error": h.last_error,
        }

    def _guard(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                loop()
            except Exception as exc:  # a bug: make it visible in health instead of dying silently
                logger.exception("local pipe %s: %s crashed", self.pipe_name, loop.__name__)
                self.health_counters.last_error = f"{loop.__name__} crashed: {error_text(exc)}"
                self.health_counters.state = "CRASHED"
                self._abort.set()
                self._stopping.set()
                raise

        return run

    def _note_error(self, kind: str, exc: BaseException | str) -> None:
        text = exc if isinstance(exc, str) else error_text(exc)
        if kind == "source":
            self.health_counters.source_errors += 1
        else:
            self.health_counters.target_errors += 1
        self.health_counters.last_error = f"{kind}: {text}"
        logger.warning("local pipe %s: %s error: %s", self.pipe_name, kind, text)

    # ------------------------------------------------------------------ configuration

    def config(self, refresh: bool = False) -> PipeConfig | None:
        """The Pipe's configuration, read again when older than CONFIG_REFRESH_S (None if missing)."""
        with self._config_lock:
            return self._read_config(refresh)

    def _read_config(self, refresh: bool) -> PipeConfig | None:
        now = time.monotonic()
        if refresh or self._config is None or now - self._config_read_at >= CONFIG_REFRESH_S:
            self._config_read_at = now
            try:
                self._config = read_pipe_config(self._pipes, self.pipe_name)
                self.health_counters.state = self._config.current_state
            except ClientError as exc:
                if error_code(exc) in ("NotFoundException", "ResourceNotFoundException"):
                    self._config = None
                    self.health_counters.state = "NOT_FOUND"
                else:
                    self._note_error("source", exc)
            except BotoCoreError as exc:
                self._note_error("source", exc)
            except PipeConfigError as exc:
                self._config = None
                self.health_counters.state = "UNSUPPORTED_CONFIG"
                self.health_counters.last_error = str(exc)
        return self._config

    # ------------------------------------------------------------------ reader

    def _read_loop(self) -> None:
        source_arn: str | None = None
        store: CheckpointStore | None = None
        shards: dict[str, ShardReader] = {}
        known_ids: set[str] = set()
        fresh_start = False
        shards_read_at = 0.0
        attempt = 0
        last_records = time.monotonic()
        while not self._stopping.is_set():
            config = self.config()
            if config is None or not config.moving:
                self._stopping.wait(0.5)
                continue
            if config.source_arn != source_arn:
                source_arn = config.source_arn
                store = CheckpointStore(self.checkpoint_dir, f"pipe-{self.pipe_name}", source_arn)
                fresh_start = not store.positions()
                shards, known_ids, shards_read_at = {}, set(), 0.0
            assert store is not None
            try:
                if time.monotonic() - shards_read_at >= SHARD_REFRESH_S or not shards:
                    described = self._describe_shards(source_arn)
                    shards_read_at = time.monotonic()
                    known_ids |= set(described)
                    for shard_id, parent_id in described.items():
                        position = store.position(shard_id)
                        if shard_id not in shards and not (position and position.finished):
                            shards[shard_id] = ShardReader(shard_id, parent_id)
                got, full = 0, False
                for shard in ready_shards(shards, store, known_ids):
                    if self._stopping.is_set() or not config.moving:
                        break
                    if shard.iterator is None:
                        shard.iterator = self._iterator(
                            source_arn, shard, store, known_ids, fresh_start, config
                        )
                    count = self._read_shard(source_arn, shard, store)
                    got, full = got + count, full or count >= GET_RECORDS_LIMIT
                attempt = 0
            except (ClientError, BotoCoreError) as exc:
                attempt += 1
                self._note_error("source", exc)
                if error_code(exc) == "ResourceNotFoundException":
                    self.config(refresh=True)  # the stream may have been replaced (re-provisioned)
                self._stopping.wait(_backoff(attempt))
                continue
            if got:
                last_records = time.monotonic()
            else:
                self.health_counters.iterator_age_s = 0.0
            if not full:
                # Caught up: poll again shortly rather than in a tight loop of small answers, which
                # would spend the emulator's CPU on request overhead instead of records.
                quiet = time.monotonic() - last_records > IDLE_AFTER_S
                self._stopping.wait(IDLE_POLL_S if quiet else EMPTY_POLL_S)
        self._reader_done.set()
        self._put_chunk(None)

    def _describe_shards(self, stream_arn: str) -> dict[str, str | None]:
        """Every shard of the stream with its parent (paginated describe_stream)."""
        shards: dict[str, str | None] = {}
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": stream_arn}
            if start:
                kwargs["ExclusiveStartShardId"] = start
            description = self._streams.describe_stream(**kwargs)["StreamDescription"]
            for shard in description.get("Shards", []):
                shards[shard["ShardId"]] = shard.get("ParentShardId")
            start = description.get("LastEvaluatedShardId")
            if not start:
                return shards

    def _iterator(
        self,
        stream_arn: str,
        shard: ShardReader,
        store: CheckpointStore,
        known: set[str],
        fresh_start: bool,
        config: PipeConfig,
    ) -> str | None:
        position = store.position(shard.shard_id)
        after = shard.last_read or (position.sequence_number if position else None)
        if after:
            kind, extra = "AFTER_SEQUENCE_NUMBER", {"SequenceNumber": after}
        elif shard.parent_id and (shard.parent_id in known or store.position(shard.parent_id)):
            kind, extra = "TRIM_HORIZON", {}  # a child continues where its parent ended
        elif fresh_start:
            kind, extra = config.starting_position, {}
        else:
            kind, extra = "TRIM_HORIZON", {}  # a shard that appeared after the first start
        try:
            return self._streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard.shard_id, ShardIteratorType=kind, **extra
            )["ShardIterator"]
        except ClientError as exc:
            if error_code(exc) == "TrimmedDataAccessException":
                # The checkpoint is older than the stream's retention: those records are gone.
                self._note_error(
                    "source", f"records after {after} in {shard.shard_id} were trimmed; resuming"
                )
                return self._streams.get_shard_iterator(
                    StreamArn=stream_arn, ShardId=shard.shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            raise

    def _read_shard(self, stream_arn: str, shard: ShardReader, store: CheckpointStore) -> int:
        """One GetRecords call on a shard; queues what it got and returns how many records came back."""
        try:
            response = self._get_records(shard.iterator, GET_RECORDS_LIMIT)
        except ClientError as exc:
            if error_code(exc) in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                shard.iterator = None  # renewed from the last record read on the next round
                return 0
            raise
        records = response.get("Records", [])
        shard.iterator = response.get("NextShardIterator")
        now = time.time()
        if records:
            shard.last_read = records[-1]["dynamodb"]["SequenceNumber"]
            created = records[0]["dynamodb"].get("ApproximateCreationDateTime")
            created_s = epoch_seconds(created) if created is not None else now
            self.health_counters.iterator_age_s = max(0.0, now - float(created_s))
            self.health_counters.events_read += len(records)
            with self._pending_lock:
                self._pending.append(float(created_s))
        if shard.iterator is None:
            shard.exhausted = True
        if records or shard.exhausted:
            self._put_chunk(
                _Chunk(
                    store, stream_arn, shard.shard_id, records, time.monotonic(), end_of_shard=shard.exhausted
                )
            )
        return len(records)

    def _put_chunk(self, chunk: _Chunk | None) -> None:
        while not self._abort.is_set():
            try:
                self._queue.put(chunk, timeout=0.5)
                return
            except queue.Full:
                continue

    # ------------------------------------------------------------------ writer

    def _write_loop(self) -> None:
        batch: list[tuple[_Chunk, dict[str, Any]]] = []
        batch_opened = 0.0
        finished = False
        while not self._abort.is_set():
            config = self.config()
            if config is None or not config.moving:
                if self._stopping.is_set():
                    break  # a stopped pipe delivers nothing, not even on the way out
                self._abort.wait(0.5)
                continue
            draining = self._stopping.is_set()
            if batch:
                wait = batch_opened + config.maximum_batching_window_s - time.monotonic()
            else:
                wait = 0.5
            chunk: _Chunk | None = None
            got = False
            if not finished:
                try:
                    chunk = self._queue.get(timeout=max(0.0, wait) if not draining else 0.05)
                    got = True
                except queue.Empty:
                    pass
            if got and chunk is None:
                finished = True  # the reader ended: deliver what is left, then stop
            if chunk is not None:
                for record in chunk.records:
                    if not batch:
                        batch_opened = time.monotonic()
                    batch.append((chunk, record))
                    if len(batch) >= config.batch_size:
                        if not self._deliver(batch, config):
                            return
                        batch = []
                if chunk.end_of_shard:
                    if batch and not self._deliver(batch, config):
                        return
                    batch = []
                    chunk.store.finish(chunk.shard_id)
                    chunk.store.flush()
                self._chunk_done(chunk)
            window_over = batch and time.monotonic() - batch_opened >= config.maximum_batching_window_s
            if batch and (window_over or finished or (draining and self._queue.empty())):
                if not self._deliver(batch, config):
                    return
                batch = []
            if finished and not batch:
                return

    def _chunk_done(self, chunk: _Chunk) -> None:
        if chunk.records:
            with self._pending_lock:
                if self._pending:
                    self._pending.pop(0)

    def _deliver(self, batch: Sequence[tuple[_Chunk, dict[str, Any]]], config: PipeConfig) -> bool:
        """Put one batch to Kinesis with retries, dead-letter what cannot be delivered, checkpoint.

        Returns False when the data plane is aborting (nothing was checkpointed then).
        """
        key_of = compile_partition_key(config.partition_key)
        entries: list[dict[str, Any] | None] = []
        unkeyed: list[tuple[int, str]] = []
        for position, (chunk, record) in enumerate(batch):
            event = to_pipe_event(record, chunk.source_arn)
            data = encode_event(event)
            try:
                key = key_of(event)
            except PartitionKeyError as exc:
                entries.append(None)
                unkeyed.append((position, str(exc)))
                continue
            if len(data) + len(key.encode()) > KINESIS_MAX_RECORD_BYTES:
                entries.append(None)
                unkeyed.append((position, f"record of {len(data)} bytes exceeds Kinesis' 1 MiB limit"))
                continue
            entries.append({"Data": data, "PartitionKey": key})
        remaining = [position for position, entry in enumerate(entries) if entry is not None]
        attempt = 0
        last_error = ""
        while remaining:
            if self._abort.is_set():
                return False
            failed: list[int] = []
            for group in _put_groups(remaining, entries):
                try:
                    response = self._kinesis.put_records(
                        StreamARN=config.target_arn, Records=[entries[p] for p in group]
                    )
                    self.health_counters.put_calls += 1
                except (ClientError, BotoCoreError) as exc:
                    self._note_error("target", exc)
                    last_error = error_text(exc)
                    failed.extend(group)
                    continue
                if response.get("FailedRecordCount"):
                    for position, result in zip(group, response["Records"], strict=True):
                        if result.get("ErrorCode"):
                            failed.append(position)
                            last_error = f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}"
            if not failed:
                break
            attempt += 1
            limit = config.maximum_retry_attempts
            if limit != -1 and attempt > limit:
                unkeyed.extend((position, last_error) for position in failed)
                break
            self.health_counters.retries += 1
            remaining = failed
            self._abort.wait(_backoff(attempt))
        if unkeyed and not self._dead_letter(batch, unkeyed, config, attempt):
            return False
        delivered = len(batch) - len(unkeyed)
        self.health_counters.events_moved += delivered
        self.health_counters.batches += 1
        self.health_counters.largest_batch = max(self.health_counters.largest_batch, len(batch))
        last_per_shard: dict[tuple[int, str], tuple[CheckpointStore, str]] = {}
        for chunk, record in batch:
            last_per_shard[(id(chunk.store), chunk.shard_id)] = (
                chunk.store,
                record["dynamodb"]["SequenceNumber"],
            )
        stores = {}
        for (_, shard_id), (store, sequence_number) in last_per_shard.items():
            store.advance(shard_id, sequence_number)
            stores[id(store)] = store
        for store in stores.values():
            store.flush()
        return True

    def _dead_letter(
        self,
        batch: Sequence[tuple[_Chunk, dict[str, Any]]],
        failures: list[tuple[int, str]],
        config: PipeConfig,
        attempts: int,
    ) -> bool:
        """Send a description of undeliverable records to the Pipe's DLQ (retried until it works)."""
        by_shard: dict[str, list[tuple[int, str]]] = {}
        for position, reason in sorted(failures):
            by_shard.setdefault(batch[position][0].shard_id, []).append((position, reason))
        if not config.dead_letter_arn:
            self.health_counters.discarded += len(failures)
            self._note_error(
                "target", f"{len(failures)} records discarded after retries (no DeadLetterConfig)"
            )
            return True
        for shard_id, items in by_shard.items():
            first, last = batch[items[0][0]], batch[items[-1][0]]
            message = {
                "version": "1.0",
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "pipeArn": config.arn,
                    "condition": "RetryAttemptsExhausted" if attempts else "InvalidRecord",
                    "approximateInvokeCount": attempts + 1,
                },
                "responseContext": {"errorMessage": items[-1][1]},
                "DDBStreamBatchInfo": {
                    "shardId": shard_id,
                    "startSequenceNumber": first[1]["dynamodb"]["SequenceNumber"],
                    "endSequenceNumber": last[1]["dynamodb"]["SequenceNumber"],
                    "approximateArrivalOfFirstRecord": _iso(
                        first[1]["dynamodb"].get("ApproximateCreationDateTime")
                    ),
                    "approximateArrivalOfLastRecord": _iso(
                        last[1]["dynamodb"].get("ApproximateCreationDateTime")
                    ),
                    "batchSize": len(items),
                    "streamArn": first[0].source_arn,
                },
            }
            attempt = 0
            while True:
                if self._abort.is_set():
                    return False
                try:
                    self._sqs.send_message(
                        QueueUrl=self._dlq_url(config.dead_letter_arn),
                        MessageBody=orjson.dumps(message).decode(),
                    )
                    break
                except (ClientError, BotoCoreError) as exc:
                    attempt += 1
                    self._note_error("target", exc)
                    self._abort.wait(_backoff(attempt))
            self.health_counters.dead_lettered += len(items)
        return True

    def _dlq_url(self, arn: str) -> str:
        if arn not in self._dlq_urls:
            match = _SQS_ARN.match(arn)
            if not match:
                raise PipeConfigError(f"DeadLetterConfig.Arn {arn!r} is not an SQS queue ARN")
            self._dlq_urls[arn] = self._sqs.get_queue_url(
                QueueName=match.group(3), QueueOwnerAWSAccountId=match.group(2)
            )["QueueUrl"]
        return self._dlq_urls[arn]


def _iso(moment: Any) -> str | None:
    if moment is None:
        return None
    seconds = float(epoch_seconds(moment))
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _put_groups(positions: list[int], entries: Sequence[dict[str, Any] | None]) -> list[list[int]]:
    """Split positions into PutRecords calls within the record-count and request-size limits."""
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for position in positions:
        entry = entries[position]
        assert entry is not None
        entry_size = len(entry["Data"]) + len(entry["PartitionKey"].encode())
        if current and (len(current) >= KINESIS_MAX_RECORDS or size + entry_size > KINESIS_MAX_REQUEST_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(position)
        size += entry_size
    if current:
        groups.append(current)
    return groups
