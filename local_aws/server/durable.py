"""The durable emulator process: restore before serving, snapshot in the background, save at the end.

:func:`serve_durably` runs moto's server with every request inside the shared side of a
:class:`ReadersWriterLock` (:class:`DurableApp`). About every second, if a request that may have changed
state was answered since the last snapshot, :class:`Snapshotter` takes the lock exclusively, forks
(copy-on-write: a pause of milliseconds), releases it, and the child pickles the backends and writes them
(:func:`local_aws.server.snapshot.write_file`), Redis-BGSAVE style; the parent waits for the child off
the request path and never runs two at once. Snapshots are at least as far apart as the last one took
(so at most half a CPU goes to them). SIGTERM / SIGINT end the server; a final snapshot is then taken
in-process.

A kill -9 loses at most the writes answered after the last completed snapshot forked. A write just
after a fork waits for the next snapshot: the wait after the one in progress (1 s, or its duration D if
longer) and then that snapshot's own duration: max(1 s, D) + 2 D in all. Measured on the 2-core
development machine: about 1.1 s for a small lake; 30,000 items and 3,000 objects (a 24 MB snapshot,
D = 1.4 s) about 4.3 s; 100,000 items and 10,000 objects (79 MB, D = 5.7 s) about 17 s.

File format, restore and the reasons a snapshot is refused are in :mod:`local_aws.server.snapshot`.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from local_aws.server.snapshot import (
    EXIT_RESTORE_FAILED,
    LOCK_FILE,
    RESTORED_FILE,
    SNAPSHOT_FILE,
    START_ERROR_FILE,
    STATUS_FILE,
    SnapshotError,
    encode,
    install_reducers,
    payload,
    restore,
    write_file,
    write_snapshot,
)

SNAPSHOT_EVERY_S = 1.0
LOCK_WAIT_S = 30.0  # a snapshot child of a killed emulator may still hold the lock for a moment
STATUS_PATH = "/_local_aws/snapshot"  # GET: the snapshot status as JSON
# Operations whose name starts like this only read: answering them does not make a snapshot due.
READ_OPERATIONS = ("Get", "List", "Describe", "Query", "Scan", "BatchGet", "Head", "Select")


class ReadersWriterLock:
    """Many readers (requests) or one writer (the snapshot's fork); a waiting writer blocks new readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the lock shared (a request being answered)."""
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lock alone: no request is inside moto meanwhile."""
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def _mutates(environ: dict[str, Any]) -> bool:
    """False for a request that only reads (by its operation name or HTTP method), True otherwise."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return not target.rsplit(".", 1)[-1].startswith(READ_OPERATIONS)
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD", "OPTIONS"):
        return False
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    return not (action and action[0].startswith(READ_OPERATIONS))


class Snapshotter:
    """Takes the snapshots of one state directory: in a forked child while serving, in-process at the end."""

    def __init__(self, state_dir: Path, lock: ReadersWriterLock, every_s: float = SNAPSHOT_EVERY_S) -> None:
        self.state_dir = state_dir
        self.lock = lock
        self.every_s = every_s
        self.dirty = False
        # State-changing requests answered so far; a snapshot records how many it includes, so a caller
        # can wait for the snapshot that holds its writes (``writes_included`` >= ``writes_answered``).
        self.writes = 0
        self.status = _read_json(state_dir / STATUS_FILE) or {"generation": 0}
        self.status.update(writes_included=0, cpu_s_total=0.0)  # counted per process
        self.status["pid"] = os.getpid()
        self._stop = threading.Event()
        self._count_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def mark_dirty(self) -> None:
        """A request that may have changed state was answered (called inside the shared lock)."""
        with self._count_lock:
            self.writes += 1
        self.dirty = True

    def start(self) -> None:
        """Snapshot in the background every ``every_s`` seconds while something changed."""
        self._write_status()
        self._thread = threading.Thread(target=self._run, name="snapshotter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # At least as long between snapshots as the last one took: at most half a CPU goes to them, however
        # large the state (about 1 s apart for a small one; kill -9 then loses up to twice the snapshot time).
        while not self._stop.wait(max(self.every_s, float(self.status.get("duration_s") or 0.0))):
            if self.dirty:
                try:
                    self.fork_snapshot()
                except Exception as exc:  # a full disk must not end the snapshots for good
                    self._log(f"snapshot failed: {type(exc).__name__}: {exc}")
                    self.dirty = True

    def fork_snapshot(self) -> bool:
        """One background snapshot: fork under the exclusive lock, wait for the child; True on success."""
        with self.lock.exclusive():
            self.dirty = False
            included = self.writes  # no request runs now: exactly these are in the fork
            began = time.monotonic()
            pid = os.fork()
            if pid == 0:
                self._child()  # never returns
            pause = time.monotonic() - began
        _, status, usage = os.wait4(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            self.dirty = True  # try again next time; the child said why on the log
            self.status["last_error"] = f"a snapshot failed (exit code {code}); the emulator's log says why"
            self._write_status()
            return False
        self.status.pop("last_error", None)
        self.status["child_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 4)
        self.status["cpu_s_total"] = round(
            float(self.status.get("cpu_s_total", 0.0)) + self.status["child_cpu_s"], 4
        )
        self._completed(time.monotonic() - began, pause, "fork", included)
        return True

    def _child(self) -> None:
        """In the forked child: write the snapshot and leave without running the parent's clean-up."""
        code = 1
        try:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the stop of the group waits for us instead
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            parent = os.getppid()
            gc.disable()  # no collection touching every page: the copy-on-write stays cheap
            data = encode(payload())
            if os.getppid() == parent:  # an emulator killed meanwhile: its successor owns the directory
                write_file(self.state_dir, data)
                code = 0
        except BaseException as exc:  # noqa: BLE001 - report anything, then exit
            os.write(2, f"sales-cdc emulator: snapshot failed: {type(exc).__name__}: {exc}\n".encode())
        finally:
            os._exit(code)

    def final(self) -> None:
        """Stop the background snapshots and take the last one in-process (a graceful stop)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()  # a running child is waited for there
        if not self.dirty:
            return
        with self.lock.exclusive():
            began = time.monotonic()
            try:
                write_snapshot(self.state_dir)
            except Exception as exc:  # say so plainly; the last good snapshot stays in place
                generation = self.status.get("generation", 0)
                self._log(
                    f"the final snapshot failed ({type(exc).__name__}: {exc}); the next start restores "
                    f"snapshot generation {generation} in {self.state_dir}"
                )
                return
            self.dirty = False
            self._completed(time.monotonic() - began, time.monotonic() - began, "final", self.writes)

    def _completed(self, duration: float, pause: float, kind: str, included: int) -> None:
        size = None
        with contextlib.suppress(OSError):
            size = (self.state_dir / SNAPSHOT_FILE).stat().st_size
        self.status.update(
            generation=int(self.status.get("generation", 0)) + 1,
            completed_at=time.time(),
            duration_s=round(duration, 4),
            pause_ms=round(pause * 1000, 3),
            kind=kind,
            bytes=size,
            writes_included=included,
        )
        self._write_status()

    def _write_status(self) -> None:
        path = self.state_dir / STATUS_FILE
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.status))
        os.replace(tmp, path)

    @staticmethod
    def _log(line: str) -> None:
        print(f"sales-cdc emulator: {line}", file=sys.stderr, flush=True)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class DurableApp:
    """WSGI middleware: every request inside the shared lock; a state-changing one makes a snapshot due."""

    def __init__(self, app: Any, lock: ReadersWriterLock, snapshotter: Snapshotter) -> None:
        self.app = app
        self.lock = lock
        self.snapshotter = snapshotter

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == STATUS_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            status = dict(self.snapshotter.status, writes_answered=self.snapshotter.writes)
            return [json.dumps(status).encode()]
        mutates = _mutates(environ)
        with self.lock.shared():
            response = self.app(environ, start_response)
            if mutates:
                # Marked inside the lock: a snapshot either includes this request or follows it.
                self.snapshotter.mark_dirty()
            return response


def split_state_dir(argv: list[str]) -> tuple[Path | None, list[str]]:
    """``--state-dir DIR`` (or ``--state-dir=DIR``) taken out of a server command line."""
    rest: list[str] = []
    state_dir: Path | None = None
    args = iter(argv)
    for arg in args:
        if arg == "--state-dir":
            state_dir = Path(next(args, ""))
        elif arg.startswith("--state-dir="):
            state_dir = Path(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    return state_dir, rest


def _fail(state_dir: Path, message: str) -> None:
    """Say why the start failed where the launcher finds it (and on the log), then exit."""
    with contextlib.suppress(OSError):
        (state_dir / START_ERROR_FILE).write_text(message + "\n")
    print(f"sales-cdc emulator: {message}", file=sys.stderr, flush=True)
    sys.exit(EXIT_RESTORE_FAILED)


def _take_directory_lock(state_dir: Path) -> int:
    """Hold ``state_dir/emulator.lock`` for the life of the process (exits when another emulator has it)."""
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                _fail(
                    state_dir,
                    f"another emulator uses the state directory {state_dir} "
                    f"(it holds {state_dir / LOCK_FILE}); stop it first",
                )
            time.sleep(0.1)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def serve_durably(
    state_dir: Path,
    serve: Callable[[], None],
    guarded: list[tuple[Any, str]],
    every_s: float = SNAPSHOT_EVERY_S,
) -> None:
    """Restore ``state_dir``, then run ``serve`` (moto's server) with snapshots; a final one at the end.

    ``guarded``: (object, method name) pairs run outside requests that touch the backends (the write
    capacity publisher): they take the shared lock too, so no snapshot forks in their middle.
    """
    import moto.server

    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / START_ERROR_FILE).unlink(missing_ok=True)
    _take_directory_lock(state_dir)
    install_reducers()
    lock = ReadersWriterLock()
    for owner, name in guarded:
        setattr(owner, name, _under_shared(lock, getattr(owner, name)))
    began = time.monotonic()
    gc.disable()  # unpickling builds millions of objects: collections meanwhile find nothing to free
    try:
        with lock.exclusive():
            summary = restore(state_dir)
    except SnapshotError as exc:
        _fail(state_dir, str(exc))
    finally:
        gc.enable()
    # The restored state lives as long as the process: keep it out of every later collection, which
    # also spares the snapshot forks the page copies those collections would cause.
    gc.freeze()
    restored = {
        "restored": summary is not None,
        "snapshot": str(state_dir / SNAPSHOT_FILE),
        "seconds": round(time.monotonic() - began, 3),
        "at": time.time(),
        **(summary or {"services": {}, "tables": {}}),
    }
    (state_dir / RESTORED_FILE).write_text(json.dumps(restored, indent=1))
    if summary is not None:
        Snapshotter._log(f"restored from {state_dir / SNAPSHOT_FILE} in {restored['seconds']} s: {summary}")
    snapshotter = Snapshotter(state_dir, lock, every_s)
    run_simple = moto.server.run_simple

    def run_durable_app(host: str, port: int, app: Any, **options: Any) -> None:
        run_simple(host, port, DurableApp(app, lock, snapshotter), **options)

    moto.server.run_simple = run_durable_app
    snapshotter.start()
    try:
        serve()
    except (SystemExit, KeyboardInterrupt):  # SIGTERM / SIGINT: moto's handler exits the serving loop
        pass
    finally:
        snapshotter.final()
        Snapshotter._log(f"state saved in {state_dir} (generation {snapshotter.status.get('generation')})")
    # Freeing a full emulator's heap at interpreter exit takes seconds and saves nothing: leave now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _under_shared(lock: ReadersWriterLock, method: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        with lock.shared():
            return method(*args, **kwargs)

    return guarded
