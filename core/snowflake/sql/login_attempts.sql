-- Failed password sign-ins per UTC day, user name (as typed) and client address, with whether the name is a user.
-- Answers: which addresses fail against many logins (password spray), which names that are no user are
-- tried, which login succeeded right after a burst of failures?
-- Units: attempts (counts) per UTC day; FIRST_FAILURE, LAST_FAILURE, FIRST_SUCCESS_AFTER timestamps (UTC).
-- Source: SNOWFLAKE.ACCOUNT_USAGE.LOGIN_HISTORY, USERS (KNOWN_USER: the name is a user that is not dropped).
-- Failures of key pairs, SSO or OAuth (a rotated key, an expired token) are configuration, not guessing: only
-- password failures count (FIRST_AUTHENTICATION_FACTOR PASSWORD, or NULL when the name is no user).
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC.
WITH attempts AS (
    SELECT TO_DATE(EVENT_TIMESTAMP) AS DAY, USER_NAME, COALESCE(CLIENT_IP, 'UNKNOWN') AS CLIENT_IP,
           EVENT_TIMESTAMP, IS_SUCCESS, FIRST_AUTHENTICATION_FACTOR
    FROM SNOWFLAKE.ACCOUNT_USAGE.LOGIN_HISTORY
    WHERE EVENT_TIMESTAMP >= :start_time
      AND EVENT_TIMESTAMP < :end_time
), failed AS (
    SELECT DAY, USER_NAME, CLIENT_IP, COUNT(*) AS FAILURES, MIN(EVENT_TIMESTAMP) AS FIRST_FAILURE,
           MAX(EVENT_TIMESTAMP) AS LAST_FAILURE
    FROM attempts
    WHERE IS_SUCCESS <> 'YES' AND COALESCE(FIRST_AUTHENTICATION_FACTOR, 'PASSWORD') = 'PASSWORD'
    GROUP BY DAY, USER_NAME, CLIENT_IP
), users AS (
    SELECT DISTINCT NAME FROM SNOWFLAKE.ACCOUNT_USAGE.USERS WHERE DELETED_ON IS NULL
)
SELECT f.DAY, f.USER_NAME, f.CLIENT_IP, f.FAILURES, f.FIRST_FAILURE, f.LAST_FAILURE,
       (u.NAME IS NOT NULL) AS KNOWN_USER,
       (SELECT MIN(a.EVENT_TIMESTAMP) FROM attempts a
         WHERE a.USER_NAME = f.USER_NAME AND a.IS_SUCCESS = 'YES' AND a.EVENT_TIMESTAMP > f.LAST_FAILURE
           AND a.EVENT_TIMESTAMP <= DATEADD(hour, 24, f.LAST_FAILURE)) AS FIRST_SUCCESS_AFTER
FROM failed f
LEFT JOIN users u ON u.NAME = f.USER_NAME
ORDER BY f.DAY, f.USER_NAME, f.CLIENT_IP
