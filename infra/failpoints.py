"""Named kill points, so the kill tests can stop a process exactly where they mean to.

A long write of the lake (a refresh of ``orders_current``, a commit of an Iceberg table) passes named
points; when the environment variable ``SALES_CDC_KILL_AT`` names the point a process reaches, the
process sends itself SIGKILL there, exactly as a crash, an OOM kill or a pulled plug would stop it (no
clean-up handler runs). The tests use it to prove that whatever is killed when, the tables a reader
sees are the previous state or the next one, and the next run converges. Unset (always, outside
those tests), a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

KILL_AT_ENV = "SALES_CDC_KILL_AT"


def kill_point(name: str) -> None:
    """SIGKILL this process if ``SALES_CDC_KILL_AT`` is ``name``."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
