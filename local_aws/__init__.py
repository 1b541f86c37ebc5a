"""The embedded AWS: the local stand-in for every AWS service the product uses.

It never imports the application (``sales_cdc``) nor Dagster: it gets the paths and settings it
needs as arguments and raises and returns its own types; the application's resources adapt to it.

- ``server``: the moto server process (started as ``python -m local_aws.server``), its fixes to
  moto's CPU costs, and portable process and port checks;
- ``provision``: applies ``infra/template.yaml`` to the emulator through each service's API;
- one module or package per service the data plane stands in for, named as boto3 names it:
  ``pipes`` (EventBridge Pipes), ``firehose`` (Amazon Data Firehose), ``lambda_runtime`` (the
  transformation Lambda, in-process), ``glue`` (the Glue crawler), ``athena`` (Athena SQL on DuckDB),
  ``cloudwatch`` (metrics the data plane publishes and the alarms it evaluates);
- ``pumps``: what the pumps share (checkpoints, shard readers, thread helpers, backoff);
- ``dataplane``: the process running the pumps; ``stack``: the one local-stack lifecycle used by
  ``sales-cdc up``, ``sales-cdc local up`` and the tests.
"""
