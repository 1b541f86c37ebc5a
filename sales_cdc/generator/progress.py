"""Progress of a generator run as lines of text: every 10 % of the planned writes, or every few seconds.

:class:`ProgressReport` is the ``progress`` callback of :func:`sales_cdc.generator.generate_orders`
(it receives the number of newly acknowledged writes). The Dagster asset sends its lines to the run's
log and ``sales-cdc generate`` to stderr when stderr is not a terminal (a terminal gets a progress bar).
"""

from __future__ import annotations

import time
from collections.abc import Callable

PROGRESS_STEP = 0.1  # a line at every 10 % of the planned writes
PROGRESS_INTERVAL_S = 5.0  # and at least this often while writes are acknowledged


class ProgressReport:
    """A ``progress`` callback that emits ``"N of M writes acknowledged (P %)"`` lines."""

    def __init__(
        self,
        planned: int,
        emit: Callable[[str], None],
        *,
        step: float = PROGRESS_STEP,
        interval_s: float = PROGRESS_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if planned < 0 or not 0 < step <= 1 or interval_s <= 0:
            raise ValueError(
                f"planned = {planned}, step = {step}, interval_s = {interval_s}: "
                "need planned ≥ 0, 0 < step ≤ 1 and interval_s > 0."
            )
        self.planned = planned
        self.emit = emit
        self.step = step
        self.interval_s = interval_s
        self.clock = clock
        self.done = 0
        self._steps = round(1 / step)  # steps per run, counted in integers (no float drift)
        self._last_step = 0
        self._last_time = clock()

    def line(self) -> str:
        """The current progress as one line."""
        share = f" ({100 * self.done / self.planned:.0f} %)" if self.planned else ""
        return f"{self.done:,} of {self.planned:,} writes acknowledged{share}"

    def __call__(self, count: int) -> None:
        """Record ``count`` newly acknowledged writes; emit a line at a new step or after the interval."""
        self.done += count
        now = self.clock()
        current_step = self.done * self._steps // self.planned if self.planned else 0
        if current_step > self._last_step or now - self._last_time >= self.interval_s:
            self._last_step, self._last_time = current_step, now
            self.emit(self.line())
