"""The crawler resources: the local crawler, and the Glue crawler's start / wait / report flow.

moto records crawls but runs none; its state manager decides when a crawl completes. A FAILED crawl
(which moto cannot produce) is stubbed at the boto3 client.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber
from test_local_aws.test_athena.lake import REGION, Lake, cdc_row

from infra.clients import LOCAL_CREDENTIALS
from sales_cdc.resources.crawler import (
    CrawlerError,
    CrawlerTimeoutError,
    GlueCrawlerResource,
    LocalCrawlerResource,
)

CRAWLER = "raw-cdc"


@pytest.fixture
def crawler_lake(clean_emulator) -> Lake:
    lake = Lake(clean_emulator.endpoint).create()
    lake.glue.create_crawler(
        Name=CRAWLER,
        Role="arn:aws:iam::123456789012:role/crawler",
        DatabaseName=lake.database,
        Targets={"S3Targets": [{"Path": lake.raw_location, "SampleSize": 10}]},
        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
    )
    return lake


def glue_resource(endpoint: str, **overrides) -> GlueCrawlerResource:
    config = {
        "crawler_name": CRAWLER,
        "region_name": REGION,
        "endpoint_url": endpoint,
        "aws_access_key_id": LOCAL_CREDENTIALS["aws_access_key_id"],
        "aws_secret_access_key": LOCAL_CREDENTIALS["aws_secret_access_key"],
        "max_attempts": 1,
        "poll_interval_s": 0.02,
        "timeout_s": 20.0,
    }
    config.update(overrides)
    return GlueCrawlerResource(**config)


def test_local_crawler_resource_reports_the_crawl(crawler_lake) -> None:
    lake = crawler_lake
    lake.put_rows([cdc_row("o1", 1)], "2026-11-20", "10")
    lake.put_rows([cdc_row("o2", 1)], "2026-11-20", "11")
    resource = LocalCrawlerResource(crawler_name=CRAWLER, endpoint_url=lake.endpoint, region_name=REGION)

    first = resource.crawl()
    lake.put_rows([cdc_row("o3", 1, coupon_code="X")], "2026-11-21", "00")
    second = resource.crawl()

    assert (first.status, first.tables_created, first.partitions_added) == ("SUCCEEDED", 1, 2)
    assert (second.tables_created, second.tables_updated, second.partitions_added) == (0, 1, 1)
    assert second.columns_added == ("orders_cdc.coupon_code",)
    assert second.metadata()["partitions_added"] == 1


def test_local_crawler_resource_raises_on_failure(crawler_lake) -> None:
    resource = LocalCrawlerResource(
        crawler_name="missing", endpoint_url=crawler_lake.endpoint, region_name=REGION
    )
    with pytest.raises(CrawlerError, match="crawler missing ended FAILED: .*does not exist"):
        resource.crawl()


def test_glue_crawler_starts_waits_and_reports_success(crawler_lake, transition) -> None:
    transition("glue::crawl", {"progression": "time", "seconds": 0.2})
    report = glue_resource(crawler_lake.endpoint).crawl()

    assert report.status == "SUCCEEDED" and report.error_message is None
    crawls = crawler_lake.glue.list_crawls(CrawlerName=CRAWLER)["Crawls"]
    assert len(crawls) == 1 and report.crawl_id == crawls[0]["CrawlId"]


def test_glue_crawler_waits_for_a_running_crawl_then_crawls(crawler_lake, transition) -> None:
    transition("glue::crawl", {"progression": "time", "seconds": 0.2})
    crawler_lake.glue.start_crawler(Name=CRAWLER)  # e.g. the schedule's crawl

    report = glue_resource(crawler_lake.endpoint).crawl()

    crawls = crawler_lake.glue.list_crawls(CrawlerName=CRAWLER)["Crawls"]
    assert len(crawls) == 2  # the running one, then this one
    assert report.crawl_id == crawls[-1]["CrawlId"]


def test_glue_crawler_times_out_with_a_clear_error(crawler_lake) -> None:
    # Without a transition moto keeps the crawl RUNNING.
    with pytest.raises(CrawlerTimeoutError, match="did not finish within 0.2 s"):
        glue_resource(crawler_lake.endpoint, timeout_s=0.2).crawl()


def test_glue_crawler_failure_reports_the_crawlers_error(crawler_lake) -> None:
    resource = glue_resource(crawler_lake.endpoint)
    client = resource.glue_client()
    previous = {
        "Status": "SUCCEEDED",
        "MessagePrefix": "old",
        "StartTime": datetime(2026, 11, 20, tzinfo=UTC),
    }
    failed = {
        "Status": "FAILED",
        "ErrorMessage": "Service Principal: glue.amazonaws.com is not authorized to perform: s3:GetObject",
        "LogGroup": "/aws-glue/crawlers",
        "LogStream": CRAWLER,
        "MessagePrefix": "new",
        "StartTime": datetime(2026, 11, 21, tzinfo=UTC),
    }

    def crawler(state: str, last: dict) -> dict:
        return {"Crawler": {"Name": CRAWLER, "State": state, "LastCrawl": last}}

    with Stubber(client) as stub:
        stub.add_response("get_crawler", crawler("READY", previous), {"Name": CRAWLER})  # declare table
        stub.add_response("get_crawler", crawler("READY", previous), {"Name": CRAWLER})
        stub.add_response("start_crawler", {}, {"Name": CRAWLER})
        stub.add_response("get_crawler", crawler("RUNNING", previous), {"Name": CRAWLER})
        stub.add_response("get_crawler", crawler("READY", failed), {"Name": CRAWLER})
        with pytest.raises(CrawlerError) as raised:
            resource.crawl()

    assert raised.value.status == "FAILED"
    assert "not authorized to perform: s3:GetObject" in str(raised.value)
    assert "/aws-glue/crawlers" in str(raised.value)


def test_glue_crawler_declares_the_raw_table_with_exact_types_before_crawling(
    crawler_lake, transition
) -> None:
    # A real crawler would guess unit_price as double; the declared table keeps DECIMAL(18,2).
    transition("glue::crawl", {"progression": "time", "seconds": 0.2})
    glue_resource(crawler_lake.endpoint).crawl()
    table = crawler_lake.glue.get_table(DatabaseName=crawler_lake.database, Name="orders_cdc")["Table"]
    types = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert types["unit_price"] == "decimal(18,2)"
    assert types["sequence_number"] == "string"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt", "hour"]
