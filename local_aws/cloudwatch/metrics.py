"""Local CloudWatch metrics: a buffered publisher the pumps call on their hot path.

``record(namespace, name, dimensions, value, unit)`` only updates an in-memory aggregate (sum, min,
max, sample count) per metric and time bucket under a lock; a background flush every few seconds
sends each aggregate as one PutMetricData datum with ``StatisticValues``, so the cost of metrics is
one dict update per call, never a request per record. Samplers (functions registered with
:meth:`MetricsPublisher.add_sampler`) run on the flush thread just before each flush: that is where
gauges such as a queue's depth, which cost a request to read, are measured.

Metrics are best effort, as on AWS: a failed PutMetricData is logged and counted (``dropped``), and
the pumps never wait for it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

FLUSH_EVERY_S = 5.0
BUCKET_S = 5  # datums are stamped with the start of their 5-second bucket (divides every alarm period)
MAX_DATUMS_PER_CALL = 1000  # PutMetricData's limit per request
UNITS = frozenset(
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits "
    "Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second "
    "Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second "
    "Terabits/Second Count/Second None".split()
)

Dimensions = tuple[tuple[str, str], ...]
_Key = tuple[str, str, Dimensions, str, int]  # namespace, name, dimensions, unit, bucket start


class MetricError(ValueError):
    """A metric cannot be recorded as given; the message names the value and what to do."""


def dimensions_of(mapping: Mapping[str, str]) -> Dimensions:
    """Dimensions in the publisher's form from a mapping (name -> value), in a stable order."""
    return tuple(sorted((str(k), str(v)) for k, v in mapping.items()))


class MetricsPublisher:
    """Aggregates metric values in memory and sends them to CloudWatch every ``flush_every_s`` seconds.

    ``cloudwatch`` is a boto3 CloudWatch client (None: aggregate only, :meth:`take` reads them back).
    ``clock`` returns epoch seconds (injectable for tests). Thread-safe; :meth:`start` runs the flush
    loop on a thread of ``threads`` (a :class:`local_aws.pumps.PumpThreads`) or the caller runs
    :meth:`flush` itself.
    """

    def __init__(
        self,
        cloudwatch: Any | None,
        *,
        flush_every_s: float = FLUSH_EVERY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if flush_every_s <= 0:
            raise MetricError(f"flush_every_s must be positive, got {flush_every_s!r}")
        self._cloudwatch = cloudwatch
        self.flush_every_s = flush_every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._aggregates: dict[_Key, list[float]] = {}
        self._samplers: list[Callable[[MetricsPublisher], None]] = []
        self.sent = 0  # datums sent
        self.dropped = 0  # datums lost to a failed PutMetricData
        self.last_error = ""

    # ------------------------------------------------------------------ hot path

    def record(
        self, namespace: str, name: str, dimensions: Dimensions, value: float, unit: str = "None"
    ) -> None:
        """Add one value of a metric (a dict update; sent by the next flush)."""
        if value != value or value in (math.inf, -math.inf):  # NaN or infinite: CloudWatch rejects them
            raise MetricError(
                f"metric {namespace}/{name} {dimensions}: value {value!r} is not a finite number"
            )
        bucket = int(self._clock()) // BUCKET_S * BUCKET_S
        key = (namespace, name, dimensions, unit, bucket)
        with self._lock:
            aggregate = self._aggregates.get(key)
            if aggregate is None:
                self._aggregates[key] = [value, value, value, 1.0]
            else:
                aggregate[0] += value
                if value < aggregate[1]:
                    aggregate[1] = value
                if value > aggregate[2]:
                    aggregate[2] = value
                aggregate[3] += 1.0

    # ------------------------------------------------------------------ flushing

    def add_sampler(self, sampler: Callable[[MetricsPublisher], None]) -> None:
        """Run ``sampler(publisher)`` before every flush (on the flush thread); it records gauges."""
        self._samplers.append(sampler)

    def sample(self) -> None:
        """Run every sampler once; a failing sampler is logged and skipped."""
        for sampler in list(self._samplers):
            try:
                sampler(self)
            except Exception as exc:  # a gauge that cannot be read this time is missing data, no more
                self.last_error = f"sampler {getattr(sampler, '__name__', sampler)}: {exc}"
                logger.warning("local cloudwatch: %s", self.last_error)

    def take(self) -> dict[_Key, tuple[float, float, float, float]]:
        """Remove and return the aggregates (key -> (sum, min, max, sample count))."""
        with self._lock:
            taken, self._aggregates = self._aggregates, {}
        return {key: (a[0], a[1], a[2], a[3]) for key, a in taken.items()}

    def flush(self) -> int:
        """Run the samplers, then send every aggregate (PutMetricData per namespace); returns datums sent."""
        self.sample()
        taken = self.take()
        if not taken or self._cloudwatch is None:
            return 0
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for (namespace, name, dimensions, unit, bucket), (total, low, high, count) in taken.items():
            by_namespace.setdefault(namespace, []).append(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions],
                    "Timestamp": datetime.fromtimestamp(bucket, UTC),
                    "StatisticValues": {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high},
                    "Unit": unit,
                }
            )
        sent = 0
        for namespace, datums in by_namespace.items():
            for chunk in _chunks(datums, MAX_DATUMS_PER_CALL):
                try:
                    self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
                    sent += len(chunk)
                except Exception as exc:  # best effort, as on AWS: the data plane never waits for metrics
                    self.dropped += len(chunk)
                    self.last_error = f"PutMetricData {namespace}: {type(exc).__name__}: {exc}"
                    logger.warning("local cloudwatch: %s", self.last_error)
        self.sent += sent
        return sent

    def run(self, stopping: threading.Event) -> None:
        """Flush every ``flush_every_s`` until ``stopping`` is set, then flush once more."""
        while not stopping.wait(self.flush_every_s):
            self.flush()
        self.flush()


def _chunks(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
