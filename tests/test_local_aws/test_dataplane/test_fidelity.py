"""Fidelity: the local data plane does what the template says, so changing the template changes it."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.cfn import TEMPLATE_PATH
from local_aws.dataplane import DataPlane, format_health
from local_aws.provision import provision
from local_aws.server import Emulator
from sales_cdc.generator import GeneratorConfig, generate_orders
from sales_cdc.settings import load_settings, outputs_path
from test_local_aws.dataplane_helpers import Clients, Lake, wait_for

EVENTS = 60
BATCH_SIZE = 7
# (what the template says, what the copy says instead)
CHANGES = [
    # Pipe: BatchSize 100 -> 7 (the local parameters leave it at the template's default).
    (
        "  PipeBatchSize:\n    Type: Number\n    Default: 100\n",
        f"  PipeBatchSize:\n    Type: Number\n    Default: {BATCH_SIZE}\n",
    ),
    # Firehose: a prefix with other expressions, and no compression.
    (
        'Prefix: !Sub "raw/${RawCdcTableName}/dt=!{partitionKeyFromLambda:dt}/'
        'hour=!{partitionKeyFromLambda:hour}/"',
        'Prefix: !Sub "fidelity/${RawCdcTableName}/!{partitionKeyFromLambda:dt}/'
        '!{timestamp:yyyy}-!{firehose:random-string}/"',
    ),
    ("CompressionFormat: !Ref DeliveryCompressionFormat", "CompressionFormat: UNCOMPRESSED"),
    # Firehose: a 15-minute S3 buffer interval instead of the local 3 s.
    ("IntervalInSeconds: !Ref DeliveryBufferIntervalInSeconds", "IntervalInSeconds: 900"),
]
KEY = re.compile(
    r"^fidelity/orders_cdc/(\d{4}-\d{2}-\d{2})/(\d{4})-[A-Za-z0-9]{11}/"
    r"sales-cdc-cdc-to-s3-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}$"
)


def changed_template(directory: Path) -> Path:
    text = TEMPLATE_PATH.read_text()
    for original, replacement in CHANGES:
        assert text.count(original) == 1, f"the template no longer contains {original!r}; update this test"
        text = text.replace(original, replacement)
    path = directory / "template.yaml"
    path.write_text(text)
    return path


@pytest.mark.e2e
def test_batch_size_prefix_compression_and_buffer_interval_follow_the_template(
    clean_emulator: Emulator, tmp_path: Path, make_data_plane: Callable[..., DataPlane]
) -> None:
    provision(
        clean_emulator.endpoint,
        template_path=changed_template(tmp_path),
        report=lambda line: None,
        outputs_path=outputs_path("local"),
    )
    settings = load_settings("local")
    aws = Clients(settings)
    lake = Lake(aws.s3, settings.bucket)
    plane = make_data_plane(settings, status_file=None).start()
    stopped = False
    try:
        generate_orders(aws.dynamodb, GeneratorConfig(events=EVENTS, seed=3, table=settings.orders_table))
        # Every record reaches Firehose's S3 buffers...
        wait_for(
            lambda: plane.health()["firehose"]["delivery_buffers"] >= EVENTS,
            60,
            f"{EVENTS} records in the S3 buffers; health: {format_health(plane.health())}",
        )
        # ...and stays there: with a 900 s interval (and far below 64 MB) nothing is written yet.
        assert lake.objects("fidelity/") == []
        pipe = plane.health()["pipe"]
        plane.stop()  # flushes the buffers
        stopped = True
    finally:
        if not stopped:
            plane.stop()

    assert pipe["events_moved"] == EVENTS
    assert pipe["largest_batch"] == BATCH_SIZE
    assert pipe["batches"] >= math.ceil(EVENTS / BATCH_SIZE)
    objects = lake.objects("fidelity/")
    assert objects, "stopping the data plane must flush its buffers"
    for obj in objects:
        match = KEY.match(obj.key)
        assert match, f"{obj.key} does not follow the changed prefix / uncompressed naming"
        rows = obj.rows()  # plain JSON lines: no gzip
        assert {row["event_time"][:10] for row in rows} == {match.group(1)}
        assert match.group(2) == match.group(1)[:4]
    assert sum(len(obj.rows()) for obj in objects) == EVENTS
    assert lake.objects(settings.raw_cdc_prefix) == []
