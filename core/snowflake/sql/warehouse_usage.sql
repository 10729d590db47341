-- Each warehouse's totals over a window: credits, the compute spent on queries versus idle
-- (metered compute minus the compute Snowflake attributed to queries), and how long it ran.
-- Answers: which warehouses pay for doing nothing, and what does a warehouse cost today (the basis
-- of a change's cost projection)?
-- Units: credits; IDLE_SHARE is a fraction (0..1) of compute credits; RUNNING_HOURS counts the
-- metering hours with any compute; DAYS_METERED counts days with a metering row.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY.
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC.
SELECT
    WAREHOUSE_NAME,
    SUM(CREDITS_USED) AS CREDITS_USED,
    SUM(CREDITS_USED_COMPUTE) AS CREDITS_COMPUTE,
    SUM(CREDITS_USED_CLOUD_SERVICES) AS CREDITS_CLOUD_SERVICES,
    SUM(ZEROIFNULL(CREDITS_ATTRIBUTED_COMPUTE_QUERIES)) AS CREDITS_QUERIES,
    SUM(CREDITS_USED_COMPUTE) - SUM(ZEROIFNULL(CREDITS_ATTRIBUTED_COMPUTE_QUERIES)) AS CREDITS_IDLE,
    DIV0(SUM(CREDITS_USED_COMPUTE) - SUM(ZEROIFNULL(CREDITS_ATTRIBUTED_COMPUTE_QUERIES)), SUM(CREDITS_USED_COMPUTE)) AS IDLE_SHARE,
    COUNT_IF(CREDITS_USED_COMPUTE > 0) AS RUNNING_HOURS,
    COUNT(DISTINCT TO_DATE(START_TIME)) AS DAYS_METERED
FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
WHERE START_TIME >= :start_time
  AND START_TIME < :end_time
GROUP BY WAREHOUSE_NAME
ORDER BY CREDITS_IDLE DESC, WAREHOUSE_NAME
