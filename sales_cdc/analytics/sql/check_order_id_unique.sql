-- Check: every order appears once in orders_current. Returns the order ids that appear more than
-- once (none when the check passes), most duplicated first.
SELECT order_id, count(*) AS copies
FROM {database}.{table}
GROUP BY order_id
HAVING count(*) > 1
ORDER BY copies DESC, order_id
LIMIT {limit}
