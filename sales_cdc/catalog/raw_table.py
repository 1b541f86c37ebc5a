"""The ``raw_orders_cdc`` asset: the raw CDC table in the Glue catalog, produced by a crawl.

A materialization runs one crawl of the deployed crawler (Glue on AWS, the local crawler locally,
through the ``crawler`` resource): it creates the table on first data, adds columns when the data
gains fields, and registers the partitions it finds. Then it removes from the catalog every
partition whose values break the raw layout (``dt`` a real date YYYY-MM-DD, ``hour`` 00-23): Glue's
crawler on AWS registers whatever folders it finds, so the same step runs on both deployments and
their rows never reach the summaries. The metadata shows the table's columns (as a column schema the
UI renders), its partition count, the invalid partitions removed and the crawl's outcome.
"""

# No `from __future__ import annotations`: Dagster reads the asset's resource annotations at runtime.
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from infra.lake import (
    InvalidIdentifierError,
    batch_delete_partitions,
    get_partitions,
    validate_partition_value,
)
from sales_cdc.catalog.partition_repair import (
    PARTITION_KEY_NAMES,
    RAW_CATALOG_POOL,
    PartitionRepairError,
    RawTableMissingError,
    get_raw_table,
    registered_partitions,
)
from sales_cdc.lake_identity import lake_id_metadata
from sales_cdc.resources.aws import GlueResource, LakeResource, s3_client
from sales_cdc.resources.crawler import CrawlerError, CrawlerResource, CrawlReport

RAW_TABLE_ASSET = "raw_orders_cdc"


def invalid_partition_problem(values: list[str]) -> str | None:
    """Why partition ``values`` (dt, hour) break the raw layout, or None when they are valid."""
    if len(values) != len(PARTITION_KEY_NAMES):
        return (
            f"{len(values)} value(s), expected {len(PARTITION_KEY_NAMES)} ({', '.join(PARTITION_KEY_NAMES)})"
        )
    try:
        for key, value in zip(PARTITION_KEY_NAMES, values, strict=True):
            validate_partition_value(key, value)
    except InvalidIdentifierError as exc:
        return f"{exc.kind} {exc.value!r}: allowed is {exc.rule}"
    return None


def remove_invalid_partitions(glue: Any, database: str, table: str) -> dict[str, str]:
    """Delete the table's partitions whose values break the raw layout; returns ``{values: why}``."""
    invalid: dict[str, tuple[list[str], str]] = {}
    for partition in get_partitions(glue, database, table):
        problem = invalid_partition_problem(list(partition["Values"]))
        if problem:
            invalid["/".join(partition["Values"])] = (partition["Values"], problem)
    errors = batch_delete_partitions(glue, database, table, [values for values, _ in invalid.values()])
    if errors:
        raise PartitionRepairError(
            f"Glue refused to delete invalid partitions of {database}.{table}: {'; '.join(errors[:5])}"
        )
    return {name: problem for name, (_, problem) in invalid.items()}


def table_metadata(table: dict, partitions: set[tuple[str, str]], report: CrawlReport) -> dict[str, object]:
    """Materialization metadata: columns, partition count and days, the crawl's outcome."""
    columns = table["StorageDescriptor"].get("Columns", [])
    keys = table.get("PartitionKeys", [])
    schema = dg.TableSchema(
        columns=[dg.TableColumn(c["Name"], c["Type"]) for c in columns]
        + [dg.TableColumn(k["Name"], k["Type"], description="partition key") for k in keys]
    )
    days = sorted({day for day, _ in partitions})
    preview = "\n".join(
        ["| column | type |", "|---|---|"]
        + [f"| {c['Name']} | {c['Type']} |" for c in columns]
        + [f"| {k['Name']} (partition) | {k['Type']} |" for k in keys]
    )
    metadata: dict[str, object] = {
        "dagster/table_name": dg.MetadataValue.text(f"{table['DatabaseName']}.{table['Name']}"),
        "dagster/column_schema": schema,
        "columns": dg.MetadataValue.int(len(columns)),
        "partition_count": dg.MetadataValue.int(len(partitions)),
        "days": dg.MetadataValue.int(len(days)),
        "first_day": dg.MetadataValue.text(days[0] if days else "none"),
        "last_day": dg.MetadataValue.text(days[-1] if days else "none"),
        "location": dg.MetadataValue.path(table["StorageDescriptor"]["Location"]),
        "preview": dg.MetadataValue.md(preview),
    }
    for name, value in report.metadata().items():
        metadata[name] = dg.MetadataValue.json(value) if isinstance(value, list) else value
    return metadata


@dg.asset(
    name=RAW_TABLE_ASSET,
    group_name="catalog",
    deps=["orders"],
    kinds={"glue", "s3"},
    pool=RAW_CATALOG_POOL,
    # Markdown in the UI: the prefix in backticks (an unquoted <table> is taken for an HTML tag).
    description="The raw CDC table (Glue catalog) over `raw/orders_cdc/dt=…/hour=…/` (the template's "
    "default RawCdcTableName), created and evolved by a "
    "crawl of the deployed crawler: new columns when the data gains fields, partitions found in S3.",
)
def raw_orders_cdc(
    context: dg.AssetExecutionContext,
    crawler: CrawlerResource,
    glue: GlueResource,
    lake: LakeResource,
    s3: S3Resource,
) -> dg.MaterializeResult:
    """Crawl the raw prefix and report the resulting table."""
    try:
        report = crawler.crawl()
    except CrawlerError as exc:
        raise dg.Failure(
            description=f"the crawl of {lake.raw_location} failed: {exc}",
            metadata={"crawler": exc.crawler_name, "crawl_status": exc.status},
        ) from exc
    client = glue.get_client()
    try:
        table = get_raw_table(client, lake.glue_database, lake.raw_table)
    except RawTableMissingError:
        raise dg.Failure(
            description=f"the crawl ({report.status}) created no table "
            f"{lake.glue_database}.{lake.raw_table}: there are no raw objects under {lake.raw_location} "
            "yet. Materialize `orders`, wait until the data plane has delivered them (a few seconds "
            "locally), then crawl again.",
            metadata=report.metadata(),
        ) from None
    except PartitionRepairError as exc:
        raise dg.Failure(description=str(exc), metadata=report.metadata()) from exc
    try:
        removed = remove_invalid_partitions(client, lake.glue_database, lake.raw_table)
    except PartitionRepairError as exc:
        raise dg.Failure(description=str(exc), metadata=report.metadata()) from exc
    for name, problem in removed.items():
        context.log.warning(
            f"removed invalid partition {name} of {lake.raw_table} from the catalog: {problem}"
        )
    partitions = registered_partitions(client, lake.glue_database, lake.raw_table)
    context.log.info(
        f"crawl {report.status} in {report.duration_s:.1f} s: {lake.glue_database}.{lake.raw_table} has "
        f"{len(table['StorageDescriptor'].get('Columns', []))} columns and {len(partitions)} partitions"
    )
    metadata = table_metadata(table, partitions, report)
    metadata["invalid_partitions_removed"] = dg.MetadataValue.json(removed)
    metadata.update(lake_id_metadata(s3_client(s3), lake.bucket))
    return dg.MaterializeResult(metadata=metadata)
