"""A refresh of ``orders_current`` or of some ``sales_daily`` days in a process of its own (no tests here).

The kill tests start it with ``SALES_CDC_KILL_AT`` naming the point where it must die (see
:mod:`infra.failpoints`). Arguments: one JSON object on the command line with ``endpoint``,
``outputs`` (the stack outputs), and either ``orders_current`` (``{"watermark": iso | null,
"token": hex, "batch_size": n}``) or ``sales_daily`` (a list of days). Prints the facts as JSON.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta

import boto3

from infra.clients import LOCAL_CREDENTIALS
from sales_cdc.analytics.derived_tables import Statements
from sales_cdc.analytics.orders_current import refresh_orders_current
from sales_cdc.analytics.sales import refresh_order_dates
from sales_cdc.resources.aws import LakeResource
from sales_cdc.resources.query_engine import LocalQueryEngine
from sales_cdc.settings import Settings


def main(argument: str) -> None:
    """Run the refresh the JSON ``argument`` asks for."""
    job = json.loads(argument)
    settings = Settings(
        "local", job["outputs"].get("Region", "us-east-1"), job["endpoint"], None, job["outputs"]
    )
    engine = LocalQueryEngine(
        database=settings.glue_database, endpoint_url=settings.endpoint_url, region_name=settings.region
    )
    lake = LakeResource.from_settings(settings)
    s3 = boto3.client(
        "s3", endpoint_url=settings.endpoint_url, region_name=settings.region, **LOCAL_CREDENTIALS
    )
    statements = Statements(engine, settings.glue_database)
    if "orders_current" in job:
        options = job["orders_current"]
        watermark = options.get("watermark")
        facts = refresh_orders_current(
            statements,
            lake,
            s3,
            boto3.client(
                "glue", endpoint_url=settings.endpoint_url, region_name=settings.region, **LOCAL_CREDENTIALS
            ),
            run_token=options["token"],
            watermark=datetime.fromisoformat(watermark) if watermark else None,
            batch_size=options.get("batch_size", 100),
            listing_margin=timedelta(0),
        )
        facts.pop("preview", None)
    else:
        facts = {"rows": refresh_order_dates("sales_daily", job["sales_daily"], statements, lake, s3)[1]}
    print(json.dumps(facts, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
