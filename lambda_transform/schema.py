"""The CDC row schema, declared once.

Used by the Lambda (what it writes), the Glue table definition and the local crawler's
expectations (column types), the Athena SQL and the tests. Types are Glue/Athena (Hive) type names.

Rules the row keeps:
- money is exact: ``unit_price`` is written as a JSON number whose text is DynamoDB's ``N`` text,
  read by Athena as DECIMAL(12,2);
- ``sequence_number`` is the DynamoDB Streams sequence number as an exact decimal string (they reach
  40 digits); order it with ``lpad(sequence_number, 40, '0')``;
- timestamps are UTC, written as ``YYYY-MM-DD HH:MM:SS.fff`` (Athena's JSON SerDe reads them as
  TIMESTAMP);
- a REMOVE row carries the old image's fields and ``is_deleted = true``.
"""

from __future__ import annotations

# (column name, Glue type, source) — source is the DynamoDB attribute for business fields,
# or None for event metadata filled from the stream record.
CDC_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("event_id", "string", None),
    ("event_name", "string", None),  # INSERT | MODIFY | REMOVE
    ("sequence_number", "string", None),
    ("event_time", "timestamp", None),  # ApproximateCreationDateTime, UTC
    ("arrival_time", "timestamp", None),  # Kinesis approximateArrivalTimestamp, UTC
    ("is_deleted", "boolean", None),
    ("order_id", "string", "orderId"),
    ("customer_id", "string", "customerId"),
    ("customer_name", "string", "customerName"),
    ("product_id", "string", "productId"),
    ("product_name", "string", "productName"),
    ("category", "string", "category"),
    ("quantity", "int", "quantity"),
    ("unit_price", "decimal(12,2)", "unitPrice"),
    ("status", "string", "status"),
    ("created_at", "timestamp", "createdAt"),
    ("updated_at", "timestamp", "updatedAt"),
    # Attributes of the item that are not business fields above, as a JSON object text (or null).
    ("extra_attributes", "string", None),
)

# Hive partition keys of the raw CDC table, from the event time (UTC), returned by the Lambda as
# Firehose dynamic-partitioning keys.
PARTITION_KEYS: tuple[tuple[str, str], ...] = (("dt", "string"), ("hour", "string"))

COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _, _ in CDC_COLUMNS)
COLUMN_TYPES: dict[str, str] = {name: glue_type for name, glue_type, _ in CDC_COLUMNS}
# DynamoDB attribute name -> CDC column name, for the business fields.
ATTRIBUTE_TO_COLUMN: dict[str, str] = {src: name for name, _, src in CDC_COLUMNS if src is not None}

EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
ORDER_STATUSES = ("PLACED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED")
