"""The ``sales-cdc`` console script: everything that is not the Dagster UI."""

from __future__ import annotations

import click

from sales_cdc import __version__
from sales_cdc.commands.deploy import deploy
from sales_cdc.commands.generate import generate
from sales_cdc.commands.local import local
from sales_cdc.commands.sql import sql
from sales_cdc.commands.up import up


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sales-cdc")
def main() -> None:
    """sales-cdc: near-real-time sales analytics from DynamoDB change data capture."""


for command in (generate, local, up, deploy, sql):
    main.add_command(command)


if __name__ == "__main__":
    main()
