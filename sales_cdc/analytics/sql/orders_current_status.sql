-- Reconciliation: the id and status of every order in orders_current, to compare with a scan of
-- the DynamoDB table.
SELECT order_id, status
FROM {database}.{table}
