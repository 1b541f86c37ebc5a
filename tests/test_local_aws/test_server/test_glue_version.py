"""The emulator's Glue enforces UpdateTable's VersionId, the optimistic lock Iceberg commits rely on.

moto 5.2.5 ignores ``VersionId``: two writers that read the same table version both "succeed" and the
first commit is lost. AWS Glue raises ``ConcurrentModificationException`` (pyiceberg turns it into
``CommitFailedException``, and retries on fresh metadata). The race is made deterministic with a
botocore hook: writer A commits in full just before writer B's UpdateTable leaves the client.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pyarrow as pa
import pytest
from botocore.exceptions import ClientError
from pyiceberg.catalog.glue import GlueCatalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from infra.clients import LOCAL_CREDENTIALS
from local_aws.server import Emulator

REGION = "us-east-1"
BUCKET = "iceberg-lake"
DATABASE = "iceberg_db"
SCHEMA = Schema(
    NestedField(1, "order_id", StringType(), required=False),
    NestedField(2, "quantity", LongType(), required=False),
)


@pytest.fixture
def glue(clean_emulator: Emulator) -> Any:
    """A Glue client on the emptied emulator, with one database and the lake bucket."""
    client = boto3.client(
        "glue", endpoint_url=clean_emulator.endpoint, region_name=REGION, **LOCAL_CREDENTIALS
    )
    client.create_database(DatabaseInput={"Name": DATABASE})
    s3 = boto3.client("s3", endpoint_url=clean_emulator.endpoint, region_name=REGION, **LOCAL_CREDENTIALS)
    s3.create_bucket(Bucket=BUCKET)
    return client


def catalog(endpoint: str) -> GlueCatalog:
    """A pyiceberg Glue catalog on the emulator (each call: its own clients, as in another process)."""
    return GlueCatalog(
        f"c-{uuid.uuid4().hex[:6]}",
        **{
            "glue.endpoint": endpoint,
            "glue.region": REGION,
            "glue.access-key-id": LOCAL_CREDENTIALS["aws_access_key_id"],
            "glue.secret-access-key": LOCAL_CREDENTIALS["aws_secret_access_key"],
            "s3.endpoint": endpoint,
            "s3.region": REGION,
            "s3.access-key-id": LOCAL_CREDENTIALS["aws_access_key_id"],
            "s3.secret-access-key": LOCAL_CREDENTIALS["aws_secret_access_key"],
        },
    )


def rows(*order_ids: str) -> pa.Table:
    """Rows of the test table, one per order id."""
    return pa.table(
        {
            "order_id": pa.array(order_ids, pa.string()),
            "quantity": pa.array([1] * len(order_ids), pa.int64()),
        }
    )


def create_plain_table(glue: Any, name: str) -> str:
    """A Glue table (not Iceberg); returns its VersionId after creation."""
    glue.create_table(DatabaseName=DATABASE, TableInput=table_input(name, "created"))
    return glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]["VersionId"]


def table_input(name: str, marker: str) -> dict[str, Any]:
    """A minimal TableInput whose ``marker`` parameter tells which update it came from."""
    return {
        "Name": name,
        "Parameters": {"marker": marker},
        "StorageDescriptor": {
            "Columns": [{"Name": "c", "Type": "string"}],
            "Location": f"s3://{BUCKET}/{name}/",
        },
    }


def test_a_stale_version_id_is_rejected_and_the_current_one_passes(glue: Any) -> None:
    version = create_plain_table(glue, "t")
    glue.update_table(DatabaseName=DATABASE, TableInput=table_input("t", "first"), VersionId=version)
    after_first = glue.get_table(DatabaseName=DATABASE, Name="t")["Table"]
    assert int(after_first["VersionId"]) == int(version) + 1
    assert after_first["Parameters"]["marker"] == "first"

    with pytest.raises(ClientError) as raised:
        glue.update_table(DatabaseName=DATABASE, TableInput=table_input("t", "stale"), VersionId=version)
    error = raised.value.response["Error"]
    assert error["Code"] == "ConcurrentModificationException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "concurrent modifications" in error["Message"] and f"version {version}" in error["Message"]
    assert isinstance(raised.value, glue.exceptions.ConcurrentModificationException)
    unchanged = glue.get_table(DatabaseName=DATABASE, Name="t")["Table"]
    assert unchanged["VersionId"] == after_first["VersionId"] and unchanged["Parameters"]["marker"] == "first"

    glue.update_table(
        DatabaseName=DATABASE, TableInput=table_input("t", "second"), VersionId=unchanged["VersionId"]
    )
    after_second = glue.get_table(DatabaseName=DATABASE, Name="t")["Table"]
    assert int(after_second["VersionId"]) == int(version) + 2
    versions = glue.get_table_versions(DatabaseName=DATABASE, TableName="t")["TableVersions"]
    assert sorted(int(v["VersionId"]) for v in versions) == [int(version) + i for i in range(3)]


def test_an_update_without_version_id_is_unconditional(glue: Any) -> None:
    version = create_plain_table(glue, "t")
    glue.update_table(DatabaseName=DATABASE, TableInput=table_input("t", "first"), VersionId=version)
    glue.update_table(DatabaseName=DATABASE, TableInput=table_input("t", "no version"))  # AWS allows it
    table = glue.get_table(DatabaseName=DATABASE, Name="t")["Table"]
    assert table["Parameters"]["marker"] == "no version"
    assert int(table["VersionId"]) == int(version) + 2


def test_of_concurrent_updates_from_one_version_exactly_one_passes(glue: Any) -> None:
    version = create_plain_table(glue, "t")
    writers = 8
    start = threading.Barrier(writers)
    outcomes: list[str] = []
    outcomes_lock = threading.Lock()

    def update(marker: str) -> None:
        start.wait()
        try:
            glue.update_table(DatabaseName=DATABASE, TableInput=table_input("t", marker), VersionId=version)
            outcome = marker
        except glue.exceptions.ConcurrentModificationException:
            outcome = "rejected"
        with outcomes_lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=update, args=(f"w{i}",)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [outcome for outcome in outcomes if outcome != "rejected"]
    assert len(outcomes) == writers and len(winners) == 1, outcomes
    table = glue.get_table(DatabaseName=DATABASE, Name="t")["Table"]
    assert table["Parameters"]["marker"] == winners[0]
    assert int(table["VersionId"]) == int(version) + 1


@pytest.fixture
def iceberg_table(glue: Any, clean_emulator: Emulator) -> Iterator[str]:
    """An empty Iceberg table ``iceberg_db.orders`` in the emulator's Glue; yields its identifier."""
    identifier = f"{DATABASE}.orders"
    catalog(clean_emulator.endpoint).create_table(
        identifier, SCHEMA, location=f"s3://{BUCKET}/orders", properties={"format-version": "2"}
    )
    yield identifier


def commit_a_before_b_updates_glue(b_catalog: GlueCatalog, commit_a: Any) -> list[str]:
    """Run ``commit_a`` just before B's first UpdateTable is sent (B has read Glue's version already).

    Returns a list that receives the error code (or "ok") of each of B's UpdateTable calls.
    """
    outcomes: list[str] = []
    fired = threading.Event()

    def before_update(**_: Any) -> None:
        if not fired.is_set():
            fired.set()
            commit_a()

    def after_update(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        outcomes.append(parsed.get("Error", {}).get("Code", "ok"))

    events = b_catalog.glue.meta.events
    events.register("before-call.glue.UpdateTable", before_update)
    events.register("after-call.glue.UpdateTable", after_update)
    return outcomes


def order_ids(endpoint: str, identifier: str) -> list[str]:
    """The table's order ids as a fresh reader (a new catalog) sees them."""
    return sorted(catalog(endpoint).load_table(identifier).scan().to_arrow()["order_id"].to_pylist())


def test_a_racing_iceberg_commit_fails_instead_of_losing_the_other(
    iceberg_table: str, clean_emulator: Emulator
) -> None:
    endpoint = clean_emulator.endpoint
    # No automatic retry: B's commit must fail, not be re-applied on A's snapshot.
    with catalog(endpoint).load_table(iceberg_table).transaction() as transaction:
        transaction.set_properties({"commit.retry.num-retries": "0"})
    a_table = catalog(endpoint).load_table(iceberg_table)
    b_catalog = catalog(endpoint)
    b_table = b_catalog.load_table(iceberg_table)
    outcomes = commit_a_before_b_updates_glue(b_catalog, lambda: a_table.append(rows("a1", "a2")))

    with pytest.raises(CommitFailedException, match="concurrent update"):
        b_table.append(rows("b1"))

    assert outcomes == ["ConcurrentModificationException"]
    # Before the fix B's UpdateTable passed: the table showed only ["b1"] and A's rows were lost.
    assert order_ids(endpoint, iceberg_table) == ["a1", "a2"]


def test_pyiceberg_retries_a_rejected_commit_on_the_new_snapshot(
    iceberg_table: str, clean_emulator: Emulator
) -> None:
    endpoint = clean_emulator.endpoint
    a_table = catalog(endpoint).load_table(iceberg_table)
    b_catalog = catalog(endpoint)
    b_table = b_catalog.load_table(iceberg_table)
    outcomes = commit_a_before_b_updates_glue(b_catalog, lambda: a_table.append(rows("a1", "a2")))

    b_table.append(rows("b1"))  # pyiceberg's default: up to 4 retries on fresh metadata

    assert outcomes == ["ConcurrentModificationException", "ok"]
    assert order_ids(endpoint, iceberg_table) == ["a1", "a2", "b1"]
    history = catalog(endpoint).load_table(iceberg_table).snapshots()
    assert len(history) == 2 and history[1].parent_snapshot_id == history[0].snapshot_id
