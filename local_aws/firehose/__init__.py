"""Local Amazon Data Firehose: the delivery stream's configuration, the Lambda contract and the pump.

``LocalFirehose`` (:mod:`.delivery`) is what the data plane runs; :mod:`.config` reads the deployed
delivery stream, :mod:`.lambda_contract` is the Firehose <-> Lambda transformation contract and
:mod:`.records` the accounting that makes delivery at-least-once.
"""

from local_aws.firehose.config import DeliveryStreamConfig, FirehoseConfigError, read_delivery_stream_config
from local_aws.firehose.delivery import LocalFirehose

__all__ = ["DeliveryStreamConfig", "FirehoseConfigError", "LocalFirehose", "read_delivery_stream_config"]
