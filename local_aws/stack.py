"""The local stack's one lifecycle: the emulator (started or reused), provisioning, the data plane, stop.

``sales-cdc up``, ``sales-cdc local up`` and the test fixtures all run the local deployment through
:class:`LocalStack`::

    stack = LocalStack(home)                      # home: the local deployment's state directory
    endpoint = stack.start_or_reuse_emulator()    # the recorded emulator if alive, else a new one
    result = stack.provision(outputs_path=...)    # apply infra/template.yaml; outputs written there
    stack.start_data_plane(result.outputs)        # Pipe and Firehose stand-ins, in threads
    stack.health()
    stack.stop()                                  # the data plane, then the emulator if started here

What lives in ``home``: ``emulator.json`` (the running emulator, for other processes to find),
``emulator.log``, ``dataplane.json`` (the data plane's status), ``checkpoints/``. The application
decides where ``home`` is and where the stack outputs go; this package never reads its settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from local_aws.dataplane import DataPlane, format_health, status_path
from local_aws.provision import REGION, ProvisionResult, provision
from local_aws.server import STATE_FILE_NAME, Emulator, running_state

EMULATOR_LOG = "emulator.log"


def _silent(line: str) -> None:
    """A report callback that says nothing."""


class LocalStack:
    """The embedded AWS, its provisioning and the data plane of one state directory (``home``).

    ``port`` is the emulator's port when one has to be started (as for :class:`Emulator`);
    ``emulator_log`` defaults to ``home/emulator.log``. Only what this object started is stopped.
    """

    def __init__(self, home: Path, *, port: int | None = None, emulator_log: Path | None = None) -> None:
        self.home = Path(home)
        self.port = port
        self.emulator_log = emulator_log or self.home / EMULATOR_LOG
        self.emulator: Emulator | None = None  # the emulator started here (None when one was reused)
        self.reused: dict[str, Any] | None = None  # the recorded state of a reused emulator
        self.endpoint: str | None = None
        self.data_plane: DataPlane | None = None

    @property
    def state_file(self) -> Path:
        """Where the running emulator of this home is recorded."""
        return self.home / STATE_FILE_NAME

    @property
    def status_file(self) -> Path:
        """Where the data plane of this home writes its status."""
        return status_path(self.home)

    @property
    def emulator_pid(self) -> int | None:
        """The pid of the emulator in use (started here or reused)."""
        if self.emulator is not None and self.emulator.process is not None:
            return self.emulator.process.pid
        return int(self.reused["pid"]) if self.reused else None

    def start_or_reuse_emulator(self, report: Callable[[str], None] = _silent) -> str:
        """The recorded emulator if one runs, else a new one (raises EmulatorError); returns its endpoint.

        ``report`` gets one line saying which.
        """
        self.reused = running_state(self.state_file)
        if self.reused is not None:
            self.endpoint = self.reused["endpoint"]
            report(f"Embedded AWS: reusing the one running at {self.endpoint} (pid {self.reused['pid']}).")
            return self.endpoint
        self.emulator = Emulator(port=self.port, state_file=self.state_file, log_path=self.emulator_log)
        self.emulator.start()
        self.endpoint = self.emulator.endpoint
        note = f" ({self.emulator.note})" if self.emulator.note else ""
        report(f"Embedded AWS: started at {self.endpoint}{note}")
        return self.endpoint

    def provision(
        self, *, outputs_path: Path | None = None, report: Callable[[str], None] = _silent
    ) -> ProvisionResult:
        """Apply ``infra/template.yaml`` to the emulator (raises ProvisionError); the outputs also go to
        ``outputs_path`` when given."""
        return provision(self._endpoint(), report=report, outputs_path=outputs_path)

    def start_data_plane(self, outputs: Mapping[str, str], region: str = REGION, **options: Any) -> DataPlane:
        """Start the Pipe and Firehose stand-ins of the provisioned stack (``outputs``: its outputs).

        Checkpoints and the status file live in ``home``; ``options`` as for :class:`DataPlane`.
        Raises DataPlaneError when another data plane of this home runs.
        """
        options.setdefault("state_dir", self.home)
        plane = DataPlane.from_outputs(self._endpoint(), region, outputs, **options)
        self.data_plane = plane.start()
        return plane

    def health(self) -> dict[str, Any]:
        """The endpoint, the emulator's pid and whether it was started here, and the data plane's health."""
        return {
            "endpoint": self.endpoint,
            "emulator_pid": self.emulator_pid,
            "emulator_started_here": self.emulator is not None,
            "dataplane": self.data_plane.health() if self.data_plane is not None else None,
        }

    def stop(self, report: Callable[[str], None] = _silent) -> None:
        """Stop the data plane (flushing it and writing checkpoints), then the emulator if started here.

        ``report`` gets a line per thing stopped (the data plane's with its final health).
        """
        if self.data_plane is not None:
            plane, self.data_plane = self.data_plane, None
            plane.stop()
            report("Data plane stopped: " + format_health(plane.health()))
        if self.emulator is not None:
            emulator, self.emulator = self.emulator, None
            emulator.stop()
            report("Embedded AWS stopped.")

    def _endpoint(self) -> str:
        if self.endpoint is None:
            raise RuntimeError("start_or_reuse_emulator() first: the local stack has no emulator yet")
        return self.endpoint
