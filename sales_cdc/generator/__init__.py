"""The order generator: realistic tech-gadget orders and their changes, written to DynamoDB `orders`.

A run turns a :class:`GeneratorConfig` into the exact sequence of change events (INSERT new orders,
MODIFY status transitions and corrections, REMOVE deletions; deterministic for a seed and start
time) and writes them with ``batch_write_item`` from a few threads, keeping each order's writes in
plan order. :func:`generate_orders` is the entry point of the CLI and the Dagster asset.

Modules: ``catalog`` (products, customers, the order lifecycle), ``config`` (what to generate, its
validation, the errors), ``plan`` (the change events), ``batches`` (requests and shards),
``table`` (client settings, the table check), ``writer`` (the threaded writer), ``progress``
(progress lines for the run log and the CLI).
"""

from sales_cdc.generator.batches import BATCH_LIMIT, pack_batches, plan_batches, shard_of
from sales_cdc.generator.catalog import (
    CATALOG,
    CATEGORIES,
    CATEGORY_BY_NAME,
    PRODUCTS_BY_CATEGORY,
    PRODUCTS_BY_ID,
    Category,
    Customer,
    Product,
    make_customers,
)
from sales_cdc.generator.config import (
    DEFAULT_ORDERS,
    GeneratorConfig,
    GeneratorConfigError,
    GeneratorError,
    validate_config,
)
from sales_cdc.generator.plan import (
    CHANGE_KINDS,
    ITEM_ATTRIBUTES,
    ChangeKind,
    PlannedWrite,
    expected_table,
    iso_utc,
    iter_writes,
    plan_writes,
    planned_counts,
    to_attribute_values,
)
from sales_cdc.generator.progress import ProgressReport
from sales_cdc.generator.table import check_table, client_config
from sales_cdc.generator.writer import (
    DISPATCH_CHUNK,
    GeneratorSummary,
    GeneratorWriteError,
    generate_orders,
    write_planned,
)

__all__ = [
    "BATCH_LIMIT",
    "CATALOG",
    "CATEGORIES",
    "CATEGORY_BY_NAME",
    "CHANGE_KINDS",
    "DEFAULT_ORDERS",
    "DISPATCH_CHUNK",
    "ITEM_ATTRIBUTES",
    "PRODUCTS_BY_CATEGORY",
    "PRODUCTS_BY_ID",
    "Category",
    "ChangeKind",
    "Customer",
    "GeneratorConfig",
    "GeneratorConfigError",
    "GeneratorError",
    "GeneratorSummary",
    "GeneratorWriteError",
    "PlannedWrite",
    "Product",
    "ProgressReport",
    "check_table",
    "client_config",
    "expected_table",
    "generate_orders",
    "iso_utc",
    "iter_writes",
    "make_customers",
    "pack_batches",
    "plan_batches",
    "plan_writes",
    "planned_counts",
    "shard_of",
    "to_attribute_values",
    "validate_config",
    "write_planned",
]
