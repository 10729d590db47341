-- Failed logins per day, user name (as typed: it may name no user) and reason.
-- Answers: who fails to log in, why, and when (password guessing, a rotated key)?
-- Units: failed logins (counts) per UTC day.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.LOGIN_HISTORY.
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC.
SELECT
    TO_DATE(EVENT_TIMESTAMP) AS DAY,
    USER_NAME,
    COALESCE(ERROR_MESSAGE, 'UNKNOWN') AS REASON,
    COUNT(*) AS FAILURES,
    COUNT(DISTINCT CLIENT_IP) AS CLIENT_IPS
FROM SNOWFLAKE.ACCOUNT_USAGE.LOGIN_HISTORY
WHERE EVENT_TIMESTAMP >= :start_time
  AND EVENT_TIMESTAMP < :end_time
  AND IS_SUCCESS <> 'YES'
GROUP BY TO_DATE(EVENT_TIMESTAMP), USER_NAME, COALESCE(ERROR_MESSAGE, 'UNKNOWN')
ORDER BY DAY, USER_NAME, REASON
