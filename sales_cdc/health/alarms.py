"""The pipeline's alarms as CloudWatch reports them (describe_alarms by the stack's name prefix).

Shared by the asset checks, the alarms sensor and ``sales-cdc local status``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

ALARM = "ALARM"


@dataclass(frozen=True)
class AlarmState:
    """One alarm: its state with CloudWatch's reason (the figures), and what to do (its description)."""

    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str
    description: str
    updated_at: datetime | None
    metric: str

    @property
    def firing(self) -> bool:
        """True while the alarm is in ALARM."""
        return self.state == ALARM

    def problem(self) -> str:
        """One line an operator acts on: which alarm, the figures, what to do."""
        return f"{self.name} is in ALARM: {self.reason.rstrip('.')}. What to do: {self.description}"


def _alarm_state(raw: dict[str, Any]) -> AlarmState:
    return AlarmState(
        name=raw["AlarmName"],
        state=raw.get("StateValue", "INSUFFICIENT_DATA"),
        reason=raw.get("StateReason", ""),
        description=raw.get("AlarmDescription", ""),
        updated_at=raw.get("StateUpdatedTimestamp"),
        metric=f"{raw.get('Namespace', '?')} {raw.get('MetricName', '?')}",
    )


def pipeline_alarms(cloudwatch: Any, prefix: str) -> list[AlarmState]:
    """Every metric alarm whose name starts with ``prefix``, sorted by name."""
    if not prefix:
        raise ValueError("an empty alarm name prefix would read every alarm of the account; pass the stack's")
    alarms = [
        _alarm_state(raw)
        for page in cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"]
        )
        for raw in page.get("MetricAlarms", [])
    ]
    return sorted(alarms, key=lambda alarm: alarm.name)


def states_table(alarms: list[AlarmState]) -> str:
    """The alarms as a Markdown table (name, state, metric, reason)."""
    rows = ["| alarm | state | metric | reason |", "|---|---|---|---|"]
    rows += [f"| {a.name} | {a.state} | {a.metric} | {a.reason.replace('|', '/')} |" for a in alarms]
    return "\n".join(rows)
