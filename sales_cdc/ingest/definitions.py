"""The ingest group's definitions: the orders table, written by the order generator, and its job."""

import dagster as dg

from sales_cdc.ingest import INGEST_ASSETS
from sales_cdc.ingest.jobs import INGEST_JOBS

ingest_defs = dg.Definitions(assets=INGEST_ASSETS, jobs=INGEST_JOBS)
