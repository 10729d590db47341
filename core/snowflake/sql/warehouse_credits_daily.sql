-- Credits each warehouse used per day, split into compute, cloud services, and compute spent on
-- queries versus idle (running with no query).
-- Answers: where did the warehouse money go, day by day?
-- Units: credits; DAY is the UTC calendar day of the metering hour.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY (one row per warehouse and hour).
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC.
SELECT
    TO_DATE(START_TIME) AS DAY,
    WAREHOUSE_NAME,
    SUM(CREDITS_USED) AS CREDITS_USED,
    SUM(CREDITS_USED_COMPUTE) AS CREDITS_COMPUTE,
    SUM(CREDITS_USED_CLOUD_SERVICES) AS CREDITS_CLOUD_SERVICES,
    SUM(ZEROIFNULL(CREDITS_ATTRIBUTED_COMPUTE_QUERIES)) AS CREDITS_QUERIES,
    SUM(CREDITS_USED_COMPUTE) - SUM(ZEROIFNULL(CREDITS_ATTRIBUTED_COMPUTE_QUERIES)) AS CREDITS_IDLE
FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
WHERE START_TIME >= :start_time
  AND START_TIME < :end_time
GROUP BY TO_DATE(START_TIME), WAREHOUSE_NAME
ORDER BY DAY, WAREHOUSE_NAME
