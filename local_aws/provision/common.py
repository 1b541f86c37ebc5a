"""What every resource applier shares: the clients, the result of applying, and the emulator's answers.

An applier creates or updates one resource from its resolved template properties and returns its
Ref value and Fn::GetAtt attributes (:class:`Applied`); called with ``exists_only=True`` it changes
nothing and returns what is there, or None when the resource does not exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
from botocore.exceptions import ClientError

from infra.clients import LOCAL_CREDENTIALS

ACCOUNT_ID = "123456789012"  # moto's default account

T = TypeVar("T")

# Properties that CloudFormation takes as strings from parameters but the APIs want as numbers.
_NUMERIC_KEYS = {
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
    "IntervalInSeconds",
    "SizeInMBs",
    "DurationInSeconds",
    "BytesScannedCutoffPerQuery",
    "SampleSize",
}


class ProvisionError(RuntimeError):
    """Provisioning failed; the message names the resource, the problem, and what was already applied."""


@dataclass
class Applied:
    """What applying one resource produced: its Ref value and its Fn::GetAtt attributes."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


# An applier: (clients, resolved properties, exists_only) -> Applied, or None when absent (exists_only).
Applier = Callable[..., Applied | None]


class Clients:
    """boto3 clients for the emulator, created on first use (``clients.dynamodb``, ``clients.lambda_``)."""

    def __init__(self, endpoint: str, region: str) -> None:
        self._session = boto3.session.Session(region_name=region, **LOCAL_CREDENTIALS)
        self._endpoint = endpoint
        self._clients: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        if service not in self._clients:
            # `lambda` is a keyword: the attribute is `lambda_`.
            name = service.rstrip("_")
            self._clients[service] = self._session.client(name, endpoint_url=self._endpoint)
        return self._clients[service]


def error_code(exc: ClientError) -> str:
    """The error code of a service's refusal (``ResourceNotFoundException``...)."""
    return exc.response.get("Error", {}).get("Code", "")


def as_int(value: Any) -> int:
    """A template number (often a string after parameter substitution, maybe ``"3.0"``) as an int."""
    return int(float(value))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``check`` until it holds; ProvisionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ProvisionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def describe_or_none(describe: Callable[[], T], *missing_codes: str) -> T | None:
    """The answer of a describe call, or None when the service says (one of ``missing_codes``) the
    resource does not exist; any other refusal is raised."""
    try:
        return describe()
    except ClientError as exc:
        if error_code(exc) not in missing_codes:
            raise
        return None


def update_or_delete(update: Callable[[], Any], delete: Callable[[], Any]) -> bool:
    """Update a resource in place; True when it was.

    The emulator does not implement some updates (UpdateCrawler, UpdateWorkGroup) and answers HTTP 500;
    then the resource, which holds no data, is deleted and False returned so the caller creates it anew.
    """
    try:
        update()
        return True
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 500:
            raise
    delete()
    return False


def typed(node: Any, key: str = "") -> Any:
    """Coerce numeric-valued properties (strings after parameter substitution) to int."""
    if isinstance(node, dict):
        return {k: typed(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [typed(v, key) for v in node]
    if key in _NUMERIC_KEYS and isinstance(node, str):
        return as_int(node)
    if isinstance(node, str) and node.lower() in ("true", "false") and key in ("Enabled",):
        return node.lower() == "true"
    return node
