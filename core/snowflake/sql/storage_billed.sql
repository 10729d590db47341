-- The account's storage over a window of days in TB-months, as storage is billed: each day's average
-- bytes (database, stage, fail-safe, hybrid tables) counted as that day's share of its month.
-- Answers: what does storage cost over the window?
-- Units: TB (2^40 bytes) for AVERAGE_TB (mean over the days), TB-months for TB_MONTHS; DAYS is a count.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.STORAGE_USAGE (one row per UTC day).
-- Binds: :start_date (inclusive), :end_date (exclusive), dates.
SELECT
    COUNT(*) AS DAYS,
    AVG((ZEROIFNULL(STORAGE_BYTES) + ZEROIFNULL(STAGE_BYTES) + ZEROIFNULL(FAILSAFE_BYTES)
         + ZEROIFNULL(HYBRID_TABLE_STORAGE_BYTES)) / POWER(1024, 4)) AS AVERAGE_TB,
    SUM((ZEROIFNULL(STORAGE_BYTES) + ZEROIFNULL(STAGE_BYTES) + ZEROIFNULL(FAILSAFE_BYTES)
         + ZEROIFNULL(HYBRID_TABLE_STORAGE_BYTES)) / POWER(1024, 4) / DAY(LAST_DAY(USAGE_DATE))) AS TB_MONTHS
FROM SNOWFLAKE.ACCOUNT_USAGE.STORAGE_USAGE
WHERE USAGE_DATE >= :start_date
  AND USAGE_DATE < :end_date
