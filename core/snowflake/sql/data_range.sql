-- The first and last metering hour the account has, and how far the views are filled.
-- Answers: which dates can the cost page show, and up to when are its figures complete?
-- Units: timestamps (UTC). FILLED_TO is the end of the newest metering hour (the view lags up to 3 hours);
-- ATTRIBUTED_TO the end of the newest hour whose CREDITS_ATTRIBUTED_COMPUTE_QUERIES is set (it lags up to
-- 6 hours and is NULL before). The last complete day is the day before FILLED_TO's day.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY.
-- Binds: none.
SELECT
    MIN(START_TIME) AS FIRST_HOUR,
    MAX(START_TIME) AS LAST_HOUR,
    MAX(END_TIME) AS FILLED_TO,
    MAX(IFF(CREDITS_ATTRIBUTED_COMPUTE_QUERIES IS NOT NULL, END_TIME, NULL)) AS ATTRIBUTED_TO
FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
