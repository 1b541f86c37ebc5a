"""Asset group ``catalog``: the raw CDC table in the Glue catalog and its partitions.

``raw_orders_cdc`` is produced by a crawl (schema, new columns, partitions found); ``partition_repair``
registers the partitions new raw objects created, incrementally, between crawls.
"""

from sales_cdc.catalog.partition_repair import PartitionRepairConfig, partition_repair
from sales_cdc.catalog.raw_table import raw_orders_cdc

CATALOG_ASSETS = [raw_orders_cdc, partition_repair]

__all__ = ["CATALOG_ASSETS", "PartitionRepairConfig", "partition_repair", "raw_orders_cdc"]
