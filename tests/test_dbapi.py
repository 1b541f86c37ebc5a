"""``sales_cdc.connect()``: a DB-API 2.0 connection on the query engine of the deployment (local here)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import boto3
import pandas as pd
import pytest
from test_commands.sql_lake import deploy_small_lake

import sales_cdc
from infra.clients import LOCAL_CREDENTIALS
from local_aws.server import moto_api
from sales_cdc import dbapi
from sales_cdc.resources.query_engine import AthenaQueryEngine
from sales_cdc.settings import Settings


@pytest.fixture(scope="module")
def deployed(emulator) -> Iterator[Settings]:
    """A provisioned local deployment with a few changes in its raw CDC table (provisioned once)."""
    settings, _ = deploy_small_lake(emulator.endpoint)
    yield settings


def test_pandas_read_sql_through_the_connection(deployed) -> None:
    connection = sales_cdc.connect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas: "only supports SQLAlchemy connectable"
        frame = pd.read_sql(
            "SELECT order_id, sum(quantity * unit_price) AS amount FROM orders_cdc "
            "WHERE event_name = %(kind)s GROUP BY order_id ORDER BY order_id",
            connection,
            params={"kind": "INSERT"},
        )
    assert frame["order_id"].tolist() == ["o1", "o2", "o3", "o4"]
    assert frame["amount"].tolist() == [Decimal("20.00"), Decimal("5.00"), Decimal("20.00"), Decimal("5.00")]
    connection.close()


def test_cursor_fetches_describes_and_reports_statistics(deployed) -> None:
    assert (dbapi.apilevel, dbapi.threadsafety, dbapi.paramstyle) == ("2.0", 1, "pyformat")
    with sales_cdc.connect(database=deployed.glue_database) as connection:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT order_id, quantity, unit_price, event_time, is_deleted, extra_attributes FROM orders_cdc "
            "WHERE sequence_number IN (?, ?) ORDER BY order_id",
            ["1", "7"],
        )
        assert [(d[0], d[1]) for d in cursor.description] == [
            ("order_id", "varchar"),
            ("quantity", "bigint"),
            ("unit_price", "decimal"),
            ("event_time", "timestamp"),
            ("is_deleted", "boolean"),
            ("extra_attributes", None),
        ]
        assert cursor.rowcount == 2 and cursor.bytes_scanned > 0 and cursor.query_id
        first = cursor.fetchone()
        assert first[:3] == ("o1", 2, Decimal("10.00")) and isinstance(first[3], datetime)
        assert cursor.fetchmany(5) == [cursor.result.rows[1]]
        assert cursor.fetchone() is None and cursor.fetchall() == []
        connection.commit()  # a no-op: Athena has no transactions
    with pytest.raises(dbapi.InterfaceError, match="closed"):
        cursor.execute("SELECT 1")


def test_errors_are_db_api_errors_with_athena_s_reason(deployed) -> None:
    cursor = sales_cdc.connect().cursor()
    with pytest.raises(dbapi.ProgrammingError) as raised:
        cursor.execute("SELECT nope FROM orders_cdc")
    assert raised.value.reason.startswith("SEMANTIC_ERROR") and raised.value.query_id
    assert isinstance(raised.value, dbapi.DatabaseError) and isinstance(raised.value, dbapi.Error)
    with pytest.raises(dbapi.ProgrammingError, match="TABLE_NOT_FOUND"):
        cursor.execute("SELECT * FROM missing_table")
    with pytest.raises(dbapi.NotSupportedError, match="foo"):
        cursor.execute("SELECT foo(order_id) FROM orders_cdc")
    with pytest.raises(dbapi.InterfaceError, match="call execute"):
        sales_cdc.connect().cursor().fetchall()


def test_parameters_are_quoted_as_literals_never_spliced(deployed) -> None:
    cursor = sales_cdc.connect().cursor()
    hostile = "o1' OR '1'='1"
    cursor.execute("SELECT count(*) AS n FROM orders_cdc WHERE order_id = %s", [hostile])
    assert cursor.fetchall() == [(0,)]
    cursor.execute(
        "SELECT %(s)s AS s, %(d)s AS d, %(day)s AS day, %(at)s AS at, %(f)s AS f, %(b)s AS b, %(n)s AS n, "
        "'100%' AS pct -- %(not_a_parameter)s",
        {
            "s": "it's",
            "d": Decimal("12.50"),
            "day": date(2026, 11, 20),
            "at": datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
            "f": 0.5,
            "b": True,
            "n": None,
        },
    )
    assert cursor.fetchone() == (
        "it's",
        Decimal("12.50"),
        date(2026, 11, 20),
        datetime(2026, 11, 20, 11, 0),
        0.5,
        True,
        None,
        "100%",
    )


@pytest.mark.parametrize(
    ("sql", "parameters", "message"),
    [
        ("SELECT %s", [object()], "cannot be quoted as an Athena literal"),
        ("SELECT %s", [float("nan")], "not a finite number"),
        ("SELECT %s, %s", [1], "more %s placeholders than the 1 parameter"),
        ("SELECT %s", [1, 2], "2 parameter(s) given for 1 placeholder"),
        ("SELECT %(a)s", {"b": 1}, "no parameter 'a'"),
        ("SELECT %s, ?", [1, 2], "mixes placeholder styles"),
        ("SELECT %s", "abc", "must be a mapping"),
    ],
)
def test_bad_parameters_are_refused_before_anything_runs(sql, parameters, message) -> None:
    with pytest.raises(dbapi.ProgrammingError) as raised:
        dbapi.bind(sql, parameters)
    assert message in str(raised.value)


def test_connect_without_a_running_deployment_says_what_to_do(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path))
    monkeypatch.delenv("SALES_CDC_ENDPOINT_URL", raising=False)
    with pytest.raises(dbapi.OperationalError, match="sales-cdc up"):
        sales_cdc.connect()


# What Athena's GetQueryResults says of every column besides its name and type.
COLUMN = {"Precision": 0, "Scale": 0, "Nullable": "NULLABLE", "CaseSensitive": False}


def test_on_athena_the_description_carries_athena_s_column_types(clean_emulator) -> None:
    """The aws deployment's engine (pyathena), on the emulator with a scripted Athena answer."""
    endpoint = clean_emulator.endpoint
    kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1", **LOCAL_CREDENTIALS}
    boto3.client("athena", **kwargs).create_work_group(
        Name="analytics", Configuration={"ResultConfiguration": {"OutputLocation": "s3://lake/results/"}}
    )
    body = {
        "region": "us-east-1",
        "results": [
            {
                "rows": [
                    {"Data": [{"VarCharValue": v} for v in row]}
                    for row in [["day", "n"], ["2026-11-20", "3"]]
                ],
                "column_info": [
                    {"Name": "day", "Label": "day", "Type": "date", **COLUMN},
                    {"Name": "n", "Label": "n", "Type": "integer", **COLUMN},
                ],
            }
        ],
    }
    moto_api(endpoint, "static/athena/query-results", body)
    engine = AthenaQueryEngine(
        database="lake_db",
        workgroup="analytics",
        output_location="s3://lake/results/",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
        poll_interval_s=0.01,
    )
    cursor = sales_cdc.connect(engine=engine).execute("SELECT day, n FROM daily")
    assert [(d[0], d[1]) for d in cursor.description] == [
        ("day", "date"),
        ("n", "integer"),
    ]  # not "bigint", as the values alone would say
    assert cursor.fetchall() == [(date(2026, 11, 20), 3)]
