"""Local CloudWatch alarm evaluation: moto stores alarms but never evaluates them; this does, as AWS does.

:meth:`AlarmEvaluator.evaluate_once` lists the emulator's metric alarms (``describe_alarms``), reads
each one's statistic for its last ``EvaluationPeriods`` complete periods (one ``get_metric_statistics``
per period, aligned to multiples of ``Period`` as CloudWatch aligns them), decides the state and calls
``set_alarm_state`` only when the state changes, with a StateReason worded like CloudWatch's.

The decision (:func:`decide`) follows CloudWatch's documented rules: a datapoint breaches when it
compares with ``Threshold`` by ``ComparisonOperator``; the alarm goes to ALARM when at least
``DatapointsToAlarm`` (M) of the last ``EvaluationPeriods`` (N) datapoints breach, else OK. A period
without data is treated as ``TreatMissingData`` says: ``breaching`` / ``notBreaching`` count it as
such; ``missing`` (the default) and ``ignore`` leave it out: with no datapoint at all ``missing``
goes to INSUFFICIENT_DATA and ``ignore`` keeps the current state; with fewer datapoints than M, the
alarm goes to ALARM when all of them breach (CloudWatch's table for partially missing data).
Alarms on ``AWS/DynamoDB`` metrics always ignore missing data, as on AWS.

Metric-math alarms (``Metrics``) are evaluated when each query is a ``MetricStat`` with one of the
statistics above, except one expression (the one with ``ReturnData``) in the subset of
:mod:`local_aws.cloudwatch.math`: per period, each MetricStat's statistic (no datapoint: missing),
then the expression, whose value is the period's datapoint.

Not evaluated (left as they are, with a warning once): other metric math, percentile statistics
(``ExtendedStatistic``) and anomaly-detection operators.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_aws.cloudwatch.math import Expression, MathError, parse

logger = logging.getLogger(__name__)

EVALUATE_EVERY_S = 10.0

COMPARISONS = {
    "GreaterThanThreshold": ("greater than", lambda value, threshold: value > threshold),
    "GreaterThanOrEqualToThreshold": (
        "greater than or equal to",
        lambda value, threshold: value >= threshold,
    ),
    "LessThanThreshold": ("less than", lambda value, threshold: value < threshold),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda value, threshold: value <= threshold),
}
MISSING_DATA_MODES = ("breaching", "notBreaching", "ignore", "missing")
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


class AlarmEvaluationError(ValueError):
    """An alarm cannot be evaluated locally; the message names the alarm, the value and what to do."""


@dataclass(frozen=True)
class Datapoint:
    """One period's statistic (``value`` None: no data in that period); ``start`` in epoch seconds."""

    start: float
    value: float | None


@dataclass(frozen=True)
class Decision:
    """The state an evaluation arrives at, and CloudWatch's words for why."""

    state: str  # ALARM, OK or INSUFFICIENT_DATA
    reason: str
    breaching: tuple[Datapoint, ...]


@dataclass(frozen=True)
class Transition:
    """An alarm whose state :meth:`AlarmEvaluator.evaluate_once` changed."""

    alarm_name: str
    old_state: str
    new_state: str
    reason: str


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%d/%m/%y %H:%M:%S")


def _listing(points: Sequence[Datapoint]) -> str:
    # CloudWatch lists the most recent datapoint first.
    return ", ".join(f"{p.value!r} ({_stamp(p.start)})" for p in sorted(points, key=lambda p: -p.start))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def decide(alarm: dict[str, Any], datapoints: Sequence[Datapoint]) -> Decision | None:
    """The state CloudWatch would give ``alarm`` over ``datapoints`` (oldest first, one per period).

    Returns None when the state is kept as it is (``ignore`` with no data). Raises
    AlarmEvaluationError for an operator or missing-data mode CloudWatch does not define.
    """
    name = alarm.get("AlarmName", "?")
    operator = alarm.get("ComparisonOperator", "")
    if operator not in COMPARISONS:
        raise AlarmEvaluationError(
            f"alarm {name}: ComparisonOperator {operator!r} is not evaluated locally; use one of "
            f"{', '.join(COMPARISONS)}"
        )
    words, breaches = COMPARISONS[operator]
    threshold = float(alarm["Threshold"])
    mode = alarm.get("TreatMissingData") or "missing"
    if mode not in MISSING_DATA_MODES:
        raise AlarmEvaluationError(
            f"alarm {name}: TreatMissingData {mode!r} is not one of {', '.join(MISSING_DATA_MODES)}"
        )
    if alarm.get("Namespace") == "AWS/DynamoDB":
        mode = "ignore"  # CloudWatch: alarms on AWS/DynamoDB metrics always ignore missing data
    periods = len(datapoints)
    needed = int(alarm.get("DatapointsToAlarm") or periods)
    present = [p for p in datapoints if p.value is not None]
    missing = periods - len(present)
    breaching = [p for p in present if breaches(p.value, threshold)]
    threshold_text = f"the threshold ({threshold!r})"

    if mode in ("breaching", "notBreaching") and missing:
        bad = len(breaching) + (missing if mode == "breaching" else 0)
        state = "ALARM" if bad >= needed else "OK"
        if not present:
            treated = "Breaching" if mode == "breaching" else "NonBreaching"
            reason = (
                f"Threshold Crossed: no datapoints were received for {_plural(periods, 'period')} and "
                f"{_plural(missing, 'missing datapoint')} {'was' if missing == 1 else 'were'} treated as "
                f"[{treated}]."
            )
            return Decision(state, reason, ())
    elif not present:
        if mode == "ignore":
            return None
        return Decision(
            "INSUFFICIENT_DATA",
            f"Insufficient Data: {_plural(periods, 'datapoint')} {'was' if periods == 1 else 'were'} "
            "unknown.",
            (),
        )
    else:
        required = min(needed, len(present))  # fewer datapoints than M: all of them must breach
        state = "ALARM" if len(breaching) >= required else "OK"
    shown = breaching if state == "ALARM" else [p for p in present if p not in breaching] or present
    negation = "" if state == "ALARM" else "not "
    if periods == 1:
        reason = f"Threshold Crossed: 1 datapoint [{_listing(shown)}] was {negation}{words} {threshold_text}."
    else:
        reason = (
            f"Threshold Crossed: {len(shown)} out of the last {periods} datapoints [{_listing(shown)}] "
            f"{'was' if len(shown) == 1 else 'were'} {negation}{words} {threshold_text} "
            f"(minimum {_plural(needed, 'datapoint')} for "
            f"{'OK -> ALARM' if state == 'ALARM' else 'ALARM -> OK'} transition)."
        )
    return Decision(state, reason, tuple(breaching))


class AlarmEvaluator:
    """Evaluates every metric alarm of the emulator against the metrics published to it.

    ``cloudwatch`` is a boto3 CloudWatch client bound to the emulator. Run :meth:`evaluate_once` with
    the moment to evaluate at (epoch seconds), or :meth:`run` on a thread (every ``every_s`` seconds).
    """

    def __init__(
        self, cloudwatch: Any, *, every_s: float = EVALUATE_EVERY_S, publishing_since: float | None = None
    ) -> None:
        self._cloudwatch = cloudwatch
        self.every_s = every_s
        # When the local metrics started (epoch seconds): an alarm treating missing data as breaching
        # is not judged over a window that begins earlier, since that missing data means "nobody
        # published yet", not "the consumer stopped". On AWS the metrics flow all the time; without
        # this, such an alarm would fire on every start of the local stack.
        self.publishing_since = publishing_since
        self.evaluations = 0
        self.transitions: list[Transition] = []  # the last evaluation's changes
        self.last_error = ""
        self._warned: set[str] = set()
        self.unsupported: dict[str, str] = {}  # alarm name -> why it is not evaluated locally

    def alarms(self) -> list[dict[str, Any]]:
        """Every metric alarm of the emulator (paginated ``describe_alarms``)."""
        alarms: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"AlarmTypes": ["MetricAlarm"]}
        while True:
            page = self._cloudwatch.describe_alarms(**kwargs)
            alarms.extend(page.get("MetricAlarms", []))
            token = page.get("NextToken")
            if not token:
                return alarms
            kwargs["NextToken"] = token

    def datapoints(self, alarm: dict[str, Any], now: float) -> list[Datapoint]:
        """The alarm's value in each of the last EvaluationPeriods complete periods before ``now``, oldest
        first: its statistic, or for a metric-math alarm its expression over its metrics' statistics."""
        period = alarm_period(alarm)
        periods = int(alarm.get("EvaluationPeriods") or 1)
        end = int(now) // period * period  # the last complete period ends here
        points = []
        math = _math_alarm(alarm) if alarm.get("Metrics") else None
        for index in range(periods, 0, -1):
            start = end - index * period
            if math is None:
                value = self._statistic(alarm, alarm["Statistic"], start, period)
            else:
                expression, stats = math
                values = {
                    query_id: self._statistic(stat["Metric"], stat["Stat"], start, period, stat.get("Unit"))
                    for query_id, stat in stats.items()
                }
                value = expression.evaluate(values)
            points.append(Datapoint(float(start), value))
        return points

    def _statistic(
        self, metric: dict[str, Any], statistic: str, start: int, period: int, unit: str | None = None
    ) -> float | None:
        """One period's ``statistic`` of ``metric`` (Namespace, MetricName, Dimensions); None: no data."""
        kwargs: dict[str, Any] = {
            "Namespace": metric["Namespace"],
            "MetricName": metric["MetricName"],
            "Dimensions": metric.get("Dimensions", []),
            "StartTime": datetime.fromtimestamp(start, UTC),
            "EndTime": datetime.fromtimestamp(start + period, UTC),
            "Period": period,
            "Statistics": [statistic],
        }
        if unit or metric.get("Unit"):
            kwargs["Unit"] = unit or metric["Unit"]
        answer = self._cloudwatch.get_metric_statistics(**kwargs).get("Datapoints", [])
        values = [float(d[statistic]) for d in answer if d.get(statistic) is not None]
        return _combine(statistic, answer, values)

    def evaluate_once(self, now: float | None = None) -> list[Transition]:
        """Evaluate every alarm at ``now`` (epoch seconds; default the clock); returns the state changes."""
        now = time.time() if now is None else now
        transitions = []
        for alarm in self.alarms():
            name = alarm["AlarmName"]
            unsupported = _unsupported(alarm)
            if unsupported:
                self.unsupported[name] = unsupported
                if name not in self._warned:
                    self._warned.add(name)
                    logger.warning(
                        "local cloudwatch: alarm %s is not evaluated locally: %s", name, unsupported
                    )
                continue
            current = alarm.get("StateValue", "INSUFFICIENT_DATA")
            if (
                self.publishing_since is not None
                and alarm.get("TreatMissingData") == "breaching"
                and _window_start(alarm, now) < self.publishing_since
            ):
                continue
            try:
                decision = decide(alarm, self.datapoints(alarm, now))
            except AlarmEvaluationError as exc:
                if name not in self._warned:
                    self._warned.add(name)
                    logger.warning("local cloudwatch: %s", exc)
                continue
            if decision is None or decision.state == current:
                continue
            reason_data = {
                "version": "1.0",
                "queryDate": datetime.fromtimestamp(now, UTC).isoformat(),
                "period": alarm_period(alarm),
                "threshold": float(alarm["Threshold"]),
                "recentDatapoints": [p.value for p in decision.breaching],
            }
            if alarm.get("Statistic"):
                reason_data["statistic"] = alarm["Statistic"]
            self._cloudwatch.set_alarm_state(
                AlarmName=name,
                StateValue=decision.state,
                StateReason=decision.reason[:1023],
                StateReasonData=json.dumps(reason_data),
            )
            transitions.append(Transition(name, current, decision.state, decision.reason))
        self.evaluations += 1
        self.transitions = transitions
        return transitions

    def run(self, stopping: Any) -> None:
        """Evaluate every ``every_s`` seconds until ``stopping`` (a threading.Event) is set."""
        while not stopping.wait(self.every_s):
            try:
                self.evaluate_once()
            except Exception as exc:  # the emulator restarting must not end the evaluation thread
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("local cloudwatch: alarm evaluation failed: %s", self.last_error)


def alarm_period(alarm: dict[str, Any]) -> int:
    """The alarm's period in seconds: its Period, or for a metric-math alarm its metrics' period."""
    if alarm.get("Period"):
        return int(alarm["Period"])
    periods = {int(q["MetricStat"]["Period"]) for q in alarm.get("Metrics", []) if q.get("MetricStat")}
    periods |= {int(q["Period"]) for q in alarm.get("Metrics", []) if q.get("Period")}
    if len(periods) != 1:
        raise AlarmEvaluationError(
            f"alarm {alarm.get('AlarmName', '?')}: its metrics have periods {sorted(periods)}; give every "
            "MetricStat the same Period"
        )
    return periods.pop()


def _math_alarm(alarm: dict[str, Any]) -> tuple[Expression, dict[str, dict[str, Any]]]:
    """A metric-math alarm's returned expression and its MetricStats by id; AlarmEvaluationError when it is
    outside what is evaluated locally (the message says why)."""
    name = alarm.get("AlarmName", "?")
    stats: dict[str, dict[str, Any]] = {}
    returned: list[dict[str, Any]] = []
    for query in alarm["Metrics"]:
        if query.get("MetricStat"):
            stat = query["MetricStat"]
            if stat.get("Stat") not in STATISTICS:
                raise AlarmEvaluationError(
                    f"alarm {name}: metric {query['Id']} uses statistic {stat.get('Stat')!r}; only "
                    f"{', '.join(STATISTICS)} are evaluated locally"
                )
            stats[query["Id"]] = stat
            if query.get("ReturnData") is not False:
                returned.append(query)
        elif query.get("Expression"):
            if query.get("ReturnData") is not False:
                returned.append(query)
        else:
            raise AlarmEvaluationError(
                f"alarm {name}: metric {query.get('Id')!r} has no MetricStat or Expression"
            )
    if len(returned) != 1 or not returned[0].get("Expression"):
        raise AlarmEvaluationError(
            f"alarm {name}: locally evaluated metric math returns exactly one expression (ReturnData true), "
            f"found {[q.get('Id') for q in returned]}"
        )
    try:
        expression = parse(returned[0]["Expression"])
    except MathError as exc:
        raise AlarmEvaluationError(f"alarm {name}: {exc}") from None
    unknown = expression.ids - set(stats)
    if unknown:
        raise AlarmEvaluationError(
            f"alarm {name}: expression {expression.text!r} reads {sorted(unknown)}, which name no MetricStat "
            "(expressions over expressions are not evaluated locally)"
        )
    alarm_period(alarm)
    return expression, stats


def _window_start(alarm: dict[str, Any], now: float) -> float:
    """Where the alarm's evaluation window (its last EvaluationPeriods complete periods) begins."""
    period = alarm_period(alarm)
    return float(int(now) // period * period - int(alarm.get("EvaluationPeriods") or 1) * period)


def _combine(statistic: str, answer: list[dict[str, Any]], values: list[float]) -> float | None:
    """One period's statistic from the emulator's answer (normally a single datapoint)."""
    if not values:
        return None
    if statistic == "Maximum":
        return max(values)
    if statistic == "Minimum":
        return min(values)
    if statistic in ("Sum", "SampleCount"):
        return sum(values)
    counts = [float(d.get("SampleCount") or 0) for d in answer]
    if len(values) == 1 or not any(counts):
        return values[0]
    return sum(v * c for v, c in zip(values, counts, strict=False)) / sum(counts)


def _unsupported(alarm: dict[str, Any]) -> str:
    if alarm.get("Metrics"):
        try:
            _math_alarm(alarm)
        except AlarmEvaluationError as exc:
            return str(exc)
        return ""
    if alarm.get("ExtendedStatistic") or not alarm.get("Statistic"):
        return f"statistic {alarm.get('ExtendedStatistic')!r}: only {', '.join(STATISTICS)} are evaluated"
    if alarm.get("Statistic") not in STATISTICS:
        return f"statistic {alarm.get('Statistic')!r}: only {', '.join(STATISTICS)} are evaluated"
    if not alarm.get("Period") or not alarm.get("MetricName"):
        return "it names no metric and period"
    return ""
