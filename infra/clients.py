"""One helper builds boto3 clients, for the application and the embedded AWS alike."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import boto3
from botocore.config import Config

# The embedded AWS accepts any credentials; these keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}

_SESSIONS: dict[str | None, boto3.session.Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(profile_name: str | None) -> boto3.session.Session:
    """One boto3 session per profile: a session caches service models, so clients are quick to make."""
    with _SESSIONS_LOCK:
        if profile_name not in _SESSIONS:
            _SESSIONS[profile_name] = boto3.session.Session(profile_name=profile_name)
        return _SESSIONS[profile_name]


def boto3_clients(
    endpoint_url: str | None,
    region: str,
    credentials: Mapping[str, str] | None = None,
    profile_name: str | None = None,
    services: Iterable[str] = ("glue", "s3"),
) -> dict[str, Any]:
    """boto3 clients for ``services`` at ``endpoint_url`` (LOCAL_CREDENTIALS when an endpoint is given
    without credentials or profile: that endpoint is the embedded AWS)."""
    if credentials is None and not profile_name and endpoint_url:
        credentials = LOCAL_CREDENTIALS
    session = _session(profile_name)
    with _SESSIONS_LOCK:  # creating clients from one session is not thread-safe
        return {
            service: session.client(
                service, endpoint_url=endpoint_url, region_name=region, **dict(credentials or {})
            )
            for service in services
        }


def boto3_client(
    service: str,
    endpoint_url: str | None,
    region: str,
    *,
    config: Config | None = None,
    credentials: Mapping[str, str] | None = None,
    profile_name: str | None = None,
) -> Any:
    """One boto3 client for ``service``, made as :func:`boto3_clients` makes them, with botocore
    settings ``config`` (connection pool, retries, validation) for a client that needs its own.

    Credentials as in :func:`boto3_clients`: LOCAL_CREDENTIALS when an endpoint is given without
    credentials or profile; pass ``credentials={}`` for the standard credential chain at any endpoint.
    """
    if credentials is None and not profile_name and endpoint_url:
        credentials = LOCAL_CREDENTIALS
    session = _session(profile_name)
    with _SESSIONS_LOCK:  # creating clients from one session is not thread-safe
        return session.client(
            service, endpoint_url=endpoint_url, region_name=region, config=config, **dict(credentials or {})
        )
