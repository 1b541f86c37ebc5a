"""The catalog group's definitions: the raw table and partition repair, the crawl job and its schedule."""

import dagster as dg

from sales_cdc.catalog import CATALOG_ASSETS
from sales_cdc.catalog.jobs import raw_cdc_crawl_job
from sales_cdc.catalog.schedules import raw_cdc_crawl_schedule

catalog_defs = dg.Definitions(
    assets=CATALOG_ASSETS, jobs=[raw_cdc_crawl_job], schedules=[raw_cdc_crawl_schedule]
)
