-- Compute credits attributed to queries, by the role that ran them, per warehouse.
-- Answers: which roles (teams, tools) spend the warehouse credits?
-- Units: credits (compute attributed to queries, plus query acceleration); QUERIES is a count.
-- Idle time is left out, not spread over the queries (dbt-snowflake-monitoring's cost_per_query spreads
-- it): these credits add up to the warehouses' attributed compute, below their metered and billed credits.
-- QUERY_ATTRIBUTION_HISTORY lags up to 8 hours, and leaves out queries of about 100 ms or less.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY joined to QUERY_HISTORY for ROLE_NAME.
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC.
SELECT
    q.ROLE_NAME,
    a.WAREHOUSE_NAME,
    SUM(a.CREDITS_ATTRIBUTED_COMPUTE + ZEROIFNULL(a.CREDITS_USED_QUERY_ACCELERATION)) AS CREDITS,
    COUNT(*) AS QUERIES
FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY AS a
JOIN SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY AS q
  ON q.QUERY_ID = a.QUERY_ID
WHERE a.START_TIME >= :start_time
  AND a.START_TIME < :end_time
  AND q.START_TIME >= :start_time
  AND q.START_TIME < :end_time
GROUP BY q.ROLE_NAME, a.WAREHOUSE_NAME
ORDER BY CREDITS DESC, q.ROLE_NAME, a.WAREHOUSE_NAME
