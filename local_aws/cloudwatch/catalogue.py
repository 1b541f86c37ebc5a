"""The metrics the local data plane publishes: AWS's namespaces, names, dimensions and units.

One place for what the pumps, the Lambda runtime and the samplers record, so each name is spelled
once (as AWS spells it) and a reader sees the whole list; the README's table is derived from it.
"""

from __future__ import annotations

from local_aws.cloudwatch.metrics import Dimensions

KINESIS = "AWS/Kinesis"
FIREHOSE = "AWS/Firehose"
LAMBDA = "AWS/Lambda"
PIPES = "AWS/EventBridge/Pipes"
SQS = "AWS/SQS"
DYNAMODB = "AWS/DynamoDB"

ITERATOR_AGE = "GetRecords.IteratorAgeMilliseconds"  # per GetRecords call of the Firehose reader
INCOMING_RECORDS = "IncomingRecords"  # records the Pipe put to the change stream
DATA_FRESHNESS = "DeliveryToS3.DataFreshness"  # seconds, age of the oldest record not yet in S3
DELIVERY_SUCCESS = "DeliveryToS3.Success"  # 1 / 0 per S3 put
DELIVERY_RECORDS = "DeliveryToS3.Records"  # records per successful S3 put
LAMBDA_INVOCATIONS = "Invocations"
LAMBDA_ERRORS = "Errors"
LAMBDA_DURATION = "Duration"
PIPE_INVOCATIONS = "Invocations"  # one per batch the Pipe sends to its target
PIPE_EVENT_COUNT = "EventCount"
PIPE_EXECUTION_FAILED = "ExecutionFailed"
PIPE_EXECUTION_THROTTLED = "ExecutionThrottled"
DLQ_VISIBLE = "ApproximateNumberOfMessagesVisible"
WRITE_THROTTLE_EVENTS = "WriteThrottleEvents"

# Embedded Metric Format lines the Lambda prints become metrics of their own namespace (SalesCdc).


def stream_dimensions(stream_arn_or_name: str) -> Dimensions:
    """AWS/Kinesis dimensions of a stream (its name, from an ARN ``...:stream/<name>`` or a name)."""
    return (("StreamName", stream_arn_or_name.rpartition("/")[2]),)


def delivery_stream_dimensions(name: str) -> Dimensions:
    """AWS/Firehose dimensions of a delivery stream."""
    return (("DeliveryStreamName", name),)


def function_dimensions(function_name: str) -> Dimensions:
    """AWS/Lambda dimensions of a function (its name, from an ARN ``...:function:<name>`` or a name)."""
    return (("FunctionName", function_name.split(":function:")[-1].split(":")[0]),)


def pipe_dimensions(pipe_name: str) -> Dimensions:
    """AWS/EventBridge/Pipes dimensions of a pipe."""
    return (("PipeName", pipe_name),)


def queue_dimensions(queue_arn: str) -> Dimensions:
    """AWS/SQS dimensions of a queue (its name: the last part of its ARN)."""
    return (("QueueName", queue_arn.rpartition(":")[2]),)


def table_dimensions(stream_arn: str) -> Dimensions:
    """AWS/DynamoDB dimensions of the table a DynamoDB stream ARN (``...:table/<name>/stream/...``) is of."""
    return (("TableName", stream_arn.split(":table/", 1)[-1].split("/", 1)[0]),)
