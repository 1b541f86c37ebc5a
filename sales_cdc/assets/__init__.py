"""Dagster assets, one package per asset group: ingest, catalog, analytics."""
