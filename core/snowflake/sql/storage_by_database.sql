-- Storage of each database per day: table data and fail-safe.
-- Answers: which databases grow, and how fast?
-- Units: GiB (2^30 bytes), daily averages as Snowflake bills them.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.DATABASE_STORAGE_USAGE_HISTORY (one row per database and day).
-- Binds: :start_date (inclusive), :end_date (exclusive), dates.
SELECT
    USAGE_DATE AS DAY,
    DATABASE_NAME,
    SUM(AVERAGE_DATABASE_BYTES) / POWER(1024, 3) AS DATABASE_GB,
    SUM(AVERAGE_FAILSAFE_BYTES) / POWER(1024, 3) AS FAILSAFE_GB,
    (SUM(AVERAGE_DATABASE_BYTES) + SUM(AVERAGE_FAILSAFE_BYTES)) / POWER(1024, 3) AS TOTAL_GB
FROM SNOWFLAKE.ACCOUNT_USAGE.DATABASE_STORAGE_USAGE_HISTORY
WHERE USAGE_DATE >= :start_date
  AND USAGE_DATE < :end_date
  -- a dropped database's days up to its drop were billed: keep them, leave out the days after
  AND (DELETED IS NULL OR USAGE_DATE <= TO_DATE(DELETED))
GROUP BY USAGE_DATE, DATABASE_NAME
ORDER BY DAY, DATABASE_NAME
