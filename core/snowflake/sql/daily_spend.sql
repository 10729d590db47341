-- Warehouse credits per day for the whole account, against the 28 days before it, with the
-- warehouse that used the most that day. A day is anomalous when it exceeds its trailing mean by
-- more than 3 standard deviations (and by at least 20%), once 7 earlier days exist.
-- Answers: which days cost far more than usual, and why (which warehouse)?
-- Units: credits; Z_SCORE in standard deviations.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY.
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC. Pass a start 28 days
-- before the first day to show so its baseline is complete.
WITH per_warehouse AS (
    SELECT TO_DATE(START_TIME) AS DAY, WAREHOUSE_NAME, SUM(CREDITS_USED) AS CREDITS
    FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
    WHERE START_TIME >= :start_time
      AND START_TIME < :end_time
    GROUP BY TO_DATE(START_TIME), WAREHOUSE_NAME
),
per_day AS (
    SELECT DAY, SUM(CREDITS) AS CREDITS, MAX_BY(WAREHOUSE_NAME, CREDITS) AS TOP_WAREHOUSE,
           MAX(CREDITS) AS TOP_WAREHOUSE_CREDITS
    FROM per_warehouse
    GROUP BY DAY
),
scored AS (
    SELECT
        DAY, CREDITS, TOP_WAREHOUSE, TOP_WAREHOUSE_CREDITS,
        AVG(CREDITS) OVER (ORDER BY DAY ROWS BETWEEN 28 PRECEDING AND 1 PRECEDING) AS BASELINE_CREDITS,
        STDDEV_SAMP(CREDITS) OVER (ORDER BY DAY ROWS BETWEEN 28 PRECEDING AND 1 PRECEDING) AS BASELINE_STDDEV,
        COUNT(*) OVER (ORDER BY DAY ROWS BETWEEN 28 PRECEDING AND 1 PRECEDING) AS BASELINE_DAYS
    FROM per_day
)
SELECT
    DAY, CREDITS, TOP_WAREHOUSE, TOP_WAREHOUSE_CREDITS, BASELINE_CREDITS, BASELINE_STDDEV,
    DIV0(CREDITS - BASELINE_CREDITS, BASELINE_STDDEV) AS Z_SCORE,
    BASELINE_DAYS >= 7
      AND CREDITS > BASELINE_CREDITS + 3 * BASELINE_STDDEV
      AND CREDITS > 1.2 * BASELINE_CREDITS AS IS_ANOMALY
FROM scored
ORDER BY DAY
