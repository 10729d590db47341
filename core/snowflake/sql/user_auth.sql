-- Every user of the account that is not dropped, with how it authenticates and its admin roles.
-- Answers: who logs in how (password, key pair, MFA), who is idle, who holds an admin role?
-- Units: days (DAYS_SINCE_LOGIN, PASSWORD_AGE_DAYS; NULL when never), booleans.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.USERS, GRANTS_TO_USERS (roles granted straight to the user).
-- DISABLED and EXT_AUTHN_DUO are VARIANT (the connector returns JSON text): cast here, never in pandas.
-- Binds: :as_of (timestamp, UTC) the moment the ages are counted to.
WITH admin AS (
    SELECT GRANTEE_NAME, LISTAGG(ROLE, ', ') WITHIN GROUP (ORDER BY ROLE) AS ADMIN_ROLES
    FROM SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_USERS
    WHERE DELETED_ON IS NULL
      AND ROLE IN ('ACCOUNTADMIN', 'ORGADMIN', 'SECURITYADMIN', 'SYSADMIN', 'USERADMIN')
    GROUP BY GRANTEE_NAME
)
SELECT
    u.NAME,
    COALESCE(u.TYPE, 'PERSON') AS TYPE,
    COALESCE(u.DISABLED::BOOLEAN, FALSE) AS DISABLED,
    COALESCE(u.HAS_PASSWORD, FALSE) AS HAS_PASSWORD,
    COALESCE(u.HAS_RSA_PUBLIC_KEY, FALSE) AS HAS_RSA_PUBLIC_KEY,
    COALESCE(u.HAS_MFA, FALSE) OR COALESCE(u.EXT_AUTHN_DUO::BOOLEAN, FALSE) AS HAS_MFA,
    u.EMAIL,
    u.DEFAULT_ROLE,
    u.CREATED_ON,
    u.LAST_SUCCESS_LOGIN,
    DATEDIFF('day', u.LAST_SUCCESS_LOGIN, :as_of) AS DAYS_SINCE_LOGIN,
    DATEDIFF('day', u.CREATED_ON, :as_of) AS DAYS_SINCE_CREATED,
    DATEDIFF('day', u.PASSWORD_LAST_SET_TIME, :as_of) AS PASSWORD_AGE_DAYS,
    COALESCE(a.ADMIN_ROLES, '') AS ADMIN_ROLES
FROM SNOWFLAKE.ACCOUNT_USAGE.USERS u
LEFT JOIN admin a ON a.GRANTEE_NAME = u.NAME
WHERE u.DELETED_ON IS NULL
ORDER BY u.NAME
