-- The most expensive queries of each warehouse by attributed compute credits.
-- Answers: which single queries cost the most, and who ran them?
-- Units: CREDITS in credits; ELAPSED_SECONDS in seconds; GB_SCANNED in GiB (2^30 bytes);
-- QUERY_TEXT is cut to its first 300 characters.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY (ranked first, alone) joined to
-- QUERY_HISTORY for the text, role and timings of the few queries kept.
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC; :top_n queries per warehouse.
WITH top_queries AS (
    SELECT
        QUERY_ID, START_TIME, WAREHOUSE_NAME, USER_NAME,
        CREDITS_ATTRIBUTED_COMPUTE + ZEROIFNULL(CREDITS_USED_QUERY_ACCELERATION) AS CREDITS
    FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY
    WHERE START_TIME >= :start_time
      AND START_TIME < :end_time
    QUALIFY ROW_NUMBER() OVER (PARTITION BY WAREHOUSE_NAME ORDER BY CREDITS_ATTRIBUTED_COMPUTE DESC, QUERY_ID) <= :top_n
)
SELECT
    t.QUERY_ID,
    t.START_TIME,
    t.WAREHOUSE_NAME,
    t.USER_NAME,
    q.ROLE_NAME,
    t.CREDITS,
    q.TOTAL_ELAPSED_TIME / 1000 AS ELAPSED_SECONDS,
    q.BYTES_SCANNED / POWER(1024, 3) AS GB_SCANNED,
    LEFT(q.QUERY_TEXT, 300) AS QUERY_TEXT
FROM top_queries AS t
JOIN SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY AS q
  ON q.QUERY_ID = t.QUERY_ID
WHERE q.START_TIME >= :start_time
  AND q.START_TIME < :end_time
ORDER BY t.CREDITS DESC, t.QUERY_ID
