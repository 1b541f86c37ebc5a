-- Freshness: the time of the newest change orders_current reflects and how many orders it holds.
SELECT max(last_event_time) AS newest_event_time, count(*) AS orders
FROM {database}.{table}
