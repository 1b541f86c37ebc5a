"""The local deployment: embedded AWS (moto server), provisioning and a data plane standing in for AWS.

One module per AWS service it stands in for: ``pipes`` (EventBridge Pipes), ``firehose`` (Amazon Data
Firehose with its Lambda processor), ``glue`` (the Glue crawler), ``athena`` (Athena SQL on DuckDB).
"""
