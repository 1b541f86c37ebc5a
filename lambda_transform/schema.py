"""The CDC row schema, declared once.

Used by the Lambda (what it writes), the Glue table definition and the local crawler's
expectations (column types), the Athena SQL and the tests. Types are Glue/Athena (Hive) type names.

Rules the row keeps:
- money is exact or the record is an error: ``unit_price`` is DECIMAL(18,2) (cents; 16 integer
  digits), written as a JSON number of exactly DynamoDB's value (its ``N`` text when that is plain
  decimal text). A number a decimal column cannot hold exactly (more decimal places than its scale,
  or more integer digits than precision - scale) fails the record: Athena would round it or read
  NULL, silently. The same holds for every ``decimal(p,s)`` column below (:data:`DECIMAL_COLUMNS`);
- ``sequence_number`` is the DynamoDB Streams sequence number as an exact decimal string (they reach
  40 digits); order it with ``lpad(sequence_number, 40, '0')``;
- timestamps are UTC, written as ``YYYY-MM-DD HH:MM:SS.fff`` (Athena's JSON SerDe reads them as
  TIMESTAMP);
- a REMOVE row carries the old image's fields and ``is_deleted = true``.
"""

from __future__ import annotations

import re

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
    ("unit_price", "decimal(18,2)", "unitPrice"),  # see the module docstring
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


def _decimal_columns() -> dict[str, tuple[int, int]]:
    """(precision, scale) of each ``decimal(p,s)`` column, parsed from its declared Glue type."""
    columns = {}
    for name, glue_type, _ in CDC_COLUMNS:
        if glue_type.startswith("decimal"):
            declared = re.fullmatch(r"decimal\(([1-9][0-9]?),([0-9][0-9]?)\)", glue_type)
            if not declared or not int(declared[2]) <= int(declared[1]) <= 38:
                raise ValueError(
                    f"column {name!r} is declared {glue_type!r}; write decimal(p,s) with 1 <= p <= 38 "
                    "and 0 <= s <= p (Athena's limits), no spaces"
                )
            columns[name] = (int(declared[1]), int(declared[2]))
    return columns


# Column name -> (precision, scale) of the decimal columns: what a value must fit exactly.
DECIMAL_COLUMNS: dict[str, tuple[int, int]] = _decimal_columns()
# DynamoDB attribute name -> CDC column name, for the business fields.
ATTRIBUTE_TO_COLUMN: dict[str, str] = {src: name for name, _, src in CDC_COLUMNS if src is not None}

EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
ORDER_STATUSES = ("PLACED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED")
