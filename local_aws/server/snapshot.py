"""The emulator's snapshot files: what is pickled, the file format, restoring, and what was restored.

A snapshot is every moto backend in use (``BackendDict._instances``), keyed by the module attribute that
holds its BackendDict, pickled in one piece so references between services survive. The file is a
marker line, a JSON header (format, moto and Python versions, length, SHA-256) and the pickle; it is
written to ``snapshot.tmp``, fsync'd and renamed over ``snapshot.pickle``, the previous one kept as
``snapshot.prev.pickle``.

:func:`restore` fills the live BackendDicts in place (moto's modules keep references to them) and
refuses, with the path, the reason and what to do (:func:`restore_failure`), a file that is truncated,
edited, of another format or of another moto version. The durable server process around it is
:mod:`local_aws.server.durable`.
"""

from __future__ import annotations

import copyreg
import functools
import hashlib
import importlib
import json
import os
import pickle
import sys
import threading
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

SNAPSHOT_FILE = "snapshot.pickle"
PREVIOUS_FILE = "snapshot.prev.pickle"
TMP_FILE = "snapshot.tmp"
STATUS_FILE = "snapshot.json"
RESTORED_FILE = "restored.json"
START_ERROR_FILE = "start-error.txt"
LOCK_FILE = "emulator.lock"
EXIT_RESTORE_FAILED = 3
MAGIC = b"sales-cdc local_aws snapshot\n"
FORMAT = 1


class SnapshotError(RuntimeError):
    """A snapshot cannot be read or written; the message names the file and what to do."""


def _new_rlock() -> Any:
    return threading.RLock()


def _new_lock() -> Any:
    return threading.Lock()


def _backend_dict_at(module: str, attribute: str) -> Any:
    return getattr(importlib.import_module(module), attribute)


def install_reducers() -> None:
    """Make what moto's backends hold picklable: locks are recreated unlocked (SQS keeps Conditions),
    a defaultdict whose factory is a lambda (SSM's tags) gets an equivalent factory, weak dictionaries
    (Lambda) and KMS's private keys are rebuilt from their contents, and a reference to a module's
    BackendDict stays a reference to that module's (restored) dict."""
    from moto.core.base_backend import BackendDict

    copyreg.pickle(type(threading.RLock()), lambda lock: (_new_rlock, ()))
    copyreg.pickle(type(threading.Lock()), lambda lock: (_new_lock, ()))
    copyreg.pickle(defaultdict, _reduce_defaultdict)
    # Lambda indexes its functions by ARN weakly; the functions themselves are pickled where they live.
    copyreg.pickle(
        weakref.WeakValueDictionary, lambda value: (weakref.WeakValueDictionary, (dict(value.items()),))
    )
    copyreg.pickle(BackendDict, lambda backends: (_backend_dict_at, _location(backends)))
    for key_type in _private_key_types():  # KMS keys hold cryptography's (unpicklable) key objects
        copyreg.pickle(key_type, _reduce_private_key)


def _private_key_types() -> list[type]:
    """cryptography's concrete private key classes (RSA, EC, Ed25519, Ed448) that exist here."""
    from cryptography.hazmat.bindings._rust import openssl

    found = []
    for module, name in [("rsa", "RSAPrivateKey"), ("ec", "ECPrivateKey"), ("ed25519", "Ed25519PrivateKey")]:
        key_type = getattr(getattr(openssl, module, None), name, None)
        if isinstance(key_type, type):
            found.append(key_type)
    return found


def _reduce_private_key(key: Any) -> tuple[Any, ...]:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (_load_private_key, (pem,))


def _load_private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem, password=None)


def _picklable_factory(factory: Any) -> Any:
    """``factory`` if it pickles, else one that builds the same (e.g. ``lambda: defaultdict(dict)``)."""
    if factory is None or isinstance(factory, type):
        return factory
    try:
        pickle.dumps(factory)
        return factory
    except Exception:  # a lambda or a local function: describe what it builds instead
        sample = factory()
    if isinstance(sample, defaultdict):
        return functools.partial(defaultdict, _picklable_factory(sample.default_factory))
    if type(sample) in (dict, list, set, int, float, str, tuple):
        return type(sample)
    raise SnapshotError(f"cannot snapshot a defaultdict whose factory {factory!r} builds {sample!r}")


def _reduce_defaultdict(value: defaultdict) -> tuple[Any, ...]:
    return (defaultdict, (_picklable_factory(value.default_factory),), None, None, iter(value.items()))


def _register_dict_subclasses() -> None:
    """Reducers for moto's subclasses of defaultdict and OrderedDict (SSM's ParameterDict...).

    Those dicts pickle as ``cls(...)``, which calls a constructor that may need arguments; these are
    rebuilt with ``cls.__new__`` and their attributes instead. Run before every pickling: moto imports
    a service's models on its first request.
    """
    pending = [defaultdict, OrderedDict]
    while pending:
        for cls in pending.pop().__subclasses__():
            pending.append(cls)
            if cls.__module__.startswith("moto.") and cls not in copyreg.dispatch_table:
                copyreg.pickle(cls, _reduce_dict_subclass)


def _reduce_dict_subclass(value: Any) -> tuple[Any, ...]:
    factory = _picklable_factory(value.default_factory) if isinstance(value, defaultdict) else None
    return (_new_dict_subclass, (type(value), factory), vars(value) or None, None, iter(value.items()))


def _new_dict_subclass(cls: type, factory: Any) -> Any:
    value = cls.__new__(cls)
    if factory is not None:
        value.default_factory = factory
    return value


_LOCATIONS: dict[int, tuple[str, str]] = {}


def _location(backends: Any) -> tuple[str, str]:
    """(module, attribute) of a BackendDict: where restore finds the live dict to fill."""
    found = _LOCATIONS.get(id(backends))
    if found is not None:
        return found
    cls = backends.backend
    candidates = [cls.__module__] + sorted(name for name in sys.modules if name.startswith("moto."))
    for name in candidates:
        module = sys.modules.get(name)
        for attribute, value in vars(module or object()).items():
            if value is backends:
                _LOCATIONS[id(backends)] = (name, attribute)
                return name, attribute
    raise SnapshotError(
        f"cannot find where moto keeps the {backends.service_name} backends ({cls.__qualname__})"
    )


def payload() -> dict[str, Any]:
    """Every backend moto created, by the location of its BackendDict (account -> region -> backend)."""
    from moto.core.base_backend import BackendDict

    services = {}
    for backends in list(BackendDict._instances):
        module, attribute = _location(backends)
        # dict.items: BackendDict.__getitem__ takes moto's backend_lock, which a forked child must not need.
        services[f"{module}:{attribute}"] = dict(dict.items(backends))
    return services


def encode(payload: Any) -> bytes:
    """The snapshot file's bytes: magic, a JSON header line (versions, digest, length), the pickle."""
    import moto

    _register_dict_subclasses()
    body = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    header = {
        "format": FORMAT,
        "moto": moto.__version__,
        "python": sys.version.split()[0],
        "created_at": time.time(),
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    return MAGIC + json.dumps(header).encode() + b"\n" + body


def decode(path: Path) -> Any:
    """The payload of a snapshot file; SnapshotError (saying why) when it is not a complete snapshot."""
    import moto

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot read it: {exc.strerror or exc}") from exc
    if not data.startswith(MAGIC):
        raise SnapshotError("it is not an emulator snapshot (its first bytes are not the snapshot marker)")
    end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC) : end])
    except ValueError as exc:
        raise SnapshotError(f"its header is unreadable ({exc})") from exc
    body = data[end + 1 :]
    if header.get("format") != FORMAT:
        raise SnapshotError(f"it has format {header.get('format')!r}; this emulator reads format {FORMAT}")
    if len(body) != header.get("length") or hashlib.sha256(body).hexdigest() != header.get("sha256"):
        raise SnapshotError(
            f"it is damaged: {len(body):,} bytes of state where the header says {header.get('length'):,} "
            "or the checksum differs (a truncated copy or an edit)"
        )
    if header.get("moto") != moto.__version__:
        raise SnapshotError(
            f"it was written by moto {header.get('moto')} and this emulator runs moto {moto.__version__}; "
            "moto's internal state does not carry across versions"
        )
    try:
        return pickle.loads(body)  # noqa: S301 - our own file, in the user's own state directory
    except Exception as exc:  # any unpickling failure means the same thing to the user
        raise SnapshotError(f"its state cannot be loaded ({type(exc).__name__}: {exc})") from exc


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_snapshot(state_dir: Path) -> int:
    """Pickle every backend into ``state_dir/snapshot.pickle`` atomically; returns its size in bytes."""
    data = encode(payload())
    write_file(state_dir, data)
    return len(data)


def write_file(state_dir: Path, data: bytes) -> None:
    """Write snapshot bytes to ``snapshot.tmp``, fsync, and rename it over ``snapshot.pickle``.

    The previous snapshot stays as ``snapshot.prev.pickle`` (a hard link, so ``snapshot.pickle`` always
    exists once written and is never half-written).
    """
    tmp, target = state_dir / TMP_FILE, state_dir / SNAPSHOT_FILE
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if target.exists():
        link = state_dir / f"{PREVIOUS_FILE}.tmp"
        link.unlink(missing_ok=True)
        os.link(target, link)
        os.replace(link, state_dir / PREVIOUS_FILE)
    os.replace(tmp, target)
    _fsync_directory(state_dir)


def restore(state_dir: Path) -> dict[str, Any] | None:
    """Fill moto's backends from ``state_dir/snapshot.pickle``; the summary of what is there, or None
    when there is no snapshot (a first start). Raises SnapshotError with the whole message for the user."""
    from moto.core.base_backend import BackendDict

    path = state_dir / SNAPSHOT_FILE
    if not path.exists():
        return None
    try:
        services = decode(path)
        for key, accounts in services.items():
            module, attribute = key.split(":", 1)
            backends = _backend_dict_at(module, attribute)
            dict.clear(backends)
            dict.update(backends, accounts)
            if backends not in BackendDict._instances:
                BackendDict._instances.append(backends)
    except SnapshotError as exc:
        raise SnapshotError(restore_failure(path, str(exc))) from exc
    except Exception as exc:  # a backend moved between moto releases, a module that is gone, ...
        raise SnapshotError(restore_failure(path, f"{type(exc).__name__}: {exc}")) from exc
    return summarize()


def restore_failure(path: Path, reason: str) -> str:
    """What the user reads when ``path`` cannot be restored: the path, the reason, what to do."""
    previous = path.with_name(PREVIOUS_FILE)
    older = (
        f" An older snapshot is in {previous}: to go back to it, move the broken one aside and copy it to "
        f"{path.name}."
        if previous.exists()
        else ""
    )
    return (
        f"the embedded AWS cannot restore its saved state from {path}: {reason}. The file was left as it is "
        f"and the emulator did not start. To keep it for inspection, move it aside "
        f"(mv {path} {path}.broken) and start again with an empty state, or delete the state "
        f"directory {path.parent} to start empty.{older}"
    )


def summarize() -> dict[str, Any]:
    """Counts of what the backends hold, per service (what a restart reports as restored)."""
    from moto.core.base_backend import BackendDict

    found: dict[str, dict[str, int]] = {}

    def add(service: str, **counts: int) -> None:
        entry = found.setdefault(service, {})
        for name, value in counts.items():
            entry[name] = entry.get(name, 0) + value

    for backends in list(BackendDict._instances):
        for _account, _region, backend in backends.iter_backends():
            _count_backend(backends.service_name, backend, add)
    return {"services": found, "tables": _dynamodb_tables()}


def _count_backend(service: str, backend: Any, add: Callable[..., None]) -> None:
    """Add one backend's counts (only the services the product uses are counted)."""
    if service == "dynamodb" and hasattr(backend, "tables"):
        for table in backend.tables.values():
            shard = getattr(table, "stream_shard", None)
            add("dynamodb", tables=1, items=len(table), stream_records=len(shard.items) if shard else 0)
    elif service == "kinesis" and hasattr(backend, "streams"):
        for stream in backend.streams.values():
            add("kinesis", streams=1, records=sum(len(s.records) for s in stream.shards.values()))
    elif service == "s3" and hasattr(backend, "buckets"):
        for bucket in backend.buckets.values():
            add("s3", buckets=1, objects=len(bucket.keys))
    elif service == "sqs" and hasattr(backend, "queues"):
        for queue in backend.queues.values():
            add("sqs", queues=1, messages=len(queue._messages))
    elif service == "glue" and hasattr(backend, "databases"):
        for database in backend.databases.values():
            add("glue", databases=1, tables=len(database.tables))
    elif service == "firehose" and hasattr(backend, "delivery_streams"):
        add("firehose", delivery_streams=len(backend.delivery_streams))
    elif service == "pipes" and hasattr(backend, "pipes"):
        add("pipes", pipes=len(backend.pipes))


def _dynamodb_tables() -> dict[str, int]:
    """Items per DynamoDB table (every account and region), for a restart's report."""
    from moto.dynamodb.models import dynamodb_backends

    tables: dict[str, int] = {}
    for _account, _region, backend in dynamodb_backends.iter_backends():
        for name, table in backend.tables.items():
            tables[name] = tables.get(name, 0) + len(table)
    return tables
