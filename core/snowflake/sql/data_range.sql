-- The first and last metering hour the account has.
-- Answers: which dates can the cost page show?
-- Units: timestamps (UTC).
-- Source: SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY.
-- Binds: none.
SELECT MIN(START_TIME) AS FIRST_HOUR, MAX(START_TIME) AS LAST_HOUR
FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
