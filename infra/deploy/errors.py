"""What every deploy step shares: the error a user sees, and the reading of AWS's refusals."""

from __future__ import annotations

from collections.abc import Callable

Report = Callable[[str], None]


class DeployError(RuntimeError):
    """The deployment cannot go on; the message says what was wrong, the value seen and what to do."""


def error_code(exc: Exception) -> str:
    """The error code of an AWS refusal (``""`` for other exceptions)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def error_message(exc: Exception) -> str:
    """The message of an AWS refusal, or the exception's text."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "")) or str(exc)
