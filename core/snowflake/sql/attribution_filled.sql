-- How far QUERY_ATTRIBUTION_HISTORY is filled: the start of its newest query since :start_time.
-- Answers: up to when do the per-user and per-role credits and the expensive queries count queries
-- (the view lags up to 8 hours, later than the metering)?
-- Units: timestamp (UTC); NULL when no query since :start_time.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY (a START_TIME range, so it is pruned).
-- Binds: :start_time (inclusive), timestamp in UTC.
SELECT MAX(START_TIME) AS LAST_QUERY_START
FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY
WHERE START_TIME >= :start_time
