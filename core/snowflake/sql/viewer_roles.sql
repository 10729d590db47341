-- Every role a Snowflake user (the SiS viewer) holds, inherited ones included, for the portal's role mapping.
-- Answers: which SnowTower roles (SNOWTOWER_ADMIN, or SnowDDL's SNOWTOWER_ADMIN__B_ROLE, ...) does this viewer hold now?
-- The roles granted to the user (GRANTS_TO_USERS), then every role granted to one of those, and so on
-- (GRANTS_TO_ROLES rows with GRANTED_ON = 'ROLE', PRIVILEGE = 'USAGE' and an account role as grantee: GRANTED_TO
-- 'ROLE', which the view's page now spells 'ACCOUNT ROLE', not a DATABASE_ROLE of the same name): SnowDDL grants
-- business roles to the user role <USER>__U_ROLE, which it grants to the user. Depth capped at 20 (Snowflake
-- refuses cycles in the role hierarchy; the cap bounds the walk whatever the data).
-- Units: none; one row per role.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_USERS and GRANTS_TO_ROLES (revoked grants have DELETED_ON set;
-- both views lag up to 2 hours).
-- Binds: :user_name (the viewer's user name, upper case).
WITH RECURSIVE held (ROLE, DEPTH) AS (
    SELECT ROLE, 0
    FROM SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_USERS
    WHERE DELETED_ON IS NULL
      AND UPPER(GRANTEE_NAME) = :user_name
    UNION ALL
    SELECT g.NAME, h.DEPTH + 1
    FROM SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_ROLES AS g
    JOIN held AS h ON g.GRANTEE_NAME = h.ROLE
    WHERE g.DELETED_ON IS NULL
      AND g.GRANTED_ON = 'ROLE'
      AND g.GRANTED_TO IN ('ROLE', 'ACCOUNT ROLE')
      AND g.PRIVILEGE = 'USAGE'
      AND h.DEPTH < 20
)
SELECT DISTINCT ROLE
FROM held
ORDER BY ROLE
