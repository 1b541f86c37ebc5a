"""Subcommands of the ``sales-cdc`` console script, one module each."""
