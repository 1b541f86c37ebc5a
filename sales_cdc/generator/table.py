"""The DynamoDB side of a run: the generator's client settings and the check of the orders table."""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sales_cdc.generator.config import GeneratorConfigError, GeneratorError


def client_config(writers: int = 2) -> Config:
    """botocore settings for a DynamoDB client dedicated to the generator.

    A pooled connection per writer thread; botocore's own quick retries (the generator's backoff
    handles what remains); no client-side parameter validation, which costs about a quarter of the
    client's CPU per batch and is redundant for requests built by :class:`PlannedWrite` (DynamoDB
    validates them anyway).
    """
    return Config(
        max_pool_connections=max(10, 2 * writers),
        retries={"mode": "standard", "max_attempts": 3},
        parameter_validation=False,
    )


def check_table(client: Any, table: str) -> None:
    """Check that ``table`` exists, is ACTIVE and is keyed by ``orderId`` (string), before any write."""
    try:
        description = client.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise GeneratorConfigError(
                "table",
                table,
                f"table {table!r} does not exist at {client.meta.endpoint_url}; provision the deployment "
                "first (`sales-cdc local up`) or pass the name of an existing orders table.",
            ) from None
        raise GeneratorError(f"cannot describe table {table!r} at {client.meta.endpoint_url}: {exc}") from exc
    except BotoCoreError as exc:
        raise GeneratorError(
            f"cannot reach DynamoDB at {client.meta.endpoint_url} ({exc}); "
            "is the emulator running (`sales-cdc local up`)?"
        ) from exc
    keys = {(k["AttributeName"], k["KeyType"]) for k in description.get("KeySchema", [])}
    types = {a["AttributeName"]: a["AttributeType"] for a in description.get("AttributeDefinitions", [])}
    if keys != {("orderId", "HASH")} or types.get("orderId") != "S":
        raise GeneratorConfigError(
            "table",
            table,
            f"table {table!r} is keyed by {sorted(keys)}, not by the string partition key orderId; "
            "pass the orders table of the deployment.",
        )
    status = description.get("TableStatus", "ACTIVE")
    if status != "ACTIVE":
        raise GeneratorConfigError(
            "table", table, f"table {table!r} is {status}, not ACTIVE; wait until it is ACTIVE and run again."
        )
