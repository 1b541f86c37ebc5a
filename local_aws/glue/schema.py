"""Schema inference from sampled objects, as Glue's JSON classifier does it.

The declared CDC columns keep their declared types (they are the crawler's expectations); fields
beyond them get inferred types: int -> int or bigint, number -> double, text -> string, objects ->
struct, lists -> array, and mixed types widen (numbers to the wider number, anything else to string).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from infra.lake import NAME_PATTERN
from local_aws.glue.result import CrawlError

# Bytes of each sampled object the crawler reads (Glue reads the head of a file to classify it).
SAMPLE_HEAD_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"


def read_lines(data: bytes, complete_only: bool) -> list[bytes]:
    """Lines of a (possibly truncated) plain or gzip object; a cut-off last line is dropped."""
    truncated = complete_only
    if data[:2] == _GZIP_MAGIC:
        # A ranged read cuts the gzip stream; decompress what arrived and drop the cut-off line.
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = decompressor.decompress(data, SAMPLE_HEAD_BYTES * 8)
        truncated = not decompressor.eof
    else:
        text = data
    lines = text.split(b"\n")
    if truncated and not text.endswith(b"\n"):
        lines = lines[:-1]
    return [line for line in lines if line.strip()]


def infer_schema(
    sampled: Sequence[tuple[str, bytes]], declared: Mapping[str, str]
) -> tuple[dict[str, str], str]:
    """Columns (name -> Glue type) of the sampled JSON rows, and the compression seen.

    Declared columns come first, in declared order, with their declared types (always present: they
    are the crawler's expectations); other fields follow in order of first appearance, typed by
    what the rows hold.
    """
    inferred: dict[str, str | None] = {}
    gzip_seen = plain_seen = False
    for key, data in sampled:
        is_gzip = data[:2] == _GZIP_MAGIC
        gzip_seen |= is_gzip
        plain_seen |= not is_gzip
        for line in read_lines(data, complete_only=len(data) >= SAMPLE_HEAD_BYTES):
            try:
                row = json.loads(line, parse_float=Decimal)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise CrawlError(
                    f"object s3://.../{key} is not newline-delimited JSON ({exc}); the raw CDC table is JSON "
                    "- move the object out of the crawled path or exclude it in the crawler's Exclusions"
                ) from exc
            if not isinstance(row, dict):
                continue
            for name, value in row.items():
                column = name.lower()
                if column in declared or not NAME_PATTERN.fullmatch(column):
                    continue
                inferred[column] = merge_types(inferred.get(column), json_type(value))
    columns = dict(declared)
    for name, glue_type in inferred.items():
        columns[name] = glue_type or "string"
    compression = "gzip" if gzip_seen and not plain_seen else "none"
    return columns, compression


def json_type(value: Any) -> str | None:
    """Glue's JSON classifier type for one value (None for null: decided by other rows)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint" if abs(value) >= 2**31 else "int"
    if isinstance(value, (float, Decimal)):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        element: str | None = None
        for item in value:
            element = merge_types(element, json_type(item))
        return f"array<{element or 'string'}>"
    if isinstance(value, dict):
        fields = []
        for name, item in value.items():
            if NAME_PATTERN.fullmatch(name.lower()):
                fields.append(f"{name.lower()}:{json_type(item) or 'string'}")
        return f"struct<{','.join(fields)}>" if fields else "string"
    return "string"


def merge_types(left: str | None, right: str | None) -> str | None:
    """The Glue type holding values of both types (Glue widens numbers, anything else to string)."""
    if left is None or left == right:
        return right if left is None else left
    if right is None:
        return left
    numeric = ["int", "bigint", "double"]
    if left in numeric and right in numeric:
        return numeric[max(numeric.index(left), numeric.index(right))]
    return "string"


def describe_changes(current: Sequence[Mapping[str, str]], wanted: Sequence[Mapping[str, str]]) -> str:
    """The column changes from ``current`` to ``wanted`` as a log line (add, change, drop)."""
    before = {c["Name"]: c["Type"] for c in current}
    after = {c["Name"]: c["Type"] for c in wanted}
    parts = [f"add {n} {t}" for n, t in after.items() if n not in before]
    parts += [f"change {n} {before[n]} -> {t}" for n, t in after.items() if n in before and before[n] != t]
    parts += [f"drop {n}" for n in before if n not in after]
    return ", ".join(parts) or "column order"
