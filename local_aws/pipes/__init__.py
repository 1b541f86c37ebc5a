"""Local EventBridge Pipes: the Pipe's configuration, the events it sends, GetRecords on the wire, the pump.

``LocalPipe`` (:mod:`.pump`) is what the data plane runs, reading DynamoDB Streams through
``WireGetRecords`` (:mod:`.wire`); :mod:`.config` reads the deployed Pipe and :mod:`.events` builds what
it sends to Kinesis and to its dead-letter queue.
"""

from local_aws.pipes.config import PipeConfig, PipeConfigError, read_pipe_config
from local_aws.pipes.pump import LocalPipe
from local_aws.pipes.wire import WireGetRecords

__all__ = ["LocalPipe", "PipeConfig", "PipeConfigError", "WireGetRecords", "read_pipe_config"]
