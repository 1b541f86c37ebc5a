"""Jobs of the catalog group: one crawl of the raw CDC prefix."""

import dagster as dg

from sales_cdc.catalog.raw_table import raw_orders_cdc

raw_cdc_crawl_job = dg.define_asset_job(
    "raw_cdc_crawl_job",
    selection=dg.AssetSelection.assets(raw_orders_cdc),
    description="One crawl of the raw CDC prefix: table schema, new columns, partitions.",
)
