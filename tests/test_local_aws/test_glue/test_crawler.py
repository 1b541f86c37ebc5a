"""The local Glue crawler: the deployed crawler's target and policies, schema and partitions."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from infra.cfn import load_template
from lambda_transform.schema import CDC_COLUMNS
from local_aws.athena import LocalAthena
from local_aws.glue import CrawlError, LocalCrawler
from test_local_aws.test_athena.lake import RAW_TABLE, REGION, Lake, cdc_row

CRAWLER = "raw-cdc"
DAY1, DAY2 = "2026-11-20", "2026-11-21"


def template_crawler_properties() -> dict[str, Any]:
    """The crawler's policies and configuration as the CloudFormation template declares them."""
    return load_template()["Resources"]["RawCdcCrawler"]["Properties"]


@pytest.fixture
def lake(clean_emulator) -> Lake:
    """A bucket and Glue database, no table yet."""
    return Lake(clean_emulator.endpoint).create()


def create_crawler(lake: Lake, **overrides: Any) -> None:
    """A crawler like the template's (policies, configuration, sample size) over the lake's raw prefix."""
    properties = template_crawler_properties()
    target = dict(properties["Targets"]["S3Targets"][0], Path=lake.raw_location)
    kwargs = {
        "Name": CRAWLER,
        "Role": "arn:aws:iam::123456789012:role/crawler",
        "DatabaseName": lake.database,
        "Targets": {"S3Targets": [target]},
        "SchemaChangePolicy": properties["SchemaChangePolicy"],
        "RecrawlPolicy": properties["RecrawlPolicy"],
        "Configuration": properties["Configuration"],
    }
    kwargs.update(overrides)
    lake.glue.create_crawler(**kwargs)


def columns(lake: Lake) -> list[tuple[str, str]]:
    table = lake.glue.get_table(DatabaseName=lake.database, Name=RAW_TABLE)["Table"]
    return [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]


@pytest.fixture
def crawler(lake: Lake) -> LocalCrawler:
    return LocalCrawler.connect(lake.endpoint, REGION)


def test_first_crawl_creates_the_table_with_declared_types_and_partitions(lake, crawler) -> None:
    create_crawler(lake)
    lake.put_rows([cdc_row("o1", 1), cdc_row("o2", 1, unit_price="5.00")], DAY1, "10")
    lake.put_rows([cdc_row("o3", 1)], DAY1, "11", gzip_compressed=False)

    result = crawler.crawl(CRAWLER)

    assert result.status == "SUCCEEDED"
    assert result.tables_created == [RAW_TABLE]
    assert result.partitions_added == {RAW_TABLE: [(DAY1, "10"), (DAY1, "11")]}
    table = lake.glue.get_table(DatabaseName=lake.database, Name=RAW_TABLE)["Table"]
    assert columns(lake) == [(name, glue_type) for name, glue_type, _ in CDC_COLUMNS]
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("dt", "string"), ("hour", "string")]
    sd = table["StorageDescriptor"]
    assert sd["Location"] == lake.raw_location
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert table["Parameters"]["classification"] == "json"
    partition = lake.glue.get_partition(
        DatabaseName=lake.database, TableName=RAW_TABLE, PartitionValues=[DAY1, "10"]
    )
    assert partition["Partition"]["StorageDescriptor"]["Location"] == f"{lake.raw_location}dt={DAY1}/hour=10/"

    # The catalog the crawler wrote is what the engine reads.
    engine = LocalAthena(lake.endpoint, REGION)
    try:
        total = engine.execute(f"SELECT count(*), sum(unit_price) FROM {RAW_TABLE}", lake.database).rows
    finally:
        engine.close()
    assert total == [(3, Decimal("44.98"))]


def test_the_crawl_is_recorded_on_the_crawler(lake, crawler) -> None:
    create_crawler(lake)
    lake.put_rows([cdc_row("o1", 1)], DAY1, "10")
    result = crawler.crawl(CRAWLER)

    deployed = lake.glue.get_crawler(Name=CRAWLER)["Crawler"]
    assert deployed["State"] == "READY"
    assert deployed["LastCrawl"]["MessagePrefix"] == result.crawl_id


def test_data_gaining_a_field_adds_the_column(lake, crawler) -> None:
    create_crawler(lake)
    lake.put_rows([cdc_row("o1", 1)], DAY1, "10")
    crawler.crawl(CRAWLER)

    lake.put_rows([cdc_row("o2", 1, coupon_code="WINTER", loyalty_points=12, discount=1.5)], DAY2, "08")
    result = crawler.crawl(CRAWLER)

    assert result.tables_updated == [RAW_TABLE]
    assert result.columns_added == {RAW_TABLE: ["coupon_code", "loyalty_points", "discount"]}
    assert columns(lake)[-3:] == [
        ("coupon_code", "string"),
        ("loyalty_points", "int"),
        ("discount", "double"),
    ]
    assert columns(lake)[: len(CDC_COLUMNS)] == [(name, glue_type) for name, glue_type, _ in CDC_COLUMNS]
    assert result.partitions_added == {RAW_TABLE: [(DAY2, "08")]}


def test_new_partitions_are_registered_and_known_ones_left_alone(lake, crawler) -> None:
    create_crawler(lake)
    lake.put_rows([cdc_row("o1", 1)], DAY1, "10")
    crawler.crawl(CRAWLER)
    lake.put_rows([cdc_row("o1", 2, "MODIFY")], DAY1, "10")  # a new object in a known partition
    lake.put_rows([cdc_row("o2", 1)], DAY2, "00")
    lake.put_rows([cdc_row("o3", 1)], DAY2, "01")

    result = crawler.crawl(CRAWLER)

    assert result.partitions_added == {RAW_TABLE: [(DAY2, "00"), (DAY2, "01")]}
    assert result.tables_created == [] and result.tables_updated == []
    assert lake.partitions(RAW_TABLE) == [(DAY1, "10"), (DAY2, "00"), (DAY2, "01")]
    assert crawler.crawl(CRAWLER).partitions_added == {}  # idempotent


def test_log_update_behaviour_leaves_the_table_unchanged(lake, crawler) -> None:
    create_crawler(lake, SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"})
    lake.put_rows([cdc_row("o1", 1)], DAY1, "10")
    crawler.crawl(CRAWLER)
    before = lake.glue.get_table(DatabaseName=lake.database, Name=RAW_TABLE)["Table"]

    lake.put_rows([cdc_row("o2", 1, coupon_code="WINTER")], DAY2, "08")
    result = crawler.crawl(CRAWLER)

    after = lake.glue.get_table(DatabaseName=lake.database, Name=RAW_TABLE)["Table"]
    assert after["StorageDescriptor"]["Columns"] == before["StorageDescriptor"]["Columns"]
    assert result.tables_updated == [] and result.columns_added == {}
    assert any("coupon_code" in line and "not applied" in line for line in result.changes_logged)
    # Partitions are not a schema change: Glue adds them under LOG too.
    assert result.partitions_added == {RAW_TABLE: [(DAY2, "08")]}


def test_without_merge_new_columns_the_schema_follows_the_data(lake, crawler) -> None:
    config = json.loads(template_crawler_properties()["Configuration"])
    del config["CrawlerOutput"]["Tables"]
    create_crawler(lake, Configuration=json.dumps(config))
    lake.put_rows([cdc_row("o1", 1, coupon_code="A")], DAY1, "10")
    crawler.crawl(CRAWLER)
    lake.s3.delete_object(Bucket=lake.bucket, Key=lake.keys("raw/")[0])
    lake.put_rows([cdc_row("o2", 1)], DAY1, "10")

    crawler.crawl(CRAWLER)

    assert "coupon_code" not in dict(columns(lake))


def test_delete_behaviour_decides_what_happens_to_vanished_partitions(lake, crawler) -> None:
    create_crawler(lake)
    lake.put_rows([cdc_row("o1", 1)], DAY1, "10")
    key = lake.put_rows([cdc_row("o2", 1)], DAY1, "11")
    crawler.crawl(CRAWLER)
    lake.s3.delete_object(Bucket=lake.bucket, Key=key)

    logged = crawler.crawl(CRAWLER)  # DeleteBehavior LOG (the template's): kept, reported
    assert lake.partitions(RAW_TABLE) == [(DAY1, "10"), (DAY1, "11")]
    assert any("no objects in S3" in line for line in logged.changes_logged)

    lake.glue.delete_crawler(Name=CRAWLER)
    create_crawler(
        lake,
        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DELETE_FROM_DATABASE"},
    )
    deleted = crawler.crawl(CRAWLER)
    assert deleted.partitions_deleted == {RAW_TABLE: [(DAY1, "11")]}
    assert lake.partitions(RAW_TABLE) == [(DAY1, "10")]


def test_hidden_files_and_exclusions_are_ignored(lake, crawler) -> None:
    create_crawler(lake)
    lake.put_rows([cdc_row("o1", 1)], DAY1, "10")
    lake.s3.put_object(
        Bucket=lake.bucket, Key=f"raw/{RAW_TABLE}/dt={DAY1}/hour=10/_SUCCESS", Body=b"not json"
    )
    lake.s3.put_object(Bucket=lake.bucket, Key=f"raw/{RAW_TABLE}/dt={DAY1}/hour=10/.tmp", Body=b"not json")

    result = crawler.crawl(CRAWLER)

    assert result.objects_listed == 1 and result.status == "SUCCEEDED"


def test_a_non_json_object_fails_the_crawl_with_a_clear_error(lake, crawler) -> None:
    create_crawler(lake)
    lake.s3.put_object(Bucket=lake.bucket, Key=f"raw/{RAW_TABLE}/dt={DAY1}/hour=10/x.csv", Body=b"a,b\n1,2\n")
    with pytest.raises(CrawlError, match="not newline-delimited JSON"):
        crawler.crawl(CRAWLER)
    assert lake.glue.get_crawler(Name=CRAWLER)["Crawler"]["State"] == "READY"


def test_an_unknown_crawler_is_a_clear_error(lake, crawler) -> None:
    with pytest.raises(CrawlError, match="crawler 'nope' does not exist"):
        crawler.crawl("nope")


def test_invalid_partition_values_and_empty_objects_are_reported_not_catalogued(lake, crawler) -> None:
    create_crawler(lake)
    lake.put_rows([cdc_row("o1", 1)], DAY1, "10")
    for folder in (
        "dt=not-a-date/hour=00",
        "dt=2026-02-30/hour=01",
        f"dt={DAY1}/hour=24",
        "dt=2026-11-2'/hour=03",
    ):
        lake.s3.put_object(
            Bucket=lake.bucket, Key=f"raw/{RAW_TABLE}/{folder}/x.json", Body=b'{"event_id": "e"}\n'
        )
    empty = f"raw/{RAW_TABLE}/dt={DAY2}/hour=00/empty.gz"
    lake.s3.put_object(Bucket=lake.bucket, Key=empty, Body=b"")

    result = crawler.crawl(CRAWLER)  # the empty object once failed the crawl with InvalidRange

    assert lake.partitions(RAW_TABLE) == [(DAY1, "10")]
    assert len(result.invalid_partitions) == 4
    assert any("'2026-02-30'" in line and "real date" in line for line in result.invalid_partitions)
    assert any("'24'" in line and "00-23" in line for line in result.invalid_partitions)
    assert result.empty_objects == [empty]
    assert any("not catalogued" in warning for warning in result.warnings)
