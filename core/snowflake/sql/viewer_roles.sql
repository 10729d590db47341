-- The roles granted straight to one Snowflake user (the SiS viewer), for the portal's role mapping.
-- Answers: which SnowTower roles (SNOWTOWER_ADMIN, ...) does this viewer hold now?
-- Units: none; one row per role.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_USERS (revoked grants have DELETED_ON set; the view lags up to 2 hours).
-- Binds: :user_name (the viewer's user name, upper case).
SELECT DISTINCT ROLE
FROM SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_USERS
WHERE DELETED_ON IS NULL
  AND UPPER(GRANTEE_NAME) = :user_name
ORDER BY ROLE
