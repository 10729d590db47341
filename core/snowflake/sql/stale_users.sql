-- Users that are not disabled and have not logged in for :days days (never logged in: created that long
-- ago), with their type and their last query in that window.
-- Answers: who is proposed for offboarding, and which service users are still running queries?
-- Units: days (DAYS_IDLE), timestamps in UTC (LAST_SUCCESS_LOGIN, LAST_QUERY: NULL when none).
-- Source: SNOWFLAKE.ACCOUNT_USAGE.USERS, QUERY_HISTORY.
-- Binds: :as_of (timestamp, UTC) the moment idleness is counted to; :days (integer) the idle threshold;
-- :since (timestamp, UTC) = :as_of minus :days days, where the last-query search starts.
WITH last_query AS (
    SELECT USER_NAME, MAX(START_TIME) AS LAST_QUERY
    FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
    -- a plain range on START_TIME (no function on the column), so Snowflake prunes the year of history
    WHERE START_TIME >= :since
      AND START_TIME < :as_of
    GROUP BY USER_NAME
)
SELECT
    u.NAME,
    COALESCE(u.TYPE, 'PERSON') AS TYPE,
    u.LAST_SUCCESS_LOGIN,
    DATEDIFF('day', COALESCE(u.LAST_SUCCESS_LOGIN, u.CREATED_ON), :as_of) AS DAYS_IDLE,
    q.LAST_QUERY
FROM SNOWFLAKE.ACCOUNT_USAGE.USERS u
LEFT JOIN last_query q ON q.USER_NAME = u.NAME
WHERE u.DELETED_ON IS NULL
  AND NOT COALESCE(u.DISABLED::BOOLEAN, FALSE)  -- VARIANT: cast in SQL
  AND DATEDIFF('day', COALESCE(u.LAST_SUCCESS_LOGIN, u.CREATED_ON), :as_of) >= :days
ORDER BY u.NAME
