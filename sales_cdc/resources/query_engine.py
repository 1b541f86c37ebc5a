"""The query engine resource: one interface, Athena on AWS and an Athena-compatible engine locally.

Assets call :meth:`QueryEngineResource.execute` with Athena (Trino) SQL and get a
:class:`QueryResult` with the rows and Athena's statistics (bytes scanned, time). The deployment
chooses the implementation:

- :class:`AthenaQueryEngine` runs the SQL on Amazon Athena through pyathena (workgroup, output
  location, polling with a timeout, cancellation on timeout).
- :class:`LocalQueryEngine` runs it on :class:`local_aws.athena.LocalAthena`: DuckDB executing the
  SQL translated by sqlglot, with tables and partitions from the emulator's Glue catalog. The
  embedded AWS has its own result and error types; this resource translates them into these.

Both raise :class:`QueryFailedError` (with Athena's reason) when a statement fails and
:class:`QueryTimeoutError` when it does not finish in time. For CTAS and INSERT INTO both return one
column ``rows`` with the number of rows written (Trino's answer; Athena's ``UpdateCount``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from local_aws.athena import LocalAthena, LocalQueryError, LocalQueryResult
from local_aws.athena import UnsupportedSqlError as LocalUnsupportedSqlError
from sales_cdc.settings import SettingsError, load_settings

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class QueryResult:
    """Rows and statistics of one statement, the same from Athena and from the local engine.

    ``bytes_scanned`` is Athena's ``DataScannedInBytes`` (locally: the sizes of the S3 objects the
    statement read); ``elapsed_ms`` is the engine execution time; ``statement_type`` is Athena's
    ``DDL``, ``DML`` or ``UTILITY``.
    """

    columns: list[str]
    rows: list[tuple]
    bytes_scanned: int
    elapsed_ms: float
    query_id: str
    statement_type: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def row_count(self) -> int:
        """Number of result rows."""
        return len(self.rows)

    def scalar(self) -> Any:
        """The single value of a one-row, one-column result (e.g. ``SELECT count(*) ...``)."""
        if len(self.rows) != 1 or len(self.columns) != 1:
            raise ValueError(
                f"expected one row with one column, got {len(self.rows)} row(s) of "
                f"{len(self.columns)} column(s) ({', '.join(self.columns)}) from query {self.query_id}"
            )
        return self.rows[0][0]

    def as_dicts(self) -> list[dict[str, Any]]:
        """The rows as dictionaries keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame (values keep their Python types, e.g. Decimal)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.rows, columns=self.columns)


class QueryEngineError(RuntimeError):
    """Base class of query engine errors."""


class QueryFailedError(QueryEngineError):
    """A statement failed; ``reason`` is the engine's explanation (Athena's StateChangeReason)."""

    def __init__(
        self,
        reason: str,
        *,
        query_id: str | None = None,
        state: str = "FAILED",
        sql: str | None = None,
    ) -> None:
        self.reason = reason
        self.query_id = query_id
        self.state = state
        self.sql = sql
        where = f" (query {query_id})" if query_id else ""
        excerpt = f"\nSQL: {_excerpt(sql)}" if sql else ""
        super().__init__(f"query {state}{where}: {reason}{excerpt}")


class UnsupportedSqlError(QueryFailedError):
    """The local engine cannot run a construct; ``construct`` names it. Nothing was run."""

    def __init__(
        self, construct: str, hint: str = "", *, query_id: str | None = None, sql: str | None = None
    ):
        self.construct = construct
        message = f"{construct} is not supported by the local Athena engine"
        if hint:
            message += f"; {hint}"
        super().__init__(message, query_id=query_id, state="FAILED", sql=sql)


class QueryTimeoutError(QueryEngineError):
    """A statement did not finish within the timeout; it was cancelled."""

    def __init__(
        self, query_id: str | None, timeout_s: float, last_state: str | None, sql: str | None = None
    ):
        self.query_id = query_id
        self.timeout_s = timeout_s
        self.last_state = last_state
        super().__init__(
            f"query {query_id} did not finish within {timeout_s:g} s (last state {last_state}); it was "
            f"cancelled. Raise the resource's timeout_s or make the query cheaper.\nSQL: {_excerpt(sql)}"
        )


def _excerpt(sql: str | None, limit: int = 300) -> str:
    text = " ".join((sql or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class QueryEngineResource(ConfigurableResource):
    """Runs Athena (Trino) SQL; implementations: :class:`AthenaQueryEngine`, :class:`LocalQueryEngine`."""

    database: str = Field(description="Glue database that unqualified table names refer to.")

    def execute(self, sql: str, database: str | None = None) -> QueryResult:
        """Run one statement and wait for it; raises QueryFailedError / QueryTimeoutError."""
        raise NotImplementedError(f"{type(self).__name__} does not implement execute()")


class LocalQueryEngine(QueryEngineResource):
    """Athena SQL on the local engine (DuckDB over the emulator's Glue catalog and S3).

    ``endpoint_url`` defaults to the running local emulator (recorded by ``sales-cdc local up``).
    One :class:`~local_aws.athena.LocalAthena` is kept per resource instance, so its cache of
    parsed S3 objects lives as long as the resource.
    """

    endpoint_url: str | None = Field(default=None, description="Emulator endpoint; default: the running one.")
    region_name: str = Field(default="us-east-1", description="Region of the emulated services.")
    workgroup: str | None = Field(
        default=None, description="Athena workgroup (output location, scan cutoff)."
    )
    output_location: str | None = Field(default=None, description="s3:// location for CTAS without one.")

    _engine: LocalAthena | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def engine(self) -> LocalAthena:
        """The LocalAthena behind this resource (created on first use)."""
        with self._lock:
            if self._engine is None:
                self._engine = LocalAthena(
                    endpoint_url=resolve_local_endpoint(self.endpoint_url),
                    region=self.region_name,
                    workgroup=self.workgroup,
                    output_location=self.output_location,
                )
            return self._engine

    def execute(self, sql: str, database: str | None = None) -> QueryResult:
        """Run one statement on the local engine; its errors become QueryFailedError / UnsupportedSqlError."""
        try:
            return _from_local_result(self.engine().execute(sql, database or self.database))
        except LocalUnsupportedSqlError as exc:
            raise UnsupportedSqlError(exc.construct, exc.hint, query_id=exc.query_id, sql=exc.sql) from exc
        except LocalQueryError as exc:
            raise QueryFailedError(exc.reason, query_id=exc.query_id, sql=exc.sql) from exc


def _from_local_result(result: LocalQueryResult) -> QueryResult:
    """The application's QueryResult of a local engine's result (the two types have the same fields)."""
    shared = {f.name: getattr(result, f.name) for f in fields(QueryResult)}
    return QueryResult(**{**shared, "extra": dict(result.extra)})


def resolve_local_endpoint(endpoint_url: str | None) -> str:
    """``endpoint_url``, or the endpoint of the running local emulator; raises SettingsError if none."""
    if endpoint_url:
        return endpoint_url
    endpoint = load_settings("local", require_outputs=False).endpoint_url
    if not endpoint:
        raise SettingsError(
            "the local emulator is not running and no endpoint_url was configured; "
            "start the local stack with `make run` (or `sales-cdc local up`)."
        )
    return endpoint


class AthenaQueryEngine(QueryEngineResource):
    """Athena SQL on Amazon Athena through pyathena.

    Polls every ``poll_interval_s``; a statement still running after ``timeout_s`` is cancelled
    (StopQueryExecution) and :class:`QueryTimeoutError` is raised. A FAILED or CANCELLED statement
    raises :class:`QueryFailedError` carrying Athena's StateChangeReason.
    """

    workgroup: str = Field(description="Athena workgroup to run in.")
    output_location: str | None = Field(
        default=None, description="s3:// results location; default: the workgroup's."
    )
    region_name: str | None = Field(default=None, description="AWS region.")
    profile_name: str | None = Field(default=None, description="AWS profile.")
    endpoint_url: str | None = Field(default=None, description="Athena endpoint override (tests).")
    aws_access_key_id: str | None = Field(default=None, description="Explicit credentials (tests).")
    aws_secret_access_key: str | None = Field(default=None, description="Explicit credentials (tests).")
    poll_interval_s: float = Field(default=1.0, gt=0, description="Seconds between status polls.")
    timeout_s: float = Field(default=600.0, gt=0, description="Cancel a statement running longer than this.")

    _connection: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def connection(self) -> Any:
        """The pyathena connection of this resource (created on first use)."""
        with self._lock:
            if self._connection is None:
                import pyathena

                kwargs: dict[str, Any] = {
                    "work_group": self.workgroup,
                    "schema_name": self.database,
                    "poll_interval": self.poll_interval_s,
                }
                optional = {
                    "s3_staging_dir": self.output_location,
                    "region_name": self.region_name,
                    "profile_name": self.profile_name,
                    "endpoint_url": self.endpoint_url,
                    "aws_access_key_id": self.aws_access_key_id,
                    "aws_secret_access_key": self.aws_secret_access_key,
                }
                kwargs.update({key: value for key, value in optional.items() if value is not None})
                self._connection = pyathena.connect(**kwargs)
            return self._connection

    def execute(self, sql: str, database: str | None = None) -> QueryResult:
        """Run one statement on Athena, wait for it and fetch its rows and statistics."""
        from pyathena.error import OperationalError

        deadline = time.monotonic() + self.timeout_s
        last_state: dict[str, str | None] = {"state": None}

        def on_poll(execution: Any) -> None:
            last_state["state"] = getattr(execution, "state", None)
            if time.monotonic() > deadline and last_state["state"] in ("QUEUED", "RUNNING"):
                raise _PollTimeout()

        cursor = self.connection().cursor(schema_name=database or self.database, on_poll=on_poll)
        try:
            try:
                cursor.execute(sql)
            except _PollTimeout:
                query_id = cursor.query_id
                try:
                    cursor.cancel()
                finally:
                    raise QueryTimeoutError(query_id, self.timeout_s, last_state["state"], sql) from None
            except OperationalError as exc:
                state, reason = _failure_of(cursor, exc)
                raise QueryFailedError(reason, query_id=cursor.query_id, state=state, sql=sql) from exc
            return _result_of(cursor)
        finally:
            cursor.close()


class _PollTimeout(Exception):
    """Raised from pyathena's poll callback to stop waiting; turned into QueryTimeoutError."""


def _failure_of(cursor: Any, exc: Exception) -> tuple[str, str]:
    """State and reason of a failed statement, from Athena's execution record when available."""
    reason = str(exc) or "no reason given by Athena"
    state = "FAILED"
    try:
        execution = cursor.connection.client.get_query_execution(QueryExecutionId=cursor.query_id)
        status = execution["QueryExecution"]["Status"]
        state = status.get("State", state)
        athena_error = status.get("AthenaError") or {}
        reason = status.get("StateChangeReason") or athena_error.get("ErrorMessage") or reason
        if athena_error.get("ErrorType"):
            category = athena_error.get("ErrorCategory")
            reason = f"{reason} (error type {athena_error['ErrorType']}, category {category})"
    except Exception:  # noqa: BLE001,S110 - the reason from pyathena is good enough
        pass
    return state, reason


def _result_of(cursor: Any) -> QueryResult:
    """A QueryResult from a finished pyathena cursor (rows for SELECT, rows written for CTAS/INSERT)."""
    statement_type = cursor.statement_type or "DML"
    description = cursor.description or []
    columns = [column[0] for column in description]
    rows = [tuple(row) for row in cursor.fetchall()] if columns else []
    if not columns and cursor.rowcount is not None and cursor.rowcount >= 0:
        # CTAS and INSERT INTO return no result set; Athena reports the rows written as UpdateCount.
        columns, rows = ["rows"], [(cursor.rowcount,)]
    return QueryResult(
        columns=columns,
        rows=rows,
        bytes_scanned=int(cursor.data_scanned_in_bytes or 0),
        elapsed_ms=float(cursor.engine_execution_time_in_millis or 0),
        query_id=cursor.query_id,
        statement_type=statement_type,
        extra={
            "total_execution_time_ms": cursor.total_execution_time_in_millis,
            "output_location": cursor.output_location,
            "substatement_type": getattr(cursor, "substatement_type", None),
            "column_types": [column[1] for column in description],  # Athena's type names (DB-API description)
        },
    )
