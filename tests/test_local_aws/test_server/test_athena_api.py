"""The emulator's own Athena API never answers a query with a silent empty success.

What a user of the AWS CLI or pyathena would try against the emulator's endpoint: StartQueryExecution
is refused with an error that points to ``sales-cdc sql``; moto's scripted answers (the Athena
resource's statement-flow tests) still work.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.clients import LOCAL_CREDENTIALS
from local_aws.server import Emulator, moto_api


@pytest.fixture
def athena_api(clean_emulator: Emulator):
    return boto3.client(
        "athena", endpoint_url=clean_emulator.endpoint, region_name="us-east-1", **LOCAL_CREDENTIALS
    )


def test_an_athena_query_on_the_emulator_is_refused_with_a_pointer_to_sales_cdc_sql(athena_api) -> None:
    with pytest.raises(ClientError) as raised:
        athena_api.start_query_execution(
            QueryString="SELECT count(*) FROM orders_cdc",
            QueryExecutionContext={"Database": "sales_cdc"},
            ResultConfiguration={"OutputLocation": "s3://lake/athena-results/"},
        )
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidRequestException"
    assert "does not run Athena queries" in error["Message"]
    assert "sales-cdc sql" in error["Message"] and "sales_cdc.connect()" in error["Message"]
    assert athena_api.list_query_executions()["QueryExecutionIds"] == []  # nothing was recorded


def test_a_scripted_answer_still_runs_moto_s_statement_flow(athena_api, clean_emulator: Emulator) -> None:
    body = {
        "region": "us-east-1",
        "results": [
            {
                "rows": [{"Data": [{"VarCharValue": "n"}]}, {"Data": [{"VarCharValue": "3"}]}],
                "column_info": [{"Name": "n", "Label": "n", "Type": "bigint"}],
            }
        ],
    }
    moto_api(clean_emulator.endpoint, "static/athena/query-results", body)
    query_id = athena_api.start_query_execution(QueryString="SELECT 3 AS n")["QueryExecutionId"]
    rows = athena_api.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    assert [row["Data"][0]["VarCharValue"] for row in rows] == ["n", "3"]
    # The scripted answer was used up: the next query is refused again, not answered empty.
    with pytest.raises(ClientError, match="sales-cdc sql"):
        athena_api.start_query_execution(QueryString="SELECT 3 AS n")
