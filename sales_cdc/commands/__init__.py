"""Subcommands of the ``sales-cdc`` console script, one module each, and what they share."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def from_options(cls: type[T], options: Mapping[str, Any], **overrides: Any) -> T:
    """The dataclass ``cls`` made from a command's options that are named like its fields.

    ``options`` is what click parsed (``click.Context.params``); options that are not fields of
    ``cls`` (``--json``...) are left out. ``overrides`` set fields whose value is not the option's as
    typed (another unit, a default that depends on other options, a placeholder).
    """
    fields = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    values = {name: value for name, value in options.items() if name in fields}
    return cls(**{**values, **overrides})
