"""The ingest group's job: a generator run whose settings are checked before it is launched.

Dagster checks run config against types, not ranges, when a run is launched, so an out-of-range
value (``delete_ratio: 2``) given to the ``orders`` asset itself fails only when its step starts.
Launched through ``generate_orders_job`` the same settings pass through a config mapping that builds
:class:`~sales_cdc.ingest.orders.OrderGeneratorConfig` (pydantic checks every range), so the launchpad
refuses a bad value before any run exists.
"""

import dagster as dg

from sales_cdc.ingest.orders import OrderGeneratorConfig, orders


@dg.config_mapping
def checked_generator_settings(config: OrderGeneratorConfig) -> dg.RunConfig:
    """The launchpad's settings, range-checked, as the ``orders`` asset's run config."""
    return dg.RunConfig(ops={orders.op.name: config})


generate_orders_job = dg.define_asset_job(
    "generate_orders_job",
    selection=[orders],
    config=checked_generator_settings,
    description="A run of the order generator; the launchpad checks the settings' ranges before launch.",
)

INGEST_JOBS = [generate_orders_job]
