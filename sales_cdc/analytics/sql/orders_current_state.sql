-- Reconciliation: every business column of every order in orders_current (the columns of
-- lambda_transform/schema.py with a DynamoDB source), and the stream sequence number of the change
-- each row reflects, to compare with a scan of the DynamoDB table and with the failed changes.
SELECT order_id, customer_id, customer_name, product_id, product_name, category,
    quantity, unit_price, status, created_at, updated_at, last_sequence_number
FROM {database}.{table}
