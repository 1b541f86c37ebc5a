"""The query engine resources: the local engine inside Dagster, and Athena's statement flow.

moto runs no Athena SQL, so the Athena implementation is exercised on what the emulator does run:
starting statements, polling their state (advanced by moto's state manager), fetching configured
results, cancelling on timeout. A FAILED statement (which moto cannot produce) is stubbed at the
boto3 client.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.stub import ANY, Stubber
from dagster import asset, materialize
from test_local_aws.test_athena.lake import RAW_TABLE, REGION, cdc_row

from infra.clients import LOCAL_CREDENTIALS
from sales_cdc.resources.query_engine import (
    AthenaQueryEngine,
    LocalQueryEngine,
    QueryEngineResource,
    QueryFailedError,
    QueryResult,
    QueryTimeoutError,
)
from test_resources.conftest import moto_api

WORKGROUP = "analytics"


def test_local_engine_runs_in_a_dagster_asset(lake) -> None:
    lake.put_rows(
        [cdc_row("o1", 1, unit_price="2.50"), cdc_row("o2", 1, unit_price="0.75")], "2026-11-20", "10"
    )
    lake.register("2026-11-20", "10")
    seen: dict[str, QueryResult] = {}

    @asset
    def revenue(query_engine: QueryEngineResource) -> None:
        seen["result"] = query_engine.execute(
            f"SELECT sum(quantity * unit_price) AS revenue FROM {RAW_TABLE}"
        )

    engine = LocalQueryEngine(endpoint_url=lake.endpoint, region_name=REGION, database=lake.database)
    assert materialize([revenue], resources={"query_engine": engine}).success
    result = seen["result"]
    assert result.columns == ["revenue"] and result.scalar() == Decimal("3.25")
    assert result.bytes_scanned > 0
    assert result.to_pandas()["revenue"].tolist() == [Decimal("3.25")]


def test_local_engine_keeps_one_engine_per_resource(lake) -> None:
    engine = LocalQueryEngine(endpoint_url=lake.endpoint, region_name=REGION, database=lake.database)
    assert engine.engine() is engine.engine()
    assert engine.execute("SELECT 1 AS one").rows == [(1,)]


def athena_engine(endpoint: str, **overrides) -> AthenaQueryEngine:
    config = {
        "workgroup": WORKGROUP,
        "database": "lake_db",
        "output_location": "s3://lake/athena-results/",
        "region_name": REGION,
        "endpoint_url": endpoint,
        "aws_access_key_id": LOCAL_CREDENTIALS["aws_access_key_id"],
        "aws_secret_access_key": LOCAL_CREDENTIALS["aws_secret_access_key"],
        "poll_interval_s": 0.01,
        "timeout_s": 30.0,
    }
    config.update(overrides)
    return AthenaQueryEngine(**config)


@pytest.fixture
def athena_api(lake):
    lake.athena.create_work_group(
        Name=WORKGROUP, Configuration={"ResultConfiguration": {"OutputLocation": "s3://lake/athena-results/"}}
    )
    return lake.athena


def canned_result(endpoint: str) -> None:
    """The rows the emulator answers for the next query (a header row first, like Athena)."""
    columns = [("order_id", "varchar"), ("revenue", "decimal"), ("orders", "bigint")]
    rows = [["order_id", "revenue", "orders"], ["o1", "59.97", "3"], ["o2", "0.10", "1"]]
    moto_api(
        endpoint,
        "static/athena/query-results",
        {
            "region": REGION,
            "results": [
                {
                    "rows": [{"Data": [{"VarCharValue": value} for value in row]} for row in rows],
                    "column_info": [
                        {
                            "Name": name,
                            "Label": name,
                            "Type": kind,
                            "Precision": 38,
                            "Scale": 2 if kind == "decimal" else 0,
                            "Nullable": "NULLABLE",
                            "CaseSensitive": False,
                        }
                        for name, kind in columns
                    ],
                }
            ],
        },
    )


def test_athena_polls_until_the_statement_succeeds_and_returns_typed_rows(
    lake, athena_api, transition
) -> None:
    # Each status request advances the statement one step: QUEUED, QUEUED, RUNNING, RUNNING, SUCCEEDED.
    transition("athena::execution", {"progression": "manual", "times": 2})
    canned_result(lake.endpoint)
    engine = athena_engine(lake.endpoint)

    result = engine.execute("SELECT order_id, revenue, orders FROM sales_daily")

    assert result.columns == ["order_id", "revenue", "orders"]
    assert result.rows == [("o1", Decimal("59.97"), 3), ("o2", Decimal("0.10"), 1)]
    assert result.statement_type == "DML"
    assert result.bytes_scanned == 0  # the emulator scans nothing; Athena's DataScannedInBytes is passed on
    execution = athena_api.get_query_execution(QueryExecutionId=result.query_id)["QueryExecution"]
    assert execution["Query"] == "SELECT order_id, revenue, orders FROM sales_daily"
    assert execution["WorkGroup"] == WORKGROUP
    assert execution["QueryExecutionContext"]["Database"] == "lake_db"


def test_athena_cancels_a_statement_that_exceeds_the_timeout(lake, athena_api, transition) -> None:
    transition("athena::execution", {"progression": "manual", "times": 1_000_000})  # stays QUEUED
    engine = athena_engine(lake.endpoint, timeout_s=0.2, poll_interval_s=0.02)

    with pytest.raises(QueryTimeoutError, match="did not finish within 0.2 s") as raised:
        engine.execute("SELECT count(*) FROM orders_cdc")

    assert raised.value.last_state == "QUEUED"
    status = athena_api.get_query_execution(QueryExecutionId=raised.value.query_id)["QueryExecution"][
        "Status"
    ]
    assert status["State"] == "CANCELLED"


def test_athena_failure_reports_athenas_reason(lake, athena_api) -> None:
    engine = athena_engine(lake.endpoint)
    client = engine.connection().client
    reason = "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"
    failed = {
        "QueryExecution": {
            "QueryExecutionId": "q-1",
            "Query": "SELECT nope FROM orders_cdc",
            "StatementType": "DML",
            "Status": {
                "State": "FAILED",
                "StateChangeReason": reason,
                "AthenaError": {"ErrorCategory": 2, "ErrorType": 1006, "Retryable": False},
            },
            "WorkGroup": WORKGROUP,
        }
    }
    with Stubber(client) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": "q-1"},
            {
                "QueryString": "SELECT nope FROM orders_cdc",
                "WorkGroup": WORKGROUP,
                "QueryExecutionContext": ANY,
                "ResultConfiguration": ANY,
            },
        )
        stub.add_response("get_query_execution", failed, {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", failed, {"QueryExecutionId": "q-1"})
        with pytest.raises(QueryFailedError) as raised:
            engine.execute("SELECT nope FROM orders_cdc")

    error = raised.value
    assert error.query_id == "q-1" and error.state == "FAILED"
    assert reason in str(error) and "error type 1006" in str(error)
