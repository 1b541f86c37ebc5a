"""sales-cdc: near-real-time sales analytics from DynamoDB change data capture."""

__version__ = "0.1.0"
