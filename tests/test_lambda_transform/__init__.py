"""Tests of the Firehose transformation Lambda (lambda_transform/)."""
