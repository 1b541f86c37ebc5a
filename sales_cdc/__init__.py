"""sales-cdc: near-real-time sales analytics from DynamoDB change data capture.

``sales_cdc.connect()`` opens a DB-API 2.0 connection to the lake (:mod:`sales_cdc.dbapi`); it is
imported on first use, so ``import sales_cdc`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sales_cdc.dbapi import connect

__version__ = "0.1.0"
__all__ = ["__version__", "connect"]


def __getattr__(name: str) -> Any:
    if name == "connect":
        # Loaded on first use: the connection imports the query engine (Dagster, DuckDB, boto3).
        from sales_cdc.dbapi import connect  # noqa: PLC0415 - keeps `import sales_cdc` cheap

        return connect
    raise AttributeError(f"module 'sales_cdc' has no attribute {name!r}")
