-- Each user's last read and last write of each object in a window, from ACCESS_HISTORY: the objects a
-- query named (DIRECT_OBJECTS_ACCESSED) and the tables under them (BASE_OBJECTS_ACCESSED) are reads, the
-- objects it changed (OBJECTS_MODIFIED) are writes.
-- Answers: which objects did each person read or write, and when last (usage evidence per grant)?
-- Units: timestamps in UTC (LAST_READ, LAST_WRITE: NULL when none in the window); QUERIES: queries that
-- touched the object. OBJECT_NAME is fully qualified (DB.SCHEMA.OBJECT) as ACCESS_HISTORY writes it.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY (Enterprise Edition; latency up to 3 hours; one year kept).
-- Binds: :since, :as_of (timestamps, UTC): the window [since, as_of).
WITH recent AS (
    SELECT QUERY_ID, QUERY_START_TIME, USER_NAME, DIRECT_OBJECTS_ACCESSED, BASE_OBJECTS_ACCESSED, OBJECTS_MODIFIED
    FROM SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY
    -- a plain range on QUERY_START_TIME (no function on the column), so Snowflake prunes the year of history
    WHERE QUERY_START_TIME >= :since
      AND QUERY_START_TIME < :as_of
), touched AS (
    SELECT r.USER_NAME, r.QUERY_ID, r.QUERY_START_TIME, d.value:objectName::VARCHAR AS OBJECT_NAME, 'read' AS ACCESS
    FROM recent r, LATERAL FLATTEN(input => r.DIRECT_OBJECTS_ACCESSED) d
    UNION ALL
    SELECT r.USER_NAME, r.QUERY_ID, r.QUERY_START_TIME, b.value:objectName::VARCHAR AS OBJECT_NAME, 'read' AS ACCESS
    FROM recent r, LATERAL FLATTEN(input => r.BASE_OBJECTS_ACCESSED) b
    UNION ALL
    SELECT r.USER_NAME, r.QUERY_ID, r.QUERY_START_TIME, m.value:objectName::VARCHAR AS OBJECT_NAME, 'write' AS ACCESS
    FROM recent r, LATERAL FLATTEN(input => r.OBJECTS_MODIFIED) m
)
SELECT
    USER_NAME,
    UPPER(OBJECT_NAME) AS OBJECT_NAME,
    MAX(CASE WHEN ACCESS = 'read' THEN QUERY_START_TIME END) AS LAST_READ,
    MAX(CASE WHEN ACCESS = 'write' THEN QUERY_START_TIME END) AS LAST_WRITE,
    COUNT(DISTINCT QUERY_ID) AS QUERIES
FROM touched
WHERE OBJECT_NAME IS NOT NULL
GROUP BY USER_NAME, UPPER(OBJECT_NAME)
ORDER BY USER_NAME, OBJECT_NAME
