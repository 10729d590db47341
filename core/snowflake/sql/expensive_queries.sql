-- The most expensive queries of each warehouse by attributed compute credits.
-- Answers: which single queries cost the most, and who ran them?
-- Units: CREDITS in credits; ELAPSED_SECONDS in seconds; GB_SCANNED in GiB (2^30 bytes);
-- QUERY_TEXT is cut to its first 300 characters.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY joined to QUERY_HISTORY.
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC; :top_n queries per warehouse.
SELECT
    a.QUERY_ID,
    a.START_TIME,
    a.WAREHOUSE_NAME,
    q.USER_NAME,
    q.ROLE_NAME,
    a.CREDITS_ATTRIBUTED_COMPUTE + ZEROIFNULL(a.CREDITS_USED_QUERY_ACCELERATION) AS CREDITS,
    q.TOTAL_ELAPSED_TIME / 1000 AS ELAPSED_SECONDS,
    q.BYTES_SCANNED / POWER(1024, 3) AS GB_SCANNED,
    LEFT(q.QUERY_TEXT, 300) AS QUERY_TEXT
FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY AS a
JOIN SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY AS q
  ON q.QUERY_ID = a.QUERY_ID
WHERE a.START_TIME >= :start_time
  AND a.START_TIME < :end_time
  AND q.START_TIME >= :start_time
  AND q.START_TIME < :end_time
QUALIFY ROW_NUMBER() OVER (PARTITION BY a.WAREHOUSE_NAME ORDER BY a.CREDITS_ATTRIBUTED_COMPUTE DESC, a.QUERY_ID) <= :top_n
ORDER BY CREDITS DESC, a.QUERY_ID
