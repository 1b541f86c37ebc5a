"""What the machine did during a measurement: CPU used by a process, and CPU taken by the host.

On a virtual machine the hypervisor may run other guests on our CPUs ("steal" in /proc/stat). Work
that is spread over two processes (the emulator and a client doing real work) then loses more wall
time than work in one process, so a benchmark that compares the two prints how much was stolen.
Linux only; elsewhere the figures are zeros.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class MachineCpu:
    """Cumulative CPU ticks of the whole machine (all CPUs)."""

    busy: int = 0
    steal: int = 0
    total: int = 0

    @classmethod
    def now(cls) -> MachineCpu:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return cls()
        user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        return cls(
            user + nice + system + irq + softirq,
            steal,
            user + nice + system + idle + iowait + irq + softirq + steal,
        )

    def since(self, earlier: MachineCpu) -> str:
        """'steal N %, busy M %' of the machine's CPU time between ``earlier`` and this sample."""
        total = max(1, self.total - earlier.total)
        return (
            f"host steal {100 * (self.steal - earlier.steal) / total:.0f} %, "
            f"busy {100 * (self.busy - earlier.busy) / total:.0f} % of {os.cpu_count()} CPUs"
        )
