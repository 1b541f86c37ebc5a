"""Local Amazon Data Firehose: Kinesis source -> Lambda processor (in-process) -> S3, as deployed.

moto keeps a delivery stream's configuration but moves no data and cannot run Lambda, so this pump
does what AWS would, reading the configuration back every few seconds (:mod:`.config`):

- every shard of the Kinesis source is read (``list_shards``, TRIM_HORIZON on the first start, a
  child shard after its parent) with a durable checkpoint per shard (:mod:`local_aws.pumps`);
- records are buffered by the processor's ``BufferSizeInMBs`` / ``BufferIntervalInSeconds``
  (counted from the oldest record's approximate arrival timestamp, the one Firehose reports to the
  processor), then the function runs in this process (:mod:`local_aws.lambda_runtime`) with the
  event and response contract of :mod:`.lambda_contract`. A failing invocation (exception, timeout,
  a response that is not an object with a ``records`` list, not JSON, over 6 MB) is retried
  ``NumberOfRetries`` times, then its records go to the error prefix;
- dynamic partitioning: Ok records are grouped by the ``metadata.partitionKeys`` the prefix uses; a
  record missing one goes to the error prefix (``partitioning-failed``,
  ``DynamicPartitioning.PartitionKeyMissing``, this stand-in's own code);
- ``BufferingHints`` per partition: an object is written when a partition buffer holds
  ``SizeInMBs`` or its oldest record arrived ``IntervalInSeconds`` ago. Both intervals count from a
  record's arrival, so processor buffering happens inside the S3 interval and how often the stream is
  polled does not add to it;
- objects named as Firehose names them: ``<prefix><stream name>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>[.gz]``,
  compressed as configured; failed S3 puts are retried with backoff.

Delivery is at-least-once (:mod:`.records`). Threads: a reader (Kinesis ``get_records``, Limit
10000), a processor (processor buffer, Lambda, partition buffers) and an S3 writer (compression,
``put_object``, checkpoints).

Metrics (with a publisher, :mod:`local_aws.cloudwatch`), as AWS publishes them: Kinesis'
``GetRecords.IteratorAgeMilliseconds`` per GetRecords call of the reader (none while it does not
read, as on AWS where Kinesis measures the consumer's calls); ``DeliveryToS3.Success`` (1 or 0 per S3
put), ``DeliveryToS3.Records`` and ``DeliveryToS3.DataFreshness`` (sampled at each metrics flush: age
in seconds of the oldest record read and not yet in S3, 0 when none) per delivery stream; and, through
the Lambda runtime, the processor's AWS/Lambda metrics and its EMF lines.
"""

from __future__ import annotations

import collections
import functools
import gzip
import logging
import queue
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_aws.cloudwatch import MetricsPublisher, catalogue
from local_aws.firehose.config import DeliveryStreamConfig, FirehoseConfigError, read_delivery_stream_config
from local_aws.firehose.lambda_contract import (
    ProcessedBatch,
    apply_response,
    invocation_event,
    invocation_records,
)
from local_aws.firehose.partitioning import PartitionBuffers, S3Object, s3_object
from local_aws.firehose.records import Record, Ticket, Tracker, complete
from local_aws.lambda_runtime import InvocationError, LambdaConfigError, LambdaFunction
from local_aws.pumps import (
    CheckpointStore,
    ClientFactory,
    Pump,
    ShardReader,
    SourceShards,
    backoff,
    error_code,
    error_text,
    list_kinesis_shards,
)

logger = logging.getLogger(__name__)

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
CHECKPOINT_IDLE_FLUSH_S = 1.0


def _ms(moment: Any) -> int:
    if isinstance(moment, datetime):
        return int(moment.timestamp() * 1000)
    return int(float(moment) * 1000) if moment is not None else int(time.time() * 1000)


@dataclass
class _Chunk:
    tracker: Tracker
    records: list[Record]


class LocalFirehose(Pump):
    """The Firehose stand-in: ``start()`` runs its threads, ``stop()`` flushes buffers and ends them."""

    def __init__(
        self,
        delivery_stream_name: str,
        clients: ClientFactory,
        checkpoint_dir: Path,
        metrics: MetricsPublisher | None = None,
    ) -> None:
        self.delivery_stream_name = delivery_stream_name
        dimensions = catalogue.delivery_stream_dimensions(delivery_stream_name)
        self._init_pump(f"local firehose {delivery_stream_name}", logger, checkpoint_dir, metrics, dimensions)
        self._firehose = clients("firehose")
        self._kinesis = clients("kinesis")
        self._lambda = clients("lambda")
        self._s3 = clients("s3")
        self._config: DeliveryStreamConfig | None = None
        self._function: LambdaFunction | None = None
        self._queue: queue.Queue[_Chunk | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._s3_queue: queue.Queue[S3Object | None] = queue.Queue(maxsize=8)
        self._stopping, self._abort = self._threads.stopping, self._threads.abort
        self._tracker: Tracker | None = None
        self.counters: dict[str, int] = collections.defaultdict(int)
        self.state = "STARTING"
        self.last_error = ""
        self.millis_behind = 0
        self._touched: set[Tracker] = set()  # trackers of earlier stream incarnations still finishing
        # Records in the processor buffer and in the S3 (partition) buffers.
        self.buffer_levels = (0, 0)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalFirehose:
        """Start the reader, processor and S3 writer threads (returns immediately)."""
        self._threads.start(
            {
                "firehose-reader": self._read_loop,
                "firehose-processor": self._process_loop,
                "firehose-s3-writer": self._write_loop,
            }
        )
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reading; process, write and checkpoint every buffered record (up to ``timeout`` s)."""
        self._threads.stop(timeout)
        self.state = "STOPPED_LOCALLY"

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

    def _sample_metrics(self, metrics: MetricsPublisher) -> None:
        """DeliveryToS3.DataFreshness now: age (s) of the oldest record read and not yet in S3."""
        if not self.alive or self._config is None:
            return  # not reading: Firehose would not be running this delivery stream either
        oldest = self._tracker.oldest_arrival_ms() if self._tracker else None
        age = max(0.0, time.time() - oldest / 1000) if oldest is not None else 0.0
        metrics.record(catalogue.FIREHOSE, catalogue.DATA_FRESHNESS, self._dimensions, age, "Seconds")

    def _crashed(self, text: str) -> None:
        self.last_error, self.state = text, "CRASHED"

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
                    self._function = LambdaFunction.resolve(
                        self._lambda, config.processor.lambda_arn, self.metrics
                    )
                except (ClientError, BotoCoreError, LambdaConfigError) as exc:
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
        tracker: Tracker | None = None
        shards: SourceShards | None = None
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
                    tracker = self._tracker = Tracker(store)
                    source_arn = config.source_stream_arn
                    shards = SourceShards(store, SHARD_REFRESH_S)
                assert tracker is not None and source_arn is not None and shards is not None
                shards.refresh(functools.partial(list_kinesis_shards, self._kinesis, source_arn))
                got, full = 0, False
                for shard in shards.ready():
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
                self._stopping.wait(backoff(attempt))
                continue
            if got:
                last_records = time.monotonic()
            if not full:
                # Caught up: wait before the next poll. moto scans the whole shard on every GetRecords,
                # so a tight loop of small answers would steal the emulator's CPU from the Pipe's reads.
                quiet = time.monotonic() - last_records > IDLE_AFTER_S
                self._stopping.wait(IDLE_POLL_S if quiet else EMPTY_POLL_S)
        self._threads.put(self._queue, None)

    def _read_shard(self, stream_arn: str, shard: ShardReader, tracker: Tracker) -> int:
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
        if self.metrics is not None:
            # Kinesis: the age of the last record the call returned (0 at the tip), per GetRecords call.
            age = time.time() * 1000 - _ms(raw[-1].get("ApproximateArrivalTimestamp")) if raw else 0
            self.metrics.record(
                catalogue.KINESIS,
                catalogue.ITERATOR_AGE,
                catalogue.stream_dimensions(stream_arn),
                float(max(age, 0)),
                "Milliseconds",
            )
        if shard.iterator is None:
            shard.exhausted = True
        if not raw and not shard.exhausted:
            return 0
        last = raw[-1]["SequenceNumber"] if raw else None
        if last:
            shard.last_read = last
        first_arrival = _ms(raw[0].get("ApproximateArrivalTimestamp")) if raw else int(time.time() * 1000)
        ticket = Ticket(tracker, shard.shard_id, last, len(raw), first_arrival, shard.exhausted)
        records = [
            Record(
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
            self._threads.put(self._queue, _Chunk(tracker, records))
        return len(records)

    # ------------------------------------------------------------------ processor

    def _process_loop(self) -> None:
        pending: list[Record] = []  # the processor buffer
        pending_bytes = 0
        pending_opened = 0.0  # arrival (epoch seconds) of the oldest record in the processor buffer
        buffers = PartitionBuffers()
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
            deadlines = [opened + config.buffer_interval_s for opened in buffers.oldest_arrivals()]
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
                            buffers.add_unprocessed(config, record)
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
            for buffer in buffers.take_due(config, now, everything=reader_done):
                self._threads.put(self._s3_queue, s3_object(config, buffer))
            self.buffer_levels = (len(pending), buffers.records)
            if reader_done and not pending and not buffers:
                break
        self._threads.put(self._s3_queue, None)

    def _invoke(self, config: DeliveryStreamConfig, records: list[Record], buffers: PartitionBuffers) -> None:
        """Call the processor for a batch (with retries) and route every record to a buffer or drop it."""
        processor = config.processor
        assert processor is not None
        record_ids, event_records = invocation_records(records)
        attempts = 0
        failure: InvocationError | None = None
        outcome: ProcessedBatch | None = None
        while attempts <= processor.number_of_retries and not self._abort.is_set():
            attempts += 1
            self.counters["invocations"] += 1
            event = invocation_event(config, event_records)
            try:
                if self._function is None or self._function.arn != processor.lambda_arn:
                    self._function = LambdaFunction.resolve(self._lambda, processor.lambda_arn, self.metrics)
                outcome = apply_response(records, record_ids, self._function.invoke(event))
                break
            except InvocationError as exc:
                failure = exc
                self._note_error("invocation_failures", f"processor {processor.lambda_arn}: {exc}")
            except (ClientError, BotoCoreError, LambdaConfigError) as exc:
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
        buffers.add_processed(config, outcome, attempts, processor.lambda_arn, ended)
        if outcome.dropped:
            self.counters["records_dropped"] += len(outcome.dropped)
            complete(collections.Counter(r.ticket for r in outcome.dropped))

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

    def _write_object(self, item: S3Object) -> None:
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
                if self.metrics is not None:
                    self.metrics.record(
                        catalogue.FIREHOSE, catalogue.DELIVERY_SUCCESS, self._dimensions, 0.0, "Count"
                    )
                attempt += 1
                self._note_error("s3_errors", f"put s3://{item.bucket}/{item.key}: {error_text(exc)}")
                self._abort.wait(backoff(attempt))
        if self.metrics is not None:
            self.metrics.record(
                catalogue.FIREHOSE, catalogue.DELIVERY_SUCCESS, self._dimensions, 1.0, "Count"
            )
            self.metrics.record(
                catalogue.FIREHOSE, catalogue.DELIVERY_RECORDS, self._dimensions, float(item.records), "Count"
            )
        if item.error_type:
            self.counters["records_failed"] += item.records
            self.counters["error_objects_written"] += 1
        else:
            self.counters["rows_delivered"] += item.records
            self.counters["objects_written"] += 1
        self.counters["bytes_written"] += len(body)
        self._touched |= complete(item.tickets)
