"""The local crawler and engine on the provisioned stack: the template's crawler, database and workgroup."""

from __future__ import annotations

from decimal import Decimal

from sales_cdc.resources.crawler import LocalCrawlerResource
from sales_cdc.resources.query_engine import LocalQueryEngine
from test_local_aws.test_athena.lake import Lake, cdc_row


def test_crawl_of_the_deployed_crawler_makes_the_raw_data_queryable(provisioned) -> None:
    settings = provisioned
    lake = Lake(settings.endpoint_url, database=settings.glue_database, bucket=settings.bucket)
    lake.put_rows([cdc_row("o1", 1, quantity=2, unit_price="9.99"), cdc_row("o2", 1)], "2026-11-20", "10")

    crawler = LocalCrawlerResource(
        crawler_name=settings.output("CrawlerName"),
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
    )
    report = crawler.crawl()
    assert (report.status, report.tables_created, report.partitions_added) == ("SUCCEEDED", 1, 1)
    assert settings.raw_cdc_table in [
        t["Name"] for t in lake.glue.get_tables(DatabaseName=settings.glue_database)["TableList"]
    ]

    engine = LocalQueryEngine(
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        database=settings.glue_database,
        workgroup=settings.output("AthenaWorkGroupName"),
    )
    revenue = engine.execute(f"SELECT sum(quantity * unit_price) FROM {settings.raw_cdc_table}")
    assert revenue.scalar() == Decimal("39.97")

    # CTAS without external_location writes under the workgroup's output location, like Athena.
    engine.execute(f"CREATE TABLE snapshot AS SELECT order_id FROM {settings.raw_cdc_table}")
    location = lake.glue.get_table(DatabaseName=settings.glue_database, Name="snapshot")["Table"]
    assert location["StorageDescriptor"]["Location"].startswith(
        settings.output("AthenaResultsLocation") + "tables/"
    )
    assert engine.execute("SELECT count(*) FROM snapshot").scalar() == 2
