-- Each warehouse's totals over a window: credits, the compute spent on queries versus idle
-- (metered compute minus the compute Snowflake attributed to queries), and how long it ran.
-- Answers: which warehouses pay for doing nothing, and what does a warehouse cost today (the basis
-- of a change's cost projection)?
-- Units: credits; IDLE_SHARE is a fraction (0..1) of compute credits; RUNNING_HOURS counts the
-- metering hours with any compute (not hours of running: a warehouse up 4 minutes an hour counts each
-- hour; cost.py divides compute credits by the size's credits per hour for compute-equivalent hours); DAYS_METERED counts days with a metering row.
-- Idle counts only hours whose attribution is in (CREDITS_ATTRIBUTED_COMPUTE_QUERIES lags up to 6 hours
-- and is NULL before): their compute is CREDITS_NOT_YET_ATTRIBUTED, never idle.
-- CREDITS_USED is metered, not billed: it ignores the daily cloud-services adjustment (billed_by_service).
-- Source: SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY.
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC.
SELECT
    WAREHOUSE_NAME,
    SUM(CREDITS_USED) AS CREDITS_USED,
    SUM(CREDITS_USED_COMPUTE) AS CREDITS_COMPUTE,
    SUM(CREDITS_USED_CLOUD_SERVICES) AS CREDITS_CLOUD_SERVICES,
    SUM(ZEROIFNULL(CREDITS_ATTRIBUTED_COMPUTE_QUERIES)) AS CREDITS_QUERIES,
    SUM(IFF(CREDITS_ATTRIBUTED_COMPUTE_QUERIES IS NULL, 0, CREDITS_USED_COMPUTE - CREDITS_ATTRIBUTED_COMPUTE_QUERIES)) AS CREDITS_IDLE,
    SUM(IFF(CREDITS_ATTRIBUTED_COMPUTE_QUERIES IS NULL, CREDITS_USED_COMPUTE, 0)) AS CREDITS_NOT_YET_ATTRIBUTED,
    DIV0(SUM(IFF(CREDITS_ATTRIBUTED_COMPUTE_QUERIES IS NULL, 0, CREDITS_USED_COMPUTE - CREDITS_ATTRIBUTED_COMPUTE_QUERIES)),
         SUM(IFF(CREDITS_ATTRIBUTED_COMPUTE_QUERIES IS NULL, 0, CREDITS_USED_COMPUTE))) AS IDLE_SHARE,
    COUNT_IF(CREDITS_USED_COMPUTE > 0) AS RUNNING_HOURS,
    COUNT(DISTINCT TO_DATE(START_TIME)) AS DAYS_METERED
FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
WHERE START_TIME >= :start_time
  AND START_TIME < :end_time
GROUP BY WAREHOUSE_NAME
ORDER BY CREDITS_IDLE DESC, WAREHOUSE_NAME
