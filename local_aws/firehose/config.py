"""The local Firehose's reading of a delivery stream's deployed configuration (``describe_delivery_stream``).

What it honours: the Kinesis source; the Lambda processor (``ProcessingConfiguration``: ``LambdaArn``,
``BufferSizeInMBs``, ``BufferIntervalInSeconds``, ``NumberOfRetries``) and ``AppendDelimiterToRecord``;
``BufferingHints``; ``Prefix`` / ``ErrorOutputPrefix`` expressions (``!{partitionKeyFromLambda:...}``,
``!{timestamp:<Java DateTimeFormatter pattern>}`` in UTC, ``!{firehose:error-output-type}``,
``!{firehose:random-string}``; a prefix without expressions gets AWS's default ``yyyy/MM/dd/HH/``
appended); dynamic partitioning; ``CompressionFormat`` (UNCOMPRESSED, GZIP) and ``FileExtension``.
Anything else it would have to honour is refused with a FirehoseConfigError naming it.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local_aws.pumps import KINESIS_STREAM_ARN

MIB = 1024 * 1024
DEFAULT_ERROR_PREFIX = "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"  # AWS's, when none is set
_EXPRESSION = re.compile(r"!\{([^:}]*):([^}]*)\}")


class FirehoseConfigError(ValueError):
    """The deployed delivery stream asks for something this stand-in cannot do; the message says what."""


# --------------------------------------------------------------------------------------------------
# Java DateTimeFormatter patterns (the !{timestamp:...} namespace)

_PATTERN_TOKEN = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|[^A-Za-z']+")
_MONTHS = ("January February March April May June July August September October November December").split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def compile_java_date_format(pattern: str) -> Callable[[datetime], str]:
    """A formatter for a Java DateTimeFormatter pattern (the letters Firehose users use), in UTC.

    Supported: y (year), M (month, MMM/MMMM names), d, D (day of year), H, h, m, s, S (fraction),
    a (AM/PM), E (day name), quoted 'text' and literal punctuation. Raises FirehoseConfigError naming
    an unsupported letter.
    """
    parts: list[Callable[[datetime], str]] = []
    for match in _PATTERN_TOKEN.finditer(pattern):
        token = match.group(0)
        if token.startswith("'"):
            literal = token[1:-1].replace("''", "'") if len(token) > 2 else "'"  # '' is a quote
            parts.append(lambda _m, text=literal: text)
            continue
        letter, width = token[0], len(token)
        if not letter.isalpha():
            parts.append(lambda _m, text=token: text)
        elif letter in "yu":
            parts.append(
                (lambda m: f"{m.year % 100:02d}") if width == 2 else (lambda m, w=width: f"{m.year:0{w}d}")
            )
        elif letter == "M":
            if width >= 4:
                parts.append(lambda m: _MONTHS[m.month - 1])
            elif width == 3:
                parts.append(lambda m: _MONTHS[m.month - 1][:3])
            else:
                parts.append(lambda m, w=width: f"{m.month:0{w}d}")
        elif letter in "dHms":
            attribute = {"d": "day", "H": "hour", "m": "minute", "s": "second"}[letter]
            parts.append(lambda m, a=attribute, w=width: f"{getattr(m, a):0{w}d}")
        elif letter == "h":
            parts.append(lambda m, w=width: f"{(m.hour % 12) or 12:0{w}d}")
        elif letter == "D":
            parts.append(lambda m, w=width: f"{m.timetuple().tm_yday:0{w}d}")
        elif letter == "S":
            parts.append(lambda m, w=width: f"{m.microsecond:06d}"[:w].ljust(w, "0"))
        elif letter == "a":
            parts.append(lambda m: "AM" if m.hour < 12 else "PM")
        elif letter == "E":
            parts.append((lambda m: _DAYS[m.weekday()]) if width >= 4 else (lambda m: _DAYS[m.weekday()][:3]))
        else:
            raise FirehoseConfigError(
                f"timestamp pattern {pattern!r}: the letter {letter!r} is not supported by the local "
                "Firehose (use y, M, d, D, H, h, m, s, S, a, E and quoted text)."
            )
    return lambda moment: "".join(part(moment) for part in parts)


# --------------------------------------------------------------------------------------------------
# S3 prefixes with expressions


class PrefixTemplate:
    """A Firehose S3 prefix with ``!{namespace:value}`` expressions, compiled once.

    ``partition_key_names`` are the ``partitionKeyFromLambda`` keys it uses, in order; records are
    grouped by their values. Timestamps are evaluated once per object (the oldest record's arrival).
    """

    def __init__(self, text: str, *, error_prefix: bool) -> None:
        if error_prefix and not text:
            text = DEFAULT_ERROR_PREFIX
        self.text = text
        pieces: list[Callable[[Mapping[str, str], datetime, str], str]] = []
        names: list[str] = []
        position = 0
        uses_expressions = False
        for match in _EXPRESSION.finditer(text):
            uses_expressions = True
            literal = text[position : match.start()]
            pieces.append(lambda _k, _t, _e, literal=literal: literal)
            namespace, value = match.group(1), match.group(2)
            if namespace == "partitionKeyFromLambda":
                if error_prefix:
                    raise FirehoseConfigError(
                        f"ErrorOutputPrefix {text!r} uses !{{partitionKeyFromLambda:{value}}}; error records "
                        "have no partition keys (AWS rejects this too)."
                    )
                names.append(value)
                pieces.append(lambda keys, _t, _e, name=value: keys[name])
            elif namespace == "timestamp":
                formatter = compile_java_date_format(value)
                pieces.append(lambda _k, moment, _e, f=formatter: f(moment))
            elif namespace == "firehose" and value == "random-string":
                pieces.append(lambda _k, _t, _e: _random_string())
            elif namespace == "firehose" and value == "error-output-type":
                if not error_prefix:
                    raise FirehoseConfigError(
                        f"Prefix {text!r} uses !{{firehose:error-output-type}}, which only "
                        "ErrorOutputPrefix may use."
                    )
                pieces.append(lambda _k, _t, error_type: error_type)
            elif namespace == "partitionKeyFromQuery":
                raise FirehoseConfigError(
                    f"prefix {text!r} uses !{{partitionKeyFromQuery:{value}}} (jq partitioning), which the "
                    "local Firehose does not implement; return the key from the Lambda "
                    "(partitionKeyFromLambda)."
                )
            else:
                raise FirehoseConfigError(
                    f"prefix {text!r}: the expression !{{{namespace}:{value}}} is not one Firehose knows "
                    "(partitionKeyFromLambda, timestamp, firehose:random-string, firehose:error-output-type)."
                )
            position = match.end()
        tail = text[position:]
        if not uses_expressions:
            # AWS appends its default time prefix to a prefix without expressions.
            formatter = compile_java_date_format("yyyy/MM/dd/HH")
            pieces.append(lambda _k, moment, _e, tail=tail, f=formatter: tail + f(moment) + "/")
        else:
            pieces.append(lambda _k, _t, _e, tail=tail: tail)
        self._pieces = pieces
        self.partition_key_names: tuple[str, ...] = tuple(dict.fromkeys(names))

    def render(self, partition_keys: Mapping[str, str], arrival: datetime, error_type: str = "") -> str:
        """The evaluated prefix for one object."""
        return "".join(piece(partition_keys, arrival, error_type) for piece in self._pieces)


_RANDOM_ALPHABET = string.ascii_letters + string.digits


def _random_string() -> str:
    # Firehose's random-string is 11 characters.
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(11))


# --------------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class ProcessorConfig:
    """The Lambda processor of a delivery stream."""

    lambda_arn: str
    buffer_size_bytes: int
    buffer_interval_s: float
    number_of_retries: int


@dataclass(frozen=True)
class DeliveryStreamConfig:
    """The parts of ``describe_delivery_stream`` that decide how records are delivered."""

    name: str
    arn: str
    version_id: str
    status: str
    source_stream_arn: str
    region: str
    bucket: str
    prefix: PrefixTemplate
    error_prefix: PrefixTemplate
    buffer_size_bytes: int
    buffer_interval_s: float
    compression: str
    file_extension: str
    processor: ProcessorConfig | None
    append_delimiter: bool

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> DeliveryStreamConfig:
        """Validate the description; raises FirehoseConfigError naming what is unsupported."""
        name = description.get("DeliveryStreamName", "?")
        if description.get("DeliveryStreamType") != "KinesisStreamAsSource":
            raise FirehoseConfigError(
                f"delivery stream {name!r} is of type {description.get('DeliveryStreamType')!r}; the local "
                "Firehose reads Kinesis sources (KinesisStreamAsSource) only."
            )
        source = (description.get("Source") or {}).get("KinesisStreamSourceDescription") or {}
        source_arn = source.get("KinesisStreamARN", "")
        match = KINESIS_STREAM_ARN.match(source_arn)
        if not match:
            raise FirehoseConfigError(
                f"delivery stream {name!r}: source {source_arn!r} is not a Kinesis stream ARN."
            )
        destinations = description.get("Destinations") or []
        destination = destinations[0].get("ExtendedS3DestinationDescription") if destinations else None
        if not destination:
            raise FirehoseConfigError(
                f"delivery stream {name!r} has no ExtendedS3 destination; the local Firehose delivers to "
                "S3 only."
            )
        if (destination.get("DataFormatConversionConfiguration") or {}).get("Enabled"):
            raise FirehoseConfigError(
                f"delivery stream {name!r} converts record formats (DataFormatConversionConfiguration), "
                "which the local Firehose does not implement."
            )
        compression = destination.get("CompressionFormat", "UNCOMPRESSED")
        if compression not in ("UNCOMPRESSED", "GZIP"):
            raise FirehoseConfigError(
                f"delivery stream {name!r}: CompressionFormat {compression!r} is not implemented locally "
                "(UNCOMPRESSED, GZIP)."
            )
        hints = destination.get("BufferingHints") or {}
        dynamic = bool((destination.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
        processor, append_delimiter = _processors(name, destination.get("ProcessingConfiguration") or {})
        prefix = PrefixTemplate(destination.get("Prefix", "") or "", error_prefix=False)
        if prefix.partition_key_names and not (dynamic and processor):
            raise FirehoseConfigError(
                f"delivery stream {name!r}: Prefix {prefix.text!r} uses partitionKeyFromLambda, which needs "
                "DynamicPartitioningConfiguration.Enabled and a Lambda processor."
            )
        bucket_arn = destination.get("BucketARN", "")
        return cls(
            name=name,
            arn=description.get("DeliveryStreamARN", ""),
            version_id=str(description.get("VersionId", "1")),
            status=description.get("DeliveryStreamStatus", "ACTIVE"),
            source_stream_arn=source_arn,
            region=match.group(1),
            bucket=bucket_arn.split(":::", 1)[-1],
            prefix=prefix,
            error_prefix=PrefixTemplate(destination.get("ErrorOutputPrefix", "") or "", error_prefix=True),
            buffer_size_bytes=int(float(hints.get("SizeInMBs", 5)) * MIB),
            buffer_interval_s=float(hints.get("IntervalInSeconds", 300)),
            compression=compression,
            file_extension=destination.get("FileExtension") or (".gz" if compression == "GZIP" else ""),
            processor=processor,
            append_delimiter=append_delimiter,
        )


def _processors(name: str, processing: Mapping[str, Any]) -> tuple[ProcessorConfig | None, bool]:
    if not processing.get("Enabled"):
        return None, False
    lambda_processor: ProcessorConfig | None = None
    append_delimiter = False
    for processor in processing.get("Processors", []):
        kind = processor.get("Type")
        params = {p["ParameterName"]: p["ParameterValue"] for p in processor.get("Parameters", [])}
        if kind == "Lambda":
            if "LambdaArn" not in params:
                raise FirehoseConfigError(f"delivery stream {name!r}: the Lambda processor has no LambdaArn.")
            lambda_processor = ProcessorConfig(
                lambda_arn=params["LambdaArn"],
                # AWS defaults: 1 MB (0.2..3), 60 s (0..900), 3 retries.
                buffer_size_bytes=int(float(params.get("BufferSizeInMBs", 1)) * MIB),
                buffer_interval_s=float(params.get("BufferIntervalInSeconds", 60)),
                number_of_retries=int(params.get("NumberOfRetries", 3)),
            )
        elif kind == "AppendDelimiterToRecord":
            append_delimiter = True
        elif kind == "MetadataExtraction":
            raise FirehoseConfigError(
                f"delivery stream {name!r}: the MetadataExtraction (jq) processor is not implemented "
                "locally; return partition keys from the Lambda instead."
            )
        else:
            raise FirehoseConfigError(
                f"delivery stream {name!r}: processor type {kind!r} is not implemented locally."
            )
    return lambda_processor, append_delimiter


def read_delivery_stream_config(client: Any, name: str) -> DeliveryStreamConfig:
    """Read a delivery stream's configuration back from the (emulated) Firehose API."""
    description = client.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    return DeliveryStreamConfig.from_description(description)
