"""The provisioning record: a hash of each resource's applied properties, kept in the emulator itself.

The hashes live in SSM Parameter Store under ``/sales-cdc/provisioned/``, so the record lives and dies
with the emulator's state: a resource whose stored hash matches is left alone.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from local_aws.provision.common import Clients

_STATE_PREFIX = "/sales-cdc/provisioned/"


def properties_hash(kind: str, properties: Any, code_hash: str = "") -> str:
    """The hash recorded for a resource: its type, resolved properties and (for a function) its code."""
    return hashlib.sha256(json.dumps([kind, properties, code_hash], sort_keys=True).encode()).hexdigest()


def stored_hashes(c: Clients) -> dict[str, str]:
    """Logical id -> hash of the properties last applied, from the emulator (one listing, not a call each)."""
    pages = c.ssm.get_paginator("get_parameters_by_path").paginate(Path=_STATE_PREFIX.rstrip("/"))
    return {
        parameter["Name"][len(_STATE_PREFIX) :]: parameter["Value"]
        for page in pages
        for parameter in page["Parameters"]
    }


def record_hash(c: Clients, logical_id: str, digest: str) -> None:
    """Record that ``logical_id`` was applied with properties hashing to ``digest``."""
    c.ssm.put_parameter(Name=_STATE_PREFIX + logical_id, Value=digest, Type="String", Overwrite=True)
