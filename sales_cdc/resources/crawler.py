"""The crawler resource: one interface, the Glue crawler on AWS and the local crawler locally.

:meth:`CrawlerResource.crawl` runs one crawl of the deployed crawler and returns a
:class:`CrawlReport` (status, tables created/updated, partitions and columns added where known).
A crawl that fails or does not finish in time raises :class:`CrawlerError` /
:class:`CrawlerTimeoutError` with the crawler's own error message.

- :class:`GlueCrawlerResource` calls ``start_crawler``, waits (poll interval, timeout) and reads
  ``LastCrawl`` and the crawl metrics. If the crawler is already running it waits for that crawl to
  end and then starts its own, so the report always covers objects written before the call.
- :class:`LocalCrawlerResource` runs :class:`local_aws.glue.LocalCrawler` against the emulator.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from infra.lake import INPUT_FORMAT_TEXT, OUTPUT_FORMAT_TEXT, SERDE_OPENX_JSON
from lambda_transform.schema import CDC_COLUMNS, PARTITION_KEYS
from local_aws.glue import CrawlError, CrawlResult, LocalCrawler
from sales_cdc.resources.query_engine import resolve_local_endpoint


@dataclass(frozen=True)
class CrawlReport:
    """The outcome of one crawl, the same shape for Glue and for the local crawler.

    Glue reports counts only, so ``partitions_added`` is None and ``columns_added`` empty on AWS.
    """

    crawler_name: str
    status: str  # SUCCEEDED | FAILED | CANCELLED (Glue's LastCrawl status)
    error_message: str | None
    tables_created: int
    tables_updated: int
    partitions_added: int | None
    columns_added: tuple[str, ...]
    duration_s: float
    crawl_id: str | None = None
    messages: tuple[str, ...] = ()

    def metadata(self) -> dict[str, Any]:
        """Plain values for a materialization's metadata."""
        data: dict[str, Any] = {
            "crawler": self.crawler_name,
            "crawl_status": self.status,
            "tables_created": self.tables_created,
            "tables_updated": self.tables_updated,
            "crawl_duration_s": round(self.duration_s, 2),
        }
        if self.partitions_added is not None:
            data["partitions_added"] = self.partitions_added
        if self.columns_added:
            data["columns_added"] = list(self.columns_added)
        if self.messages:
            data["crawl_messages"] = list(self.messages)
        return data


class CrawlerError(RuntimeError):
    """A crawl failed or was cancelled; ``error_message`` is the crawler's own."""

    def __init__(self, crawler_name: str, status: str, error_message: str | None, hint: str = "") -> None:
        self.crawler_name = crawler_name
        self.status = status
        self.error_message = error_message
        super().__init__(
            f"crawler {crawler_name} ended {status}: {error_message or 'no error message given'}"
            + (f"; {hint}" if hint else "")
        )


class CrawlerTimeoutError(CrawlerError):
    """The crawl did not finish within the timeout (it keeps running in Glue)."""


class CrawlerResource(ConfigurableResource):
    """Runs one crawl of the deployed crawler; implementations: Glue and local."""

    crawler_name: str = Field(description="Name of the deployed Glue crawler (stack output CrawlerName).")

    def crawl(self) -> CrawlReport:
        """Run one crawl, wait for it and report it; raises CrawlerError when it fails."""
        raise NotImplementedError(f"{type(self).__name__} does not implement crawl()")


class LocalCrawlerResource(CrawlerResource):
    """The local crawler (schema inference and partitions into the emulator's Glue catalog)."""

    endpoint_url: str | None = Field(default=None, description="Emulator endpoint; default: the running one.")
    region_name: str = Field(default="us-east-1", description="Region of the emulated services.")

    _crawler: LocalCrawler | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def local_crawler(self) -> LocalCrawler:
        """The LocalCrawler behind this resource (created on first use)."""
        with self._lock:
            if self._crawler is None:
                endpoint = resolve_local_endpoint(self.endpoint_url)
                self._crawler = LocalCrawler.connect(endpoint, self.region_name)
            return self._crawler

    def crawl(self) -> CrawlReport:
        """Crawl the crawler's S3 targets into the emulator's catalog."""
        started = time.monotonic()
        try:
            result = self.local_crawler().crawl(self.crawler_name)
        except CrawlError as exc:
            raise CrawlerError(self.crawler_name, "FAILED", str(exc)) from exc
        return report_from_local(result, time.monotonic() - started)


def report_from_local(result: CrawlResult, duration_s: float) -> CrawlReport:
    """A CrawlReport from the local crawler's result."""
    columns = tuple(
        f"{table}.{column}"
        for table, names in result.columns_added.items()
        if table not in result.tables_created
        for column in names
    )
    return CrawlReport(
        crawler_name=result.crawler_name,
        status=result.status,
        error_message=None,
        tables_created=len(result.tables_created),
        tables_updated=len(result.tables_updated),
        partitions_added=result.partitions_added_count,
        columns_added=columns,
        duration_s=duration_s,
        crawl_id=result.crawl_id,
        messages=tuple(result.changes_logged + result.warnings),
    )


class GlueCrawlerResource(CrawlerResource):
    """The deployed AWS Glue crawler: start, wait (poll, timeout), report LastCrawl and metrics."""

    region_name: str | None = Field(default=None, description="AWS region.")
    profile_name: str | None = Field(default=None, description="AWS profile.")
    endpoint_url: str | None = Field(default=None, description="Glue endpoint override (tests).")
    aws_access_key_id: str | None = Field(default=None, description="Explicit credentials (tests).")
    aws_secret_access_key: str | None = Field(default=None, description="Explicit credentials (tests).")
    max_attempts: int = Field(default=5, ge=1, description="boto3 attempts per API call (retries included).")
    poll_interval_s: float = Field(default=10.0, gt=0, description="Seconds between status polls.")
    timeout_s: float = Field(default=1800.0, gt=0, description="Give up waiting after this many seconds.")

    _client: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def glue_client(self) -> Any:
        """The boto3 Glue client of this resource (created on first use)."""
        with self._lock:
            if self._client is None:
                session = boto3.session.Session(profile_name=self.profile_name)
                self._client = session.client(
                    "glue",
                    region_name=self.region_name,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id=self.aws_access_key_id,
                    aws_secret_access_key=self.aws_secret_access_key,
                    config=Config(retries={"max_attempts": self.max_attempts, "mode": "standard"}),
                )
            return self._client

    def crawl(self) -> CrawlReport:
        """Start the crawler (after any crawl already running), wait for it and report it."""
        glue = self.glue_client()
        started = time.monotonic()
        deadline = started + self.timeout_s
        declare_target_table(glue, self._crawler(glue))
        while True:
            before = self._crawler(glue).get("LastCrawl") or {}
            try:
                glue.start_crawler(Name=self.crawler_name)
                break
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "CrawlerRunningException":
                    raise
                # Someone else's crawl (a schedule, the console) is running: let it finish, then crawl,
                # so this crawl sees every object written before the call.
                self._wait_ready(glue, deadline, waiting_for="the crawl that was already running")
        crawler = self._wait_ready(glue, deadline, waiting_for="the crawl")
        last = crawler.get("LastCrawl") or {}
        if _same_crawl(last, before):
            raise CrawlerError(
                self.crawler_name,
                "UNKNOWN",
                "the crawler is READY but its LastCrawl is still the previous crawl",
                "check the crawler in the Glue console",
            )
        status = (
            "SUCCEEDED" if last.get("Status") in ("SUCCEEDED", "COMPLETED") else last.get("Status", "UNKNOWN")
        )
        if status != "SUCCEEDED":
            where = (
                f"log group {last.get('LogGroup')}, stream {last.get('LogStream')}"
                if last.get("LogGroup")
                else ""
            )
            raise CrawlerError(
                self.crawler_name,
                status,
                last.get("ErrorMessage"),
                f"see the crawler's CloudWatch logs ({where})"
                if where
                else "see the crawler's CloudWatch logs",
            )
        created, updated = self._metrics(glue)
        return CrawlReport(
            crawler_name=self.crawler_name,
            status=status,
            error_message=last.get("ErrorMessage"),
            tables_created=created,
            tables_updated=updated,
            partitions_added=None,
            columns_added=(),
            duration_s=time.monotonic() - started,
            crawl_id=last.get("MessagePrefix"),
        )

    def _crawler(self, glue: Any) -> dict[str, Any]:
        return glue.get_crawler(Name=self.crawler_name)["Crawler"]

    def _wait_ready(self, glue: Any, deadline: float, *, waiting_for: str) -> dict[str, Any]:
        while True:
            crawler = self._crawler(glue)
            state = crawler.get("State")
            if state == "READY":
                return crawler
            if time.monotonic() >= deadline:
                raise CrawlerTimeoutError(
                    self.crawler_name,
                    f"still {state}",
                    f"{waiting_for} did not finish within {self.timeout_s:g} s",
                    "it keeps running in Glue; raise the resource's timeout_s or check the crawler",
                )
            time.sleep(min(self.poll_interval_s, max(0.0, deadline - time.monotonic())))

    def _metrics(self, glue: Any) -> tuple[int, int]:
        """Tables created/updated by the last crawl (0 when Glue does not report metrics)."""
        try:
            metrics = (
                glue.get_crawler_metrics(CrawlerNameList=[self.crawler_name]).get("CrawlerMetricsList") or []
            )
        except Exception:  # noqa: BLE001 - metrics are informative; the emulator does not serve them
            return 0, 0
        if not metrics:
            return 0, 0
        return int(metrics[0].get("TablesCreated") or 0), int(metrics[0].get("TablesUpdated") or 0)


def declare_target_table(glue: Any, crawler: dict[str, Any]) -> bool:
    """Create the crawler's target table from the declared CDC schema if it does not exist yet.

    A Glue crawler left to itself guesses ``unit_price`` as double and timestamps as strings; with the
    table declared first, its MergeNewColumns setting keeps the declared types and only adds new
    columns, so Athena reads the same types the local engine does. Returns True when it created it.
    """
    targets = crawler.get("Targets", {}).get("S3Targets", [])
    if len(targets) != 1:
        return False  # not the single raw CDC prefix this application deploys
    location = targets[0]["Path"].rstrip("/") + "/"
    table = location.rstrip("/").rsplit("/", 1)[-1]  # Glue names the table after the last folder
    database = crawler["DatabaseName"]
    try:
        glue.get_table(DatabaseName=database, Name=table)
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
            raise
    columns = [{"Name": name, "Type": glue_type} for name, glue_type, _ in CDC_COLUMNS]
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": table,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "json", "compressionType": "gzip", "EXTERNAL": "TRUE"},
            "PartitionKeys": [{"Name": name, "Type": glue_type} for name, glue_type in PARTITION_KEYS],
            "StorageDescriptor": {
                "Columns": columns,
                "Location": location,
                "InputFormat": INPUT_FORMAT_TEXT,
                "OutputFormat": OUTPUT_FORMAT_TEXT,
                "Compressed": True,
                "SerdeInfo": {
                    "SerializationLibrary": SERDE_OPENX_JSON,
                    "Parameters": {"paths": ",".join(c["Name"] for c in columns)},
                },
            },
        },
    )
    return True


def _same_crawl(last: dict[str, Any], before: dict[str, Any]) -> bool:
    if not last:
        return True
    if not before:
        return False
    keys = ("MessagePrefix", "StartTime")
    return all(_normal(last.get(k)) == _normal(before.get(k)) for k in keys)


def _normal(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
