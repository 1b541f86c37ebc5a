"""Local AWS Lambda runtime: a deployed function's Python handler, imported and called in this process.

moto keeps a function's configuration but the local Firehose needs its processor to run, so the
function's ``Handler`` (``module.function``, read back with ``lambda.get_function``) is imported from
this checkout and called like a synchronous invocation: with a context object, the function's
environment variables set (never overriding this process's own), and its failures reported with the
error codes Firehose records for a failed invocation (``Lambda.FunctionError``,
``Lambda.FunctionTimedOut``, ``Lambda.JsonProcessingException``, ``Lambda.ResponseSizeExceeded``).

With a metrics publisher it also publishes what AWS/Lambda publishes per invocation (``Invocations``,
``Errors``, ``Duration``; never ``Throttles``: nothing throttles a function called in-process), and
what CloudWatch Logs makes of the function's Embedded Metric Format lines: what the handler prints to
stdout during the invocation is captured (for the invoking thread only) and each EMF line becomes
metric values; other lines go on to this process's stdout, as they would go to the log group.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from local_aws.cloudwatch import MetricsPublisher, catalogue, dimensions_of

LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024  # bytes of a synchronous invocation's response


class LambdaConfigError(ValueError):
    """The deployed function cannot run in this process (bad Handler, module not importable)."""


class InvocationError(Exception):
    """An invocation failed as a whole; ``code`` is the error code Firehose records for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LambdaContext:
    """The context object a Python Lambda handler receives (the attributes handlers use)."""

    def __init__(self, configuration: Mapping[str, Any]) -> None:
        self.function_name = configuration.get("FunctionName", "")
        self.function_version = configuration.get("Version", "$LATEST")
        self.invoked_function_arn = configuration.get("FunctionArn", "")
        self.memory_limit_in_mb = int(configuration.get("MemorySize", 128))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + float(configuration.get("Timeout", 3))

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's Timeout, as the Lambda runtime reports them."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LambdaFunction:
    """A deployed function resolved to its handler in this process (``Handler`` = ``module.function``)."""

    def __init__(self, configuration: Mapping[str, Any], metrics: MetricsPublisher | None = None) -> None:
        self.configuration = dict(configuration)
        self.arn = configuration["FunctionArn"]
        self.metrics = metrics
        self._dimensions = catalogue.function_dimensions(configuration.get("FunctionName") or self.arn)
        self.timeout_s = float(configuration.get("Timeout", 3))
        handler = configuration.get("Handler", "")
        module_name, _, function_name = handler.rpartition(".")
        if not module_name or not function_name:
            raise LambdaConfigError(
                f"function {self.arn}: Handler {handler!r} is not of the form module.function."
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise LambdaConfigError(
                f"function {self.arn}: cannot import handler module {module_name!r} ({exc}); the local "
                "Firehose runs the processor in-process, so its code must be importable from this checkout."
            ) from exc
        self.handler = getattr(module, function_name, None)
        if not callable(self.handler):
            raise LambdaConfigError(
                f"function {self.arn}: module {module_name!r} has no callable {function_name!r}."
            )
        # The function's environment, as the Lambda runtime would set it (never overriding this process).
        for key, value in ((configuration.get("Environment") or {}).get("Variables") or {}).items():
            os.environ.setdefault(key, value)

    @classmethod
    def resolve(cls, client: Any, arn: str, metrics: MetricsPublisher | None = None) -> LambdaFunction:
        """Look the function up in the (emulated) Lambda API and import its handler."""
        return cls(client.get_function(FunctionName=arn)["Configuration"], metrics)

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler like a synchronous invocation; returns the JSON-decoded response."""
        if self.metrics is None:
            return self._invoke(event)
        started = time.perf_counter()
        failed = 1.0
        output = io.StringIO()
        try:
            with _captured_stdout(output):
                response = self._invoke(event)
            failed = 0.0
            return response
        finally:
            metrics = self.metrics
            metrics.record(catalogue.LAMBDA, catalogue.LAMBDA_INVOCATIONS, self._dimensions, 1.0, "Count")
            metrics.record(catalogue.LAMBDA, catalogue.LAMBDA_ERRORS, self._dimensions, failed, "Count")
            duration_ms = (time.perf_counter() - started) * 1000
            metrics.record(
                catalogue.LAMBDA, catalogue.LAMBDA_DURATION, self._dimensions, duration_ms, "Milliseconds"
            )
            publish_log_lines(output.getvalue(), metrics)

    def _invoke(self, event: dict[str, Any]) -> Any:
        context = LambdaContext(self.configuration)
        started = time.monotonic()
        try:
            response = self.handler(event, context)
        except Exception as exc:
            raise InvocationError("Lambda.FunctionError", f"{type(exc).__name__}: {exc}") from exc
        if time.monotonic() - started > self.timeout_s:
            raise InvocationError(
                "Lambda.FunctionTimedOut", f"the function ran longer than its Timeout of {self.timeout_s:g} s"
            )
        try:
            # The runtime serializes the answer; what cannot be serialized is an invocation error.
            payload = orjson.dumps(response, option=orjson.OPT_NON_STR_KEYS)
        except TypeError as exc:
            raise InvocationError(
                "Lambda.JsonProcessingException", f"the response is not JSON: {exc}"
            ) from exc
        if len(payload) > LAMBDA_PAYLOAD_LIMIT:
            raise InvocationError(
                "Lambda.ResponseSizeExceeded",
                f"the response has {len(payload)} bytes; a synchronous Lambda response is limited to "
                f"{LAMBDA_PAYLOAD_LIMIT}",
            )
        return response


def publish_log_lines(text: str, metrics: MetricsPublisher) -> int:
    """Publish the Embedded Metric Format lines of a function's output; echo the others. Returns EMF lines.

    An EMF line is a JSON object whose ``_aws.CloudWatchMetrics`` lists directives (Namespace,
    Dimensions: lists of dimension names, Metrics: Name and Unit); each metric's value is the member of
    that name (a number or a list of numbers), published once per dimension set, as CloudWatch Logs does.
    A line that is not valid EMF is only echoed (CloudWatch Logs keeps it as a log event).
    """
    published = 0
    for line in text.splitlines():
        directives = _emf_directives(line)
        if directives is None:
            if line:
                sys.stdout.write(line + "\n")
            continue
        document, entries = directives
        for directive in entries:
            namespace = directive.get("Namespace")
            if not isinstance(namespace, str) or not namespace:
                continue
            for names in directive.get("Dimensions") or [[]]:
                try:
                    dimensions = dimensions_of({name: str(document[name]) for name in names})
                except (KeyError, TypeError):
                    continue  # a dimension without a member: CloudWatch Logs drops the metric too
                for metric in directive.get("Metrics") or []:
                    value = document.get(metric.get("Name")) if isinstance(metric, dict) else None
                    values = value if isinstance(value, list) else [value]
                    for number in values:
                        if isinstance(number, int | float) and not isinstance(number, bool):
                            unit = metric.get("Unit") or "None"
                            metrics.record(namespace, metric["Name"], dimensions, float(number), unit)
        published += 1
    return published


def _emf_directives(line: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    if not line.startswith("{") or '"_aws"' not in line:
        return None
    try:
        document = orjson.loads(line)
        entries = document["_aws"]["CloudWatchMetrics"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(entries, list):
        return None
    return document, [entry for entry in entries if isinstance(entry, dict)]


class _ThreadStdout:
    """sys.stdout for this process: writes of a thread that is capturing go to its buffer, others through."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.local = threading.local()

    def write(self, text: str) -> int:
        """Write to the capturing thread's buffer, or through to the stream this replaced."""
        buffer = getattr(self.local, "buffer", None)
        if buffer is not None:
            return buffer.write(text)
        return self.target.write(text)

    def flush(self) -> None:
        """Flush the stream this replaced (a capture buffer needs none)."""
        if getattr(self.local, "buffer", None) is None:
            self.target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


_install_lock = threading.Lock()


@contextlib.contextmanager
def _captured_stdout(buffer: io.StringIO) -> Iterator[None]:
    """Capture what this thread prints into ``buffer`` while the block runs (other threads as before)."""
    with _install_lock:
        proxy = sys.stdout
        if not isinstance(proxy, _ThreadStdout):
            # Installed once and left in place: another thread may be printing through it.
            proxy = sys.stdout = _ThreadStdout(sys.stdout)
    previous = getattr(proxy.local, "buffer", None)
    proxy.local.buffer = buffer
    try:
        yield
    finally:
        proxy.local.buffer = previous
