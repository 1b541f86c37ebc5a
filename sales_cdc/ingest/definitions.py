"""The ingest group's definitions: the orders table, written by the order generator."""

import dagster as dg

from sales_cdc.ingest import INGEST_ASSETS

ingest_defs = dg.Definitions(assets=INGEST_ASSETS)
