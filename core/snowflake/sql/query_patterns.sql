-- Queries grouped by pattern: repeats of one query text that differ only in literals share
-- QUERY_PARAMETERIZED_HASH (https://docs.snowflake.com/en/user-guide/query-hash), with their count and credits.
-- Answers: which recurring queries (a dashboard tile, a dbt model, a notebook cell) cost the most?
-- Units: CREDITS and AVERAGE_CREDITS in credits (compute attributed to queries, plus query acceleration; idle
-- time is not attributed); QUERIES a count; AVERAGE_SECONDS in seconds of total elapsed time;
-- SAMPLE_TEXT is the newest run's text cut to 300 characters.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY (credits) joined to QUERY_HISTORY (pattern, text, timing).
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC; :top_n patterns kept (by credits).
WITH runs AS (
    SELECT
        COALESCE(q.QUERY_PARAMETERIZED_HASH, q.QUERY_ID) AS PATTERN,
        a.WAREHOUSE_NAME,
        a.USER_NAME,
        q.START_TIME,
        q.TOTAL_ELAPSED_TIME,
        q.QUERY_TEXT,
        a.CREDITS_ATTRIBUTED_COMPUTE + ZEROIFNULL(a.CREDITS_USED_QUERY_ACCELERATION) AS CREDITS
    FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY AS a
    JOIN SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY AS q
      ON q.QUERY_ID = a.QUERY_ID
    WHERE a.START_TIME >= :start_time
      AND a.START_TIME < :end_time
      AND q.START_TIME >= :start_time
      AND q.START_TIME < :end_time
)
SELECT
    PATTERN,
    COUNT(*) AS QUERIES,
    SUM(CREDITS) AS CREDITS,
    AVG(CREDITS) AS AVERAGE_CREDITS,
    AVG(TOTAL_ELAPSED_TIME) / 1000 AS AVERAGE_SECONDS,
    COUNT(DISTINCT USER_NAME) AS USERS,
    MAX_BY(USER_NAME, CREDITS) AS TOP_USER,
    MAX_BY(WAREHOUSE_NAME, CREDITS) AS WAREHOUSE_NAME,
    LEFT(MAX_BY(QUERY_TEXT, START_TIME), 300) AS SAMPLE_TEXT
FROM runs
GROUP BY PATTERN
ORDER BY CREDITS DESC, PATTERN
LIMIT :top_n
