"""Lambda handlers that misbehave on purpose, deployed to the emulator by the processor-contract test.

Each input record's data is JSON ``{"mode": ...}`` saying how :func:`breaks_contract` answers it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

PARTITION = {"dt": "2026-01-01", "hour": "05"}


def breaks_contract(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer each record as its ``mode`` asks, plus one answer for a recordId Firehose never sent."""
    answers: list[dict[str, Any]] = []
    for record in event["records"]:
        mode = json.loads(base64.b64decode(record["data"]))["mode"]
        ok = {
            "recordId": record["recordId"],
            "result": "Ok",
            "data": base64.b64encode(json.dumps({"mode": mode}).encode() + b"\n").decode(),
            "metadata": {"partitionKeys": PARTITION},
        }
        if mode == "ok":
            answers.append(ok)
        elif mode == "missing":
            continue
        elif mode == "duplicate":
            answers += [ok, ok]
        elif mode == "bad_result":
            answers.append({**ok, "result": "Maybe"})
        elif mode == "bad_base64":
            answers.append({**ok, "data": "not base64!"})
        elif mode == "failed":
            answers.append({"recordId": record["recordId"], "result": "ProcessingFailed"})
        elif mode == "dropped":
            answers.append({"recordId": record["recordId"], "result": "Dropped"})
        elif mode == "no_keys":
            answers.append({key: value for key, value in ok.items() if key != "metadata"})
    answers.append({"recordId": "never-sent", "result": "Ok", "data": ""})
    return {"records": answers}


def always_raises(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A function that fails every invocation."""
    raise RuntimeError(
        f"boom ({len(event['records'])} records, {context.get_remaining_time_in_millis()} ms left)"
    )
