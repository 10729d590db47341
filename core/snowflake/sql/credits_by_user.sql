-- Compute credits attributed to each user's queries, per warehouse (idle time is not attributed).
-- Answers: who spends the warehouse credits?
-- Units: credits (compute attributed to queries, plus query acceleration); QUERIES is a count.
-- Idle time is left out, not spread over the queries (dbt-snowflake-monitoring's cost_per_query spreads
-- it): these credits add up to the warehouses' attributed compute, below their metered and billed credits.
-- QUERY_ATTRIBUTION_HISTORY lags up to 8 hours, and leaves out queries of about 100 ms or less.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY.
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC.
SELECT
    USER_NAME,
    WAREHOUSE_NAME,
    SUM(CREDITS_ATTRIBUTED_COMPUTE + ZEROIFNULL(CREDITS_USED_QUERY_ACCELERATION)) AS CREDITS,
    COUNT(*) AS QUERIES
FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY
WHERE START_TIME >= :start_time
  AND START_TIME < :end_time
GROUP BY USER_NAME, WAREHOUSE_NAME
ORDER BY CREDITS DESC, USER_NAME, WAREHOUSE_NAME
