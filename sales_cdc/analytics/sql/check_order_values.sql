-- Check: the values of orders_current are valid. Returns the first orders (by id) breaking any rule,
-- each with its broken rules as flags, and on every row the number of orders breaking each rule
-- (window totals, so the counts are exact even though only a sample of ids is returned).
-- No rows: the check passes.
WITH rules AS (
    SELECT
        order_id,
        quantity,
        unit_price,
        status,
        order_id IS NULL OR order_id = '' AS missing_order_id,
        quantity IS NULL OR quantity <= 0 AS quantity_not_positive,
        unit_price IS NULL OR unit_price <= 0 AS unit_price_not_positive,
        status IS NULL OR status NOT IN ('PLACED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'RETURNED')
            AS status_unknown,
        product_id IS NULL OR category IS NULL AS product_missing,
        created_at IS NULL AS created_at_missing
    FROM {database}.{table}
),
broken AS (
    SELECT *
    FROM rules
    WHERE missing_order_id OR quantity_not_positive OR unit_price_not_positive OR status_unknown
        OR product_missing OR created_at_missing
)
SELECT
    order_id,
    quantity,
    unit_price,
    status,
    missing_order_id,
    quantity_not_positive,
    unit_price_not_positive,
    status_unknown,
    product_missing,
    created_at_missing,
    count(*) OVER () AS broken_orders,
    sum(CASE WHEN missing_order_id THEN 1 ELSE 0 END) OVER () AS missing_order_id_orders,
    sum(CASE WHEN quantity_not_positive THEN 1 ELSE 0 END) OVER () AS quantity_not_positive_orders,
    sum(CASE WHEN unit_price_not_positive THEN 1 ELSE 0 END) OVER () AS unit_price_not_positive_orders,
    sum(CASE WHEN status_unknown THEN 1 ELSE 0 END) OVER () AS status_unknown_orders,
    sum(CASE WHEN product_missing THEN 1 ELSE 0 END) OVER () AS product_missing_orders,
    sum(CASE WHEN created_at_missing THEN 1 ELSE 0 END) OVER () AS created_at_missing_orders
FROM broken
ORDER BY order_id
LIMIT {limit}
