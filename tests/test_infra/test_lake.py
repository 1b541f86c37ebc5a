"""Strict identifier validation: what may reach SQL text, and the errors for what may not."""

from __future__ import annotations

import pytest

from infra.lake import (
    InvalidIdentifierError,
    partition_spec_sql,
    qualified_table,
    quote_identifier,
    quote_literal,
    quote_location,
    validate_database,
    validate_partition_value,
    validate_table,
)

HOSTILE = [
    "orders; DROP TABLE x",
    "orders--",
    'a"b',
    "a`b",
    "a'b",
    "Orders",
    "1orders",
    "",
    "a" * 129,
    None,
    7,
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_names_are_refused_naming_the_value_and_the_rule(value) -> None:
    with pytest.raises(InvalidIdentifierError) as raised:
        validate_table(value)
    message = str(raised.value)
    assert repr(value) in message and "a-z, 0-9 and _" in message
    assert raised.value.kind == "table"


def test_valid_names_pass_unchanged_and_quote_without_escaping() -> None:
    assert validate_database("sales_cdc_lake") == "sales_cdc_lake"
    assert quote_identifier("orders_cdc", "table") == '"orders_cdc"'
    assert quote_identifier("orders_cdc", "table", style="`") == "`orders_cdc`"
    assert qualified_table("sales_cdc_lake", "orders_cdc") == '"sales_cdc_lake"."orders_cdc"'


@pytest.mark.parametrize(
    "key, value, ok",
    [
        ("dt", "2026-11-21", True),
        ("dt", "2026-11-21' OR '1'='1", False),
        ("dt", "21-11-2026", False),
        ("hour", "07", True),
        ("hour", "7", False),
        ("hour", "24", False),
        ("order_date", "2026-11-21", True),
        ("order_date", "x'; DROP TABLE y; --", False),
        ("dt", "__HIVE_DEFAULT_PARTITION__", True),
    ],
)
def test_partition_values_are_checked_per_key(key, value, ok) -> None:
    if ok:
        assert validate_partition_value(key, value) == value
    else:
        with pytest.raises(InvalidIdentifierError, match=key):
            validate_partition_value(key, value)


def test_literals_and_specs_are_built_from_validated_values_only() -> None:
    assert (
        partition_spec_sql({"dt": "2026-11-21", "hour": "23"}) == "PARTITION (dt = '2026-11-21', hour = '23')"
    )
    assert quote_literal("2026-11-21", "dt") == "'2026-11-21'"
    assert (
        quote_location("s3://lake/raw/orders_cdc/dt=2026-11-21/")
        == "'s3://lake/raw/orders_cdc/dt=2026-11-21/'"
    )
    with pytest.raises(InvalidIdentifierError):
        quote_literal("it's")
    with pytest.raises(InvalidIdentifierError, match="S3 location"):
        quote_location("s3://lake/x' OR 1=1 --")
    with pytest.raises(InvalidIdentifierError):
        partition_spec_sql({})
