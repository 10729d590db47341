-- How each warehouse's queries fit its size: how long they run, how long they wait for the warehouse
-- (queued because it was busy) and how much data did not fit its memory (spilled).
-- Answers: which warehouses are larger than their queries need (short queries, no queueing, no spill),
-- and which are too small (queueing, spilling)?
-- Units: QUERIES, QUERIES_QUEUED, QUERIES_SPILLED counts; AVERAGE_SECONDS and QUEUED_SECONDS in seconds
-- (QUEUED_SECONDS summed); QUEUED_SHARE a fraction (0..1) of the summed elapsed time; SPILLED_GB in GiB (2^30 bytes),
-- local and remote storage together.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY (QUEUED_OVERLOAD_TIME, BYTES_SPILLED_TO_LOCAL_STORAGE,
-- BYTES_SPILLED_TO_REMOTE_STORAGE; times in milliseconds).
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC.
SELECT
    WAREHOUSE_NAME,
    COUNT(*) AS QUERIES,
    AVG(EXECUTION_TIME) / 1000 AS AVERAGE_SECONDS,
    SUM(ZEROIFNULL(QUEUED_OVERLOAD_TIME)) / 1000 AS QUEUED_SECONDS,
    DIV0(SUM(ZEROIFNULL(QUEUED_OVERLOAD_TIME)), SUM(ZEROIFNULL(TOTAL_ELAPSED_TIME))) AS QUEUED_SHARE,
    COUNT_IF(QUEUED_OVERLOAD_TIME > 0) AS QUERIES_QUEUED,
    COUNT_IF(BYTES_SPILLED_TO_LOCAL_STORAGE > 0 OR BYTES_SPILLED_TO_REMOTE_STORAGE > 0) AS QUERIES_SPILLED,
    SUM(ZEROIFNULL(BYTES_SPILLED_TO_LOCAL_STORAGE) + ZEROIFNULL(BYTES_SPILLED_TO_REMOTE_STORAGE)) / POWER(1024, 3) AS SPILLED_GB
FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
WHERE START_TIME >= :start_time
  AND START_TIME < :end_time
  AND WAREHOUSE_NAME IS NOT NULL
GROUP BY WAREHOUSE_NAME
ORDER BY WAREHOUSE_NAME
