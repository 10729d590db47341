-- Credits each warehouse used in the current day, week, month and year: the periods a resource
-- monitor's quota resets on (DAILY, WEEKLY, MONTHLY, YEARLY).
-- Answers: how much of its monitor's quota has each warehouse used so far?
-- Units: credits.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY.
-- Binds: :day_start, :week_start, :month_start, :year_start (the starts of the current periods)
-- and :end_time (exclusive), timestamps in UTC.
SELECT
    WAREHOUSE_NAME,
    SUM(IFF(START_TIME >= :day_start, CREDITS_USED, 0)) AS CREDITS_DAY,
    SUM(IFF(START_TIME >= :week_start, CREDITS_USED, 0)) AS CREDITS_WEEK,
    SUM(IFF(START_TIME >= :month_start, CREDITS_USED, 0)) AS CREDITS_MONTH,
    SUM(CREDITS_USED) AS CREDITS_YEAR
FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
WHERE START_TIME >= :year_start
  AND START_TIME < :end_time
GROUP BY WAREHOUSE_NAME
ORDER BY WAREHOUSE_NAME
