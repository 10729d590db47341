-- Billed credits per day, all service types together and warehouses alone.
-- Answers: what does a day cost as billed, for the month-end forecast?
-- Units: credits; DAY is the UTC day.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.METERING_DAILY_HISTORY.
-- Binds: :start_date (inclusive), :end_date (exclusive), dates.
SELECT
    USAGE_DATE AS DAY,
    SUM(CREDITS_BILLED) AS CREDITS,
    SUM(IFF(SERVICE_TYPE = 'WAREHOUSE_METERING', CREDITS_BILLED, 0)) AS WAREHOUSE_CREDITS
FROM SNOWFLAKE.ACCOUNT_USAGE.METERING_DAILY_HISTORY
WHERE USAGE_DATE >= :start_date
  AND USAGE_DATE < :end_date
GROUP BY USAGE_DATE
ORDER BY DAY
