"""Progress lines of a generator run: every 10 % of the planned writes, and every few seconds."""

from __future__ import annotations

import pytest

from sales_cdc.generator import ProgressReport


def test_a_line_at_every_ten_percent_and_none_in_between():
    lines: list[str] = []
    report = ProgressReport(200, lines.append, clock=lambda: 0.0)
    for _ in range(40):
        report(5)
    assert len(lines) == 10
    assert lines[0] == "20 of 200 writes acknowledged (10 %)"
    assert lines[-1] == "200 of 200 writes acknowledged (100 %)"


def test_a_slow_run_reports_every_interval_between_steps():
    now = [0.0]
    lines: list[str] = []
    report = ProgressReport(10_000, lines.append, interval_s=5, clock=lambda: now[0])
    report(1)
    now[0] = 6.0
    report(1)  # still under 10 %, but 6 s since the last line
    assert lines == ["2 of 10,000 writes acknowledged (0 %)"]


def test_bad_settings_are_refused_naming_them():
    with pytest.raises(ValueError, match="step = 0"):
        ProgressReport(10, print, step=0)
