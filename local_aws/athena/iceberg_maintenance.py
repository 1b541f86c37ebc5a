"""Athena's Iceberg maintenance and metadata tables, done with pyiceberg: what the local engine runs.

- :func:`optimize` is ``OPTIMIZE t REWRITE DATA USING BIN_PACK [WHERE ...]``: in each partition, the
  data files smaller than the target size are rewritten into as few files as possible, every
  partition in one commit (one ``overwrite`` snapshot whose rows and values are those of the last).
- :func:`vacuum` is ``VACUUM t``: snapshots older than ``vacuum_max_snapshot_age_seconds`` expire
  (the current one and ``vacuum_min_snapshots_to_keep`` stay), then the files under the table's
  location that neither the current metadata nor a remaining snapshot references, and that are older
  than the same age, are deleted (Athena removes orphan files too).
- :func:`snapshots_table` and :func:`history_table` are ``"t$snapshots"`` and ``"t$history"``.

The functions take a loaded ``pyiceberg.table.Table`` and commit through its catalog (Glue's optimistic
lock: a concurrent commit makes them fail or retry on the new snapshot, never lose it).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import defaultdict
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
from pyarrow import fs as pafs
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.expressions.visitors import bind, extract_field_ids
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.table import Table, TableProperties
from pyiceberg.table.snapshots import ancestors_of

DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024
# Athena's table properties for VACUUM, and their defaults (Athena's documentation, "VACUUM").
MAX_SNAPSHOT_AGE_PROPERTY = "vacuum_max_snapshot_age_seconds"
MAX_SNAPSHOT_AGE_DEFAULT_S = 432000  # 5 days
MIN_SNAPSHOTS_TO_KEEP_PROPERTY = "vacuum_min_snapshots_to_keep"
MIN_SNAPSHOTS_TO_KEEP_DEFAULT = 1


class IcebergMaintenanceError(ValueError):
    """A maintenance statement that cannot run as given; the message names the value and what to do."""


def optimize(
    table: Table,
    partition_filter: BooleanExpression | None = None,
    *,
    target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES,
) -> dict[str, Any]:
    """Bin-pack the small data files of ``table``'s partitions (those matching ``partition_filter``).

    A partition is rewritten when it holds two or more files smaller than ``target_file_bytes`` (or a
    file with delete files to apply); its small files' rows go to as few new files as the target
    allows (pyiceberg bins by in-memory Arrow size, so files come out smaller on disk). All rewritten
    partitions are one commit; nothing is committed when no partition qualifies.

    Returns ``partitions_rewritten``, ``files_before`` and ``files_after`` (data files in the filtered
    partitions) and ``snapshot_id`` (the new snapshot, or the unchanged current one; None if empty).
    """
    if target_file_bytes < 1:
        raise IcebergMaintenanceError(
            f"OPTIMIZE target file size must be a positive number of bytes, got {target_file_bytes!r}"
        )
    row_filter = partition_filter if partition_filter is not None else AlwaysTrue()
    _check_partition_filter(table, row_filter)
    tasks = list(table.scan(row_filter=row_filter).plan_files())
    by_partition: dict[tuple[int, Any], list[Any]] = defaultdict(list)
    for task in tasks:
        by_partition[(task.file.spec_id, _partition_key(task.file.partition))].append(task)

    to_rewrite = {
        key: [task for task in group if _is_candidate(task, target_file_bytes)]
        for key, group in by_partition.items()
    }
    to_rewrite = {
        key: group
        for key, group in to_rewrite.items()
        if len(group) > 1 or any(task.delete_files for task in group)
    }
    current = table.current_snapshot()
    result: dict[str, Any] = {
        "partitions_rewritten": 0,
        "files_before": len(tasks),
        "files_after": len(tasks),
        "snapshot_id": current.snapshot_id if current else None,
    }
    if not to_rewrite:
        return result

    # The writer sizes files by this table property; the metadata copy only steers this rewrite.
    write_metadata = table.metadata.model_copy(
        update={
            "properties": {
                **table.metadata.properties,
                TableProperties.WRITE_TARGET_FILE_SIZE_BYTES: str(target_file_bytes),
            }
        }
    )
    commit_uuid = uuid.uuid4()
    counter = itertools.count(0)  # shared by all partitions, so the new file names never repeat
    removed, added = 0, 0
    with table.transaction() as transaction:
        snapshot = transaction.update_snapshot(
            snapshot_properties={"athena-operation": "OPTIMIZE REWRITE DATA USING BIN_PACK"}
        )
        with snapshot.overwrite(commit_uuid=commit_uuid) as rewrite:
            # The predicate only tells the producer which manifests to look at; files are named below.
            rewrite.delete_by_predicate(AlwaysTrue())
            for group in to_rewrite.values():
                rows = ArrowScan(
                    table_metadata=table.metadata,
                    io=table.io,
                    projected_schema=table.schema(),
                    row_filter=AlwaysTrue(),
                ).to_table(tasks=group)
                new_files = list(
                    _dataframe_to_data_files(
                        table_metadata=write_metadata,
                        df=rows,
                        io=table.io,
                        write_uuid=commit_uuid,
                        counter=counter,
                    )
                )
                for task in group:
                    rewrite.delete_data_file(task.file)
                for data_file in new_files:
                    rewrite.append_data_file(data_file)
                removed += len(group)
                added += len(new_files)
    new_current = table.current_snapshot()
    result.update(
        partitions_rewritten=len(to_rewrite),
        files_after=len(tasks) - removed + added,
        snapshot_id=new_current.snapshot_id if new_current else None,
    )
    return result


def _partition_key(partition: Any) -> tuple[Any, ...]:
    """A hashable key for a data file's partition record."""
    return tuple(partition[i] for i in range(len(partition))) if partition is not None else ()


def _is_candidate(task: Any, target_file_bytes: int) -> bool:
    """Whether a file is worth rewriting: smaller than the target, or carrying deletes to apply."""
    return task.file.file_size_in_bytes < target_file_bytes or bool(task.delete_files)


def _check_partition_filter(table: Table, row_filter: BooleanExpression) -> None:
    """Refuse a filter on a column that is not a partition source (Athena's OPTIMIZE ... WHERE rule)."""
    bound = bind(table.schema(), row_filter, case_sensitive=True)
    partition_sources = {field.source_id for field in table.spec().fields}
    outside = extract_field_ids(bound) - partition_sources
    if outside:
        names = sorted(table.schema().find_column_name(field_id) or str(field_id) for field_id in outside)
        partitions = sorted(table.schema().find_column_name(f.source_id) or "" for f in table.spec().fields)
        raise IcebergMaintenanceError(
            f"OPTIMIZE ... WHERE may only filter on partition columns {partitions}, "
            f"but the filter uses {names}; drop those conditions or filter on the partition columns"
        )


def vacuum(table: Table, now_ms: int | None = None) -> dict[str, Any]:
    """Expire ``table``'s old snapshots and delete the files nothing references any more (Athena VACUUM).

    ``now_ms`` (epoch milliseconds, default the clock) sets what "old" means: older than
    ``vacuum_max_snapshot_age_seconds`` (a table property; Athena's default 432000 s). The current
    snapshot, branch and tag heads and the newest ``vacuum_min_snapshots_to_keep`` ancestors stay.
    Returns ``snapshots_expired``, ``files_deleted`` and ``bytes_deleted``.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    max_age_s = _positive_int_property(table, MAX_SNAPSHOT_AGE_PROPERTY, MAX_SNAPSHOT_AGE_DEFAULT_S)
    keep = _positive_int_property(table, MIN_SNAPSHOTS_TO_KEEP_PROPERTY, MIN_SNAPSHOTS_TO_KEEP_DEFAULT)
    cutoff_ms = now_ms - max_age_s * 1000

    metadata = table.metadata
    protected = {ref.snapshot_id for ref in metadata.refs.values()}
    protected |= {s.snapshot_id for s in list(ancestors_of(table.current_snapshot(), metadata))[:keep]}
    expired = [
        snapshot.snapshot_id
        for snapshot in metadata.snapshots
        if snapshot.timestamp_ms < cutoff_ms and snapshot.snapshot_id not in protected
    ]
    if expired:
        table.maintenance.expire_snapshots().by_ids(expired).commit()

    referenced = _referenced_files(table)
    files_deleted, bytes_deleted = 0, 0
    for path, size, mtime_ms in _files_under(table, table.metadata.location):
        # Young files may belong to a commit in flight: only files older than the cutoff are orphans.
        if _normalized(path) in referenced or mtime_ms >= cutoff_ms:
            continue
        table.io.delete(path)
        files_deleted += 1
        bytes_deleted += size
    return {"snapshots_expired": len(expired), "files_deleted": files_deleted, "bytes_deleted": bytes_deleted}


def _positive_int_property(table: Table, name: str, default: int) -> int:
    """A table property that must be a positive integer (a clear error otherwise)."""
    value = table.metadata.properties.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise IcebergMaintenanceError(
            f"table property {name}={value!r} of {'.'.join(table.name())} is not a positive integer; "
            f"set it with ALTER TABLE ... SET TBLPROPERTIES ('{name}'='{default}')"
        )
    return number


def _referenced_files(table: Table) -> set[str]:
    """Every file the table's metadata reaches: metadata files, manifest lists, manifests, data files."""
    metadata = table.metadata
    paths = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    paths |= {stats.statistics_path for stats in metadata.statistics}
    paths |= {stats.statistics_path for stats in metadata.partition_statistics}
    for snapshot in metadata.snapshots:
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            paths.add(manifest.manifest_path)
            # Live entries only: a DELETED entry records a removal, the file is in no remaining snapshot.
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                paths.add(entry.data_file.file_path)
    return {_normalized(path) for path in paths if path}


def _normalized(path: str) -> str:
    """A path without its scheme (s3://, s3a://): bucket/key, how the filesystem lists it."""
    parsed = urlparse(path)
    return f"{parsed.netloc}{parsed.path}" if parsed.scheme else path


def _files_under(table: Table, location: str) -> list[tuple[str, int, int]]:
    """(uri, size, modified epoch ms) of every file under ``location``, through the table's FileIO."""
    fs_by_scheme = getattr(table.io, "fs_by_scheme", None)
    if fs_by_scheme is None:
        raise IcebergMaintenanceError(
            f"VACUUM lists files through pyarrow, but the table's FileIO is {type(table.io).__name__}; "
            "load the catalog with py-io-impl=pyiceberg.io.pyarrow.PyArrowFileIO"
        )
    parsed = urlparse(location)
    filesystem = fs_by_scheme(parsed.scheme, parsed.netloc)
    root = f"{parsed.netloc}{parsed.path}".rstrip("/")
    infos = filesystem.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    return [
        (f"{parsed.scheme}://{info.path}", info.size or 0, int(info.mtime.timestamp() * 1000))
        for info in infos
        if info.type == pafs.FileType.File and info.mtime is not None
    ]


def snapshots_table(table: Table) -> pa.Table:
    """Athena's ``"t$snapshots"``: committed_at, snapshot_id, parent_id, operation, manifest_list,
    summary (a JSON object of the snapshot summary's properties)."""
    snapshots = table.inspect.snapshots()
    summaries = [
        None if summary is None else json.dumps(dict(summary), sort_keys=True)
        for summary in snapshots.column("summary").to_pylist()
    ]
    index = snapshots.schema.get_field_index("summary")
    return snapshots.set_column(index, pa.field("summary", pa.string()), pa.array(summaries, pa.string()))


def history_table(table: Table) -> pa.Table:
    """Athena's ``"t$history"``: made_current_at, snapshot_id, parent_id, is_current_ancestor."""
    return table.inspect.history()


__all__ = [
    "IcebergMaintenanceError",
    "history_table",
    "optimize",
    "snapshots_table",
    "vacuum",
]
