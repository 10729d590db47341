-- Data transferred out of the account's region or cloud, per type and destination.
-- Answers: what does data transfer (egress, replication) add to the bill?
-- Units: TB (2^40 bytes). BYTES_TRANSFERRED is VARIANT (JSON text through the connector): cast here.
-- Source: SNOWFLAKE.ACCOUNT_USAGE.DATA_TRANSFER_HISTORY.
-- Binds: :start_time (inclusive), :end_time (exclusive), timestamps in UTC.
SELECT
    TRANSFER_TYPE,
    TARGET_CLOUD,
    TARGET_REGION,
    SUM(BYTES_TRANSFERRED::NUMBER) / POWER(1024, 4) AS TB
FROM SNOWFLAKE.ACCOUNT_USAGE.DATA_TRANSFER_HISTORY
WHERE START_TIME >= :start_time
  AND START_TIME < :end_time
GROUP BY TRANSFER_TYPE, TARGET_CLOUD, TARGET_REGION
ORDER BY TB DESC, TRANSFER_TYPE
