-- Billed credits per service type over a window of days: warehouses, serverless features, compute pools.
-- Answers: what did the account's compute cost, as the invoice counts it (cloud services net of the daily
-- adjustment: they are billed only above 10 % of the day's compute)?
-- Units: credits. CREDITS_BILLED = CREDITS_COMPUTE + CREDITS_CLOUD_SERVICES + CREDITS_ADJUSTMENT (negative).
-- Source: SNOWFLAKE.ACCOUNT_USAGE.METERING_DAILY_HISTORY (one row per service type and UTC day).
-- Binds: :start_date (inclusive), :end_date (exclusive), dates.
SELECT
    SERVICE_TYPE,
    SUM(CREDITS_USED_COMPUTE) AS CREDITS_COMPUTE,
    SUM(CREDITS_USED_CLOUD_SERVICES) AS CREDITS_CLOUD_SERVICES,
    SUM(CREDITS_ADJUSTMENT_CLOUD_SERVICES) AS CREDITS_ADJUSTMENT,
    SUM(CREDITS_BILLED) AS CREDITS_BILLED
FROM SNOWFLAKE.ACCOUNT_USAGE.METERING_DAILY_HISTORY
WHERE USAGE_DATE >= :start_date
  AND USAGE_DATE < :end_date
GROUP BY SERVICE_TYPE
ORDER BY CREDITS_BILLED DESC, SERVICE_TYPE
