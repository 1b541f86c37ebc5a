-- cdc_event_stats for one event day: what the change stream delivered in raw partition dt = day.
-- Reads that one raw partition (every hour of it) and nothing else.
--
--   events               distinct changes (event_id), by kind: inserts, modifies, removes
--   deliveries           raw rows; duplicate_deliveries = deliveries - events (at-least-once copies)
--   late_events          changes whose first delivery reached Kinesis more than late_seconds after
--                        DynamoDB recorded them (arrival_time - event_time)
--   late_hour_events     changes whose first delivery arrived in a later clock hour than the one
--                        their hour partition is named after
--   lag_*_ms             arrival lag percentiles (approximate) and maximum, first deliveries
--   error_records        records Firehose could not process, counted by the asset from the error
--                        prefix objects of that day (the day Firehose failed them)
--   quarantined_objects  raw objects of this event day moved to quarantine by partition repair
--                        (unreadable; their rows are not counted above), counted by the asset
WITH copies AS (
    SELECT event_id, event_name, event_time, arrival_time, order_id
    FROM {database}.{raw_table}
    WHERE dt = {day}
),
events AS (
    SELECT
        event_id,
        min(event_name) AS event_name,
        min(event_time) AS event_time,
        min(arrival_time) AS arrival_time,
        min(order_id) AS order_id,
        count(*) AS deliveries
    FROM copies
    GROUP BY event_id
)
SELECT
    count(*) AS events,
    CAST(count_if(event_name = 'INSERT') AS BIGINT) AS inserts,
    CAST(count_if(event_name = 'MODIFY') AS BIGINT) AS modifies,
    CAST(count_if(event_name = 'REMOVE') AS BIGINT) AS removes,
    count(DISTINCT order_id) AS orders_changed,
    CAST(coalesce(sum(deliveries), 0) AS BIGINT) AS deliveries,
    CAST(coalesce(sum(deliveries), 0) - count(*) AS BIGINT) AS duplicate_deliveries,
    CAST(count_if(date_diff('millisecond', event_time, arrival_time) > {late_seconds} * 1000) AS BIGINT)
        AS late_events,
    CAST(count_if(date_trunc('hour', arrival_time) > date_trunc('hour', event_time)) AS BIGINT)
        AS late_hour_events,
    CAST(approx_percentile(date_diff('millisecond', event_time, arrival_time), 0.5) AS BIGINT) AS lag_p50_ms,
    CAST(approx_percentile(date_diff('millisecond', event_time, arrival_time), 0.99) AS BIGINT) AS lag_p99_ms,
    CAST(max(date_diff('millisecond', event_time, arrival_time)) AS BIGINT) AS lag_max_ms,
    CAST({error_records} AS BIGINT) AS error_records,
    CAST({quarantined_objects} AS BIGINT) AS quarantined_objects,
    {day} AS dt
FROM events
