"""Five questions an analyst asks of the lake, answered in Athena SQL (the README's "Query the lake").

Each query reads the raw CDC table ``orders_cdc`` (the Glue database is the connection's default)
and runs unchanged on Athena and on the local engine; ``tests/test_commands/test_sql.py`` runs every
one. An order's current state is its latest change by stream sequence number (numbers compared as
zero-padded text, as ``orders_current`` does), and deleted orders are left out. The ``dt`` filters let
Athena read only the partitions the question needs.
"""

from __future__ import annotations

from dataclasses import dataclass

# An order's current state: its latest change, among the changes of the partitions named by {since_dt}.
_CURRENT_ORDERS = """\
WITH latest AS (
    SELECT *, row_number() OVER (
        PARTITION BY order_id ORDER BY lpad(sequence_number, 40, '0') DESC, event_time DESC
    ) AS change_rank
    FROM orders_cdc
    WHERE dt >= {since_dt}
),
current_orders AS (
    SELECT * FROM latest WHERE change_rank = 1 AND NOT is_deleted
)"""

_LIVE = "status IN ('PLACED', 'PAID', 'SHIPPED', 'DELIVERED')"


@dataclass(frozen=True)
class Example:
    """One analyst question and the Athena SQL that answers it."""

    name: str
    question: str
    sql: str


EXAMPLES: tuple[Example, ...] = (
    Example(
        "top_products_this_week",
        "Which products sold best this week (orders created since Monday 00:00 UTC, still live)?",
        _CURRENT_ORDERS.format(since_dt="date_format(date_trunc('week', current_date), '%Y-%m-%d')")
        + f"""
SELECT product_id, product_name, count(*) AS orders, sum(quantity) AS units,
       sum(quantity * unit_price) AS revenue
FROM current_orders
WHERE created_at >= date_trunc('week', current_date) AND {_LIVE}
GROUP BY product_id, product_name
ORDER BY revenue DESC, product_id
LIMIT 10""",
    ),
    Example(
        "revenue_by_hour_today",
        "What is today's revenue by hour (UTC) of order creation?",
        _CURRENT_ORDERS.format(since_dt="date_format(current_date, '%Y-%m-%d')")
        + f"""
SELECT hour(created_at) AS order_hour, count(*) AS orders, sum(quantity * unit_price) AS revenue
FROM current_orders
WHERE created_at >= current_date AND {_LIVE}
GROUP BY hour(created_at)
ORDER BY order_hour""",
    ),
    Example(
        "cancellation_and_return_rates_by_category",
        "What share of the last 30 days' orders were cancelled or returned, by category?",
        _CURRENT_ORDERS.format(since_dt="date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')")
        + """
SELECT category, count(*) AS orders,
       round(100.0 * count_if(status = 'CANCELLED') / count(*), 2) AS cancelled_pct,
       round(100.0 * count_if(status = 'RETURNED') / count(*), 2) AS returned_pct
FROM current_orders
WHERE created_at >= current_date - INTERVAL '30' DAY
GROUP BY category
ORDER BY category""",
    ),
    Example(
        "orders_changed_in_the_last_hour",
        "Which orders changed in the last hour, how often, and what is their status now?",
        """\
SELECT order_id, count(DISTINCT event_id) AS changes, max(event_time) AS last_change,
       max_by(status, lpad(sequence_number, 40, '0')) AS status_now
FROM orders_cdc
WHERE dt >= date_format(current_timestamp - INTERVAL '1' HOUR, '%Y-%m-%d')
  AND event_time >= current_timestamp - INTERVAL '1' HOUR
GROUP BY order_id
ORDER BY last_change DESC, order_id""",
    ),
    Example(
        "cdc_lag_percentiles",
        "How long do changes take from DynamoDB to the stream today (lag percentiles, first deliveries)?",
        """\
WITH changes AS (
    SELECT event_id, min(event_time) AS event_time, min(arrival_time) AS arrival_time
    FROM orders_cdc
    WHERE dt = date_format(current_date, '%Y-%m-%d')
    GROUP BY event_id
)
SELECT count(*) AS changes,
       approx_percentile(date_diff('millisecond', event_time, arrival_time), 0.5) AS lag_p50_ms,
       approx_percentile(date_diff('millisecond', event_time, arrival_time), 0.9) AS lag_p90_ms,
       approx_percentile(date_diff('millisecond', event_time, arrival_time), 0.99) AS lag_p99_ms,
       max(date_diff('millisecond', event_time, arrival_time)) AS lag_max_ms
FROM changes""",
    ),
)


def example(name: str) -> Example:
    """The example called ``name``; KeyError naming the known ones otherwise."""
    for candidate in EXAMPLES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no example query {name!r}; known: {', '.join(e.name for e in EXAMPLES)}")
