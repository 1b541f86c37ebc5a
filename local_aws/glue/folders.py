"""How the crawler reads a target's layout: the table name and the partition folders under its path."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.lake import NAME_PATTERN, InvalidIdentifierError, hive_unescape, validate_partition_value
from local_aws.glue.result import CrawlError


@dataclass
class Folder:
    """One partition folder found in S3: its values and objects."""

    values: tuple[str, ...]
    prefix: str
    objects: list[dict[str, Any]] = field(default_factory=list)


def table_name_from_path(prefix: str) -> str:
    """Glue names a table after the last folder of its path, lower-cased, other characters as ``_``."""
    last = prefix.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^a-z0-9_]", "_", last.lower())


def partition_folders(
    objects: Sequence[Mapping[str, Any]], prefix: str
) -> tuple[list[str], list[Folder], list[str]]:
    """Partition keys and folders from object keys (Hive ``k=v`` levels, others ``partition_N``).

    The most common folder depth wins, as a crawler builds one table per compatible layout; objects
    at other depths are returned separately (reported, not catalogued).
    """
    by_depth: dict[int, list[Mapping[str, Any]]] = {}
    for obj in objects:
        depth = obj["Key"][len(prefix) :].count("/")
        by_depth.setdefault(depth, []).append(obj)
    depth = max(by_depth, key=lambda d: (len(by_depth[d]), d))
    others = [obj["Key"] for d, objs in by_depth.items() if d != depth for obj in objs]
    keys: list[str] | None = None
    folders: dict[tuple[str, ...], Folder] = {}
    for obj in by_depth[depth]:
        parts = obj["Key"][len(prefix) :].split("/")[:-1]
        level_keys, values = [], []
        for index, part in enumerate(parts):
            if "=" in part:
                key, value = part.split("=", 1)
                level_keys.append(key.lower())
                values.append(hive_unescape(value))
            else:
                level_keys.append(f"partition_{index}")
                values.append(part)
        if keys is None:
            keys = level_keys
        elif level_keys != keys:
            others.append(obj["Key"])
            continue
        folder_prefix = prefix + "".join(p + "/" for p in parts)
        folders.setdefault(tuple(values), Folder(tuple(values), folder_prefix)).objects.append(obj)
    for key in keys or []:
        if not NAME_PATTERN.fullmatch(key):
            raise CrawlError(f"partition key {key!r} under s3 prefix {prefix} is not a valid column name")
    return keys or [], sorted(folders.values(), key=lambda f: f.values), others


def split_invalid_folders(keys: Sequence[str], folders: Sequence[Folder]) -> tuple[list[Folder], list[str]]:
    """The folders whose values are valid partition values of their keys (``dt`` a real date
    YYYY-MM-DD, ``hour`` 00-23, others a safe alphabet: infra.lake), and a line for each other one
    (its prefix and the rule it breaks), which is not catalogued."""
    valid: list[Folder] = []
    invalid: list[str] = []
    for folder in folders:
        try:
            for key, value in zip(keys, folder.values, strict=True):
                validate_partition_value(key, value)
        except InvalidIdentifierError as exc:
            invalid.append(f"{folder.prefix} ({exc.kind} {exc.value!r}: allowed is {exc.rule})")
            continue
        valid.append(folder)
    return valid, invalid
