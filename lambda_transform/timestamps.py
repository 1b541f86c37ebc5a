"""Timestamps of the CDC row: epoch numbers and ISO-8601 text to Athena's timestamp text.

Every timestamp in the row is UTC text ``YYYY-MM-DD HH:MM:SS.fff`` (what Athena's JSON SerDe reads as
TIMESTAMP), truncated to milliseconds. The partition keys ``dt`` (``YYYY-MM-DD``) and ``hour``
(``HH``) come from the event time.

Units of ``ApproximateCreationDateTime``: the EventBridge Pipe (like the Lambda event source) writes
epoch **seconds**, possibly fractional; Kinesis Data Streams for DynamoDB writes epoch
**milliseconds**. Both are accepted: a value >= 1e11 is milliseconds (1e11 seconds would be the year
5138; 1e11 milliseconds is March 1973, before any stream existed). Fractions are rounded to the
nearest millisecond.

A batch spans seconds to minutes, so the text of each epoch second (and its partition keys) is
computed once and cached; the cache is cleared when it grows past a few thousand entries.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from math import isfinite

MILLISECONDS_THRESHOLD = 100_000_000_000  # 1e11: at or above, ApproximateCreationDateTime is in ms
# Athena's timestamp text has four-digit years: accept 1970-01-01 up to the end of 9999.
MAX_EPOCH_MS = 253_402_300_800_000
_CACHE_LIMIT = 4096

MILLIS = tuple(f".{ms:03d}" for ms in range(1000))  # millisecond suffixes, by value
_UTC = UTC
_ZERO = timedelta(0)

# epoch second -> ("YYYY-MM-DD HH:MM:SS", {"dt": ..., "hour": ...}); partition dicts are shared per hour.
# Readers may hold this dict: it is cleared, never replaced.
SECONDS_CACHE: dict[int, tuple[str, dict[str, str]]] = {}
_hours: dict[tuple[str, str], dict[str, str]] = {}


def second_entry(second: int) -> tuple[str, dict[str, str]]:
    """Text ``YYYY-MM-DD HH:MM:SS`` and partition keys of one epoch second, computed and cached.

    Call it on a miss of :data:`SECONDS_CACHE`. Raises ValueError outside 1970..9999.
    """
    if type(second) is not int or not 0 <= second < MAX_EPOCH_MS // 1000:
        raise _out_of_range(second, "epoch second")
    if len(SECONDS_CACHE) >= _CACHE_LIMIT:
        SECONDS_CACHE.clear()
        _hours.clear()
    tm = time.gmtime(second)
    dt = f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}"
    hour = f"{tm.tm_hour:02d}"
    keys = _hours.get((dt, hour))
    if keys is None:
        keys = _hours[(dt, hour)] = {"dt": dt, "hour": hour}
    entry = (f"{dt} {hour}:{tm.tm_min:02d}:{tm.tm_sec:02d}", keys)
    SECONDS_CACHE[second] = entry
    return entry


def epoch_ms_text(ms: int) -> tuple[str, dict[str, str]]:
    """Timestamp text and partition keys ``{"dt", "hour"}`` of a valid epoch-milliseconds integer.

    The partition-key dicts are shared between calls: treat them as read-only.
    """
    second, milli = divmod(ms, 1000)
    entry = SECONDS_CACHE.get(second) or second_entry(second)
    return entry[0] + MILLIS[milli], entry[1]


def _out_of_range(value: object, what: str) -> ValueError:
    return ValueError(f"{what} {value!r} is not a time between 1970 and 9999")


def event_time(value: object) -> tuple[str, dict[str, str]]:
    """Text and partition keys of ``ApproximateCreationDateTime`` (epoch seconds or milliseconds).

    Raises ValueError (with the value seen) for anything but a finite epoch number in 1970..9999.
    """
    kind = type(value)
    if kind is int:
        ms = value * 1000 if value < MILLISECONDS_THRESHOLD else value  # type: ignore[operator]
    elif kind is float:
        if not isfinite(value):  # type: ignore[arg-type]
            raise ValueError(f"ApproximateCreationDateTime {value!r} is not a finite number")
        ms = round(value * 1000) if value < MILLISECONDS_THRESHOLD else round(value)  # type: ignore[operator]
    else:
        raise ValueError(f"ApproximateCreationDateTime must be epoch seconds (a number), got {value!r:.60}")
    if not 0 <= ms < MAX_EPOCH_MS:
        raise _out_of_range(value, "ApproximateCreationDateTime")
    return epoch_ms_text(ms)


def arrival_time(value: object) -> str:
    """Text of the record's ``approximateArrivalTimestamp`` (epoch milliseconds)."""
    kind = type(value)
    if kind is int:
        ms = value
    elif kind is float and isfinite(value):  # type: ignore[arg-type]
        ms = round(value)  # type: ignore[arg-type]
    else:
        raise ValueError(f"approximateArrivalTimestamp must be epoch milliseconds, got {value!r:.60}")
    if not 0 <= ms < MAX_EPOCH_MS:  # type: ignore[operator]
        raise _out_of_range(value, "approximateArrivalTimestamp")
    return epoch_ms_text(ms)[0]  # type: ignore[arg-type]


_fromisoformat = datetime.fromisoformat


def check_canonical_iso(text: str) -> bool:
    """Whether ``text`` has the canonical form ``YYYY-MM-DDTHH:MM:SS.fffZ`` (then its timestamp text
    is ``text[:10] + " " + text[11:23]``). Raises ValueError if it has the form but impossible values.
    """
    if len(text) == 24 and text[4:20:3] == "--T::." and text[23] == "Z":
        _fromisoformat(text)  # validates the field ranges (month 13, Feb 30, hour 24, ...)
        return True
    return False


def iso_timestamp(text: str) -> str:
    """Timestamp text of an ISO-8601 string with a time zone, e.g. ``2026-11-21T23:20:58.123Z``.

    The canonical form (24 characters, ``Z``) is validated by ``fromisoformat`` and then sliced; other
    forms (no fraction, microseconds, ``+01:00`` offsets) are converted to UTC and truncated to
    milliseconds. Raises ValueError for text that is not a valid timestamp, or has no time zone.
    """
    if check_canonical_iso(text):
        return text[:10] + " " + text[11:23]
    return _iso_timestamp_slow(text)


def _iso_timestamp_slow(text: str) -> str:
    if not 10 <= len(text) <= 40 or not text.isascii():
        raise ValueError(f"{text!r:.60} is not an ISO-8601 timestamp")
    parsed = _fromisoformat(text)  # ValueError names the text
    offset = parsed.utcoffset()
    if offset is None:
        raise ValueError(f"{text!r:.60} has no time zone; write UTC as ...Z")
    if offset != _ZERO:
        parsed = parsed.astimezone(_UTC)
    return (
        f"{parsed.year:04d}-{parsed.month:02d}-{parsed.day:02d} "
        f"{parsed.hour:02d}:{parsed.minute:02d}:{parsed.second:02d}.{parsed.microsecond // 1000:03d}"
    )
