"""Dagster resources: AWS clients, the query engine and the crawler, each with local and aws implementations."""
