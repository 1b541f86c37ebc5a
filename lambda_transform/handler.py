"""Lambda entry point for the Firehose transformation: ``lambda_transform.handler.handler``.

Logging: one structured JSON summary line per invocation (counts by result and by failure reason,
bytes in/out, response bytes, duration), plus one WARNING line per ProcessingFailed record with its
recordId and reason, because the error prefix in S3 gets only Firehose's generic error code.
Nothing is logged per good record. The level comes from ``LOG_LEVEL`` (default INFO).

Metrics: one CloudWatch Embedded Metric Format line per invocation, printed to stdout, with the
number of records answered ProcessingFailed as ``ErrorRecords`` (namespace ``SalesCdc``, dimension
``DeliveryStreamName``). CloudWatch Logs turns it into a metric without an API call (the local
Lambda runtime does the same); the pipeline's ErrorRecords alarm watches it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from lambda_transform import firehose
from lambda_transform.batch import BatchOutcome, transform_batch
from lambda_transform.firehose import InvalidEventError

logger = logging.getLogger("lambda_transform")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())

METRICS_NAMESPACE = "SalesCdc"
ERROR_RECORDS_METRIC = "ErrorRecords"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Transform a Firehose batch of DynamoDB change records into CDC rows (the Lambda handler)."""
    started = time.perf_counter()
    try:
        outcome = transform_batch(event)
    except InvalidEventError as exc:
        logger.error(json.dumps({"message": "invalid Firehose event", "error": str(exc)}))
        raise
    log_outcome(outcome, event, context, duration_ms=(time.perf_counter() - started) * 1000)
    sys.stdout.write(error_records_metric(len(outcome.failures), event) + "\n")
    return outcome.response


def error_records_metric(failed: int, event: dict[str, Any]) -> str:
    """The Embedded Metric Format line for a batch: ``failed`` ErrorRecords of its delivery stream."""
    stream_arn = event.get("deliveryStreamArn") or ""
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRICS_NAMESPACE,
                        "Dimensions": [["DeliveryStreamName"]],
                        "Metrics": [{"Name": ERROR_RECORDS_METRIC, "Unit": "Count"}],
                    }
                ],
            },
            "DeliveryStreamName": stream_arn.rpartition("/")[2] or "unknown",
            ERROR_RECORDS_METRIC: failed,
        },
        separators=(",", ":"),
    )


def log_outcome(outcome: BatchOutcome, event: dict[str, Any], context: Any, duration_ms: float) -> None:
    """Log each failure with its recordId and reason, then the invocation's summary line."""
    invocation_id = event.get("invocationId")
    for record_id, reason in outcome.failures:
        logger.warning(
            json.dumps(
                {
                    "message": "record failed",
                    "invocationId": invocation_id,
                    "recordId": record_id,
                    "reason": reason,
                }
            )
        )
    logger.info(
        json.dumps(
            {
                "message": "firehose transform summary",
                "invocationId": invocation_id,
                "requestId": getattr(context, "aws_request_id", None),
                "deliveryStreamArn": event.get("deliveryStreamArn"),
                "records": len(outcome.response["records"]),
                "results": outcome.result_counts(),
                "failure_reasons": outcome.reason_counts(),
                # decoded sizes, from base64 lengths (exact up to 2 padding bytes per record)
                "bytes_in": outcome.data_chars_in * 3 // 4,
                "bytes_out": outcome.data_chars_out * 3 // 4,
                "response_bytes": outcome.response_bytes,
                "json_library": firehose.JSON_LIBRARY,
                "duration_ms": round(duration_ms, 3),
            }
        )
    )
