"""Local Amazon CloudWatch: the metrics the data plane publishes, and alarm evaluation (moto does none).

:class:`MetricsPublisher` (:mod:`.metrics`) aggregates what the pumps record and sends it with
PutMetricData every few seconds; :class:`AlarmEvaluator` (:mod:`.alarms`) evaluates the emulator's
alarms against those metrics and sets their states as CloudWatch would.
"""

from local_aws.cloudwatch.alarms import AlarmEvaluationError, AlarmEvaluator, Datapoint, Decision, decide
from local_aws.cloudwatch.metrics import MetricError, MetricsPublisher, dimensions_of

__all__ = [
    "AlarmEvaluationError",
    "AlarmEvaluator",
    "Datapoint",
    "Decision",
    "MetricError",
    "MetricsPublisher",
    "decide",
    "dimensions_of",
]
