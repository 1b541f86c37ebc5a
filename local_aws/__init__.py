"""The local deployment: embedded AWS (moto server), provisioning and a data plane standing in for AWS.

``emulator`` starts the embedded AWS (``moto_server``: moto's server with CPU fixes) and ``provision``
applies the template to it. One module per AWS service the data plane stands in for: ``pipes``
(EventBridge Pipes), ``firehose`` (Amazon Data Firehose with its Lambda processor), ``glue`` (the Glue
crawler), ``athena`` (Athena SQL on DuckDB).
"""
