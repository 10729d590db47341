-- Credits each warehouse used per day, split into compute, cloud services, and compute spent on
-- queries versus idle (running with no query).
-- Answers: where did the warehouse money go, day by day?
-- Units: credits; DAY is the UTC calendar day of the metering hour.
-- Idle counts only hours whose attribution is in (CREDITS_ATTRIBUTED_COMPUTE_QUERIES lags up to 6 hours
-- and is NULL before): their compute is CREDITS_NOT_YET_ATTRIBUTED, never idle.
-- CREDITS_USED is metered, not billed: it ignores the daily cloud-services adjustment (billed_by_service).
-- Source: SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY (one row per warehouse and hour).
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC.
SELECT
    TO_DATE(START_TIME) AS DAY,
    WAREHOUSE_NAME,
    SUM(CREDITS_USED) AS CREDITS_USED,
    SUM(CREDITS_USED_COMPUTE) AS CREDITS_COMPUTE,
    SUM(CREDITS_USED_CLOUD_SERVICES) AS CREDITS_CLOUD_SERVICES,
    SUM(ZEROIFNULL(CREDITS_ATTRIBUTED_COMPUTE_QUERIES)) AS CREDITS_QUERIES,
    SUM(IFF(CREDITS_ATTRIBUTED_COMPUTE_QUERIES IS NULL, 0, CREDITS_USED_COMPUTE - CREDITS_ATTRIBUTED_COMPUTE_QUERIES)) AS CREDITS_IDLE,
    SUM(IFF(CREDITS_ATTRIBUTED_COMPUTE_QUERIES IS NULL, CREDITS_USED_COMPUTE, 0)) AS CREDITS_NOT_YET_ATTRIBUTED
FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
WHERE START_TIME >= :start_time
  AND START_TIME < :end_time
GROUP BY TO_DATE(START_TIME), WAREHOUSE_NAME
ORDER BY DAY, WAREHOUSE_NAME
