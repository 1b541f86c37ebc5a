"""Asset group ``ingest``: writing orders into the source table."""

from sales_cdc.ingest.orders import OrderGeneratorConfig, orders

INGEST_ASSETS = [orders]

__all__ = ["INGEST_ASSETS", "OrderGeneratorConfig", "orders"]
