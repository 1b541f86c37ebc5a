"""The Firehose transformation Lambda: DynamoDB change records to typed CDC rows.

Entry point: ``lambda_transform.handler.handler``. The modules, in the order a record meets them:

- ``firehose``: the Firehose contract: event parsing, payload decoding, answers, response size;
- ``cdc_row``: the business transformation, one DynamoDB Streams record to one CDC row line;
- ``dynamodb_json``: DynamoDB's typed JSON to Python (``decode_item``) and to plain JSON text;
- ``timestamps``: epoch numbers and ISO-8601 text to Athena's UTC timestamp text, partition keys;
- ``batch``: one invocation: every record answered once, in order, within the size budget;
- ``errors``: the reasons a record fails; ``schema``: the CDC row schema, shared with Glue/Athena.

Deployable on its own: the standard library, plus orjson vendored at build time
(``lambda_transform/requirements.txt``); without orjson it falls back to the standard library's json.
"""
