"""The Firehose transformation Lambda: DynamoDB change records to typed CDC rows.

Deployable on its own: the standard library only (boto3 is in the Lambda runtime, unused here).
"""
