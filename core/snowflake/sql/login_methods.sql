-- Logins per user and authentication method over a window, successful and failed.
-- Answers: which methods do people and tools log in with, who logs in with a password and no second factor?
-- Units: logins (counts).
-- Source: SNOWFLAKE.ACCOUNT_USAGE.LOGIN_HISTORY.
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC.
SELECT
    USER_NAME,
    FIRST_AUTHENTICATION_FACTOR,
    COALESCE(SECOND_AUTHENTICATION_FACTOR, 'NONE') AS SECOND_AUTHENTICATION_FACTOR,
    COUNT_IF(IS_SUCCESS = 'YES') AS LOGINS,
    COUNT_IF(IS_SUCCESS <> 'YES') AS FAILURES,
    MAX(IFF(IS_SUCCESS = 'YES', EVENT_TIMESTAMP, NULL)) AS LAST_LOGIN
FROM SNOWFLAKE.ACCOUNT_USAGE.LOGIN_HISTORY
WHERE EVENT_TIMESTAMP >= :start_time
  AND EVENT_TIMESTAMP < :end_time
GROUP BY USER_NAME, FIRST_AUTHENTICATION_FACTOR, COALESCE(SECOND_AUTHENTICATION_FACTOR, 'NONE')
ORDER BY USER_NAME, FIRST_AUTHENTICATION_FACTOR
