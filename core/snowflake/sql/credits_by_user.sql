-- Compute credits attributed to each user's queries, per warehouse (idle time is not attributed).
-- Answers: who spends the warehouse credits?
-- Units: credits (compute attributed to queries, plus query acceleration); QUERIES is a count.
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
