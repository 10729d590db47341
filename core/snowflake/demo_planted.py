"""What the demo account plants (see core.snowflake.demo): its 90 days (DAYS, ending on end_date, read the
next day at NOW_HOUR UTC with the views' documented lags), the workload of each example warehouse, the
planted facts (a cost spike, an idle-heavy warehouse, a dropped database, stale users, a service user with a
password, an ACCOUNTADMIN without MFA) and `Planted`, their record; and the SQL helpers the table builders
(demo_cost_views, demo_security_views) share: the seeded random macro, a view's table from the contract,
literals."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.snowflake import contract
from core.snowflake.projection import credits_per_hour


DAYS = 90
SEED = 20251129
# The workload each example warehouse runs; any other warehouse behaves like ad-hoc analysis.
PROFILES = {"LOADER_WH": "loader", "TRANSFORM_WH": "transform", "ANALYST_WH": "adhoc", "BI_WH": "bi",
            "DATA_SCIENCE_WH": "science"}
# The documented lags, as of the moment the demo account is read: the day after end_date at NOW_HOUR UTC.
# WAREHOUSE_METERING_HISTORY is filled 3 hours behind (hours before 06:00 of that day are there), its
# CREDITS_ATTRIBUTED_COMPUTE_QUERIES 6 hours behind (NULL from 03:00: bcr-1714), QUERY_ATTRIBUTION_HISTORY
# 8 hours behind (queries that started before 01:00), QUERY_HISTORY 45 minutes; that partial day is not
# complete, so windows end on end_date (contract.py holds each view's latency and its page).
NOW_HOUR = 9
METERING_LAG_HOURS, ATTRIBUTION_LAG_HOURS, QUERY_ATTRIBUTION_LAG_HOURS = 3, 6, 8
PARTIAL_HOURS = NOW_HOUR - METERING_LAG_HOURS
# Serverless and compute-pool credits per day (METERING_DAILY_HISTORY service types besides warehouses).
SERVERLESS = {"SERVERLESS_TASK": 1.2, "AUTO_CLUSTERING": 0.5, "SNOWPARK_CONTAINER_SERVICES": 1.44}
TRANSFER_GB_PER_DAY = 4.0
DROPPED_DATABASE, DROPPED_DAYS_AGO = "LEGACY_DWH", 20  # 200 GiB, dropped 20 days before end_date (storage keeps its billed days)  # replication to a second region, billed per TB transferred
IDLE_UTILISATION = 0.25  # share of the idle-heavy warehouse's compute that queries use
STALE_USERS = ("TLINDQVIST", "LMURPHY")  # no login for more than 90 days
PASSWORD_SERVICE_USER = "SVC_LOOKER"  # a service user that still logs in with a password
ADMIN_WITHOUT_MFA = "ADMIN"  # the account's first user: ACCOUNTADMIN, password, no MFA (not in SnowDDL)


@dataclass(frozen=True)
class Planted:
    """What the generator planted, for tests and the demo's README (all dates UTC)."""
    end_date: dt.date  # the last day with data
    spike_day: dt.date
    spike_warehouse: str
    idle_warehouse: str
    idle_running_hours: int  # hours the idle-heavy warehouse ran
    idle_credits: float  # its exact idle credits: running hours x rate x (1 - IDLE_UTILISATION)
    query_rows: int


def _rate(size: str | None) -> int:
    return credits_per_hour(size) or 1


def _pick(warehouses: list[dict], profile: str, fallback) -> str:
    for w in warehouses:
        if PROFILES.get(w["name"]) == profile:
            return w["name"]
    return max(warehouses, key=fallback)["name"]


def plant(shape: dict, end_date: dt.date, query_rows: int) -> Planted:
    """The planted facts for a config shape, computed from the calendar (not read from the data)."""
    whs = shape["warehouses"]
    spike = _pick(whs, "science", lambda w: _rate(w["size"]))
    idle = _pick(whs, "bi", lambda w: w["auto_suspend"])
    start = end_date - dt.timedelta(days=DAYS - 1)
    spike_day = end_date - dt.timedelta(days=12)
    weekdays = sum(1 for i in range(DAYS) if (start + dt.timedelta(days=i)).isoweekday() <= 5)
    hours = weekdays * 10  # 08:00-17:59 on weekdays
    rate = _rate(next(w["size"] for w in whs if w["name"] == idle))
    return Planted(end_date, spike_day, spike, idle, hours, hours * rate * (1 - IDLE_UTILISATION), query_rows)


# A deterministic uniform number in [0, 1) from two integers: three MINSTD steps over a mix of the
# inputs and the seed. Integer arithmetic only, so it does not depend on DuckDB's hash or version.
_MACROS = f"""
CREATE OR REPLACE TEMP MACRO _mix(a, b) AS
    ((CAST(a AS BIGINT) * 2654435761 + CAST(b AS BIGINT) * 40503 + {SEED}) % 2147483647 + 1);
CREATE OR REPLACE TEMP MACRO rnd(a, b) AS
    (((((_mix(a, b) * 48271) % 2147483647) * 48271 % 2147483647) * 16807 % 2147483647) / 2147483647.0);
"""
_TEMPLATES = [
    ("loader", "INSERT", "RAW", "SHOPIFY", "INSERT INTO RAW.SHOPIFY.ORDERS SELECT * FROM @RAW.SHOPIFY.FIVETRAN_STAGE"),
    ("loader", "MERGE", "RAW", "STRIPE", "MERGE INTO RAW.STRIPE.CHARGES t USING RAW.STRIPE.CHARGES_STAGING s ON t.ID = s.ID WHEN MATCHED THEN UPDATE SET *"),
    ("loader", "MERGE", "RAW", "HUBSPOT", "MERGE INTO RAW.HUBSPOT.CONTACTS t USING RAW.HUBSPOT.CONTACTS_STAGING s ON t.ID = s.ID WHEN MATCHED THEN UPDATE SET *"),
    ("loader", "SELECT", "RAW", "ZENDESK", "SELECT MAX(_FIVETRAN_SYNCED) FROM RAW.ZENDESK.TICKETS"),
    ("transform", "CREATE_TABLE_AS_SELECT", "ANALYTICS", "MARTS", "CREATE OR REPLACE TABLE ANALYTICS.MARTS.FCT_ORDERS AS SELECT o.*, c.SEGMENT FROM ANALYTICS.INTERMEDIATE.INT_ORDERS o JOIN ANALYTICS.MARTS.DIM_CUSTOMERS c USING (CUSTOMER_ID)"),
    ("transform", "MERGE", "ANALYTICS", "INTERMEDIATE", "MERGE INTO ANALYTICS.INTERMEDIATE.INT_ORDERS t USING ANALYTICS.STAGING.STG_SHOPIFY__ORDERS s ON t.ORDER_ID = s.ORDER_ID WHEN MATCHED THEN UPDATE SET *"),
    ("transform", "CREATE_VIEW", "ANALYTICS", "STAGING", "CREATE OR REPLACE VIEW ANALYTICS.STAGING.STG_STRIPE__CHARGES AS SELECT ID AS CHARGE_ID, AMOUNT / 100 AS AMOUNT FROM RAW.STRIPE.CHARGES"),
    ("transform", "SELECT", "ANALYTICS", "MARTS", "SELECT COUNT(*) FROM ANALYTICS.MARTS.FCT_ORDERS WHERE ORDER_ID IS NULL"),
    ("adhoc", "SELECT", "ANALYTICS", "MARTS", "SELECT DATE_TRUNC('week', ORDER_DATE), SUM(REVENUE) FROM ANALYTICS.MARTS.FCT_ORDERS GROUP BY 1 ORDER BY 1"),
    ("adhoc", "SELECT", "ANALYTICS", "MARKETING", "SELECT CAMPAIGN, SUM(SPEND) / NULLIF(SUM(CONVERSIONS), 0) AS CPA FROM ANALYTICS.MARKETING.CAMPAIGN_PERFORMANCE GROUP BY 1"),
    ("adhoc", "SELECT", "ANALYTICS", "FINANCE", "SELECT MONTH, SUM(NET_REVENUE) FROM ANALYTICS.FINANCE.REVENUE_MONTHLY WHERE MONTH >= '2025-01-01' GROUP BY 1"),
    ("adhoc", "SELECT", "ANALYTICS", "MARTS", "SELECT * FROM ANALYTICS.MARTS.DIM_CUSTOMERS WHERE LIFETIME_VALUE > {n} LIMIT 500"),
    ("bi", "SELECT", "ANALYTICS", "MARTS", "SELECT ORDER_DATE, CHANNEL, SUM(REVENUE) FROM ANALYTICS.MARTS.FCT_ORDERS WHERE ORDER_DATE >= DATEADD(day, -30, CURRENT_DATE) GROUP BY 1, 2"),
    ("bi", "SELECT", "ANALYTICS", "MARTS", "SELECT SEGMENT, COUNT(*) FROM ANALYTICS.MARTS.DIM_CUSTOMERS GROUP BY 1"),
    ("bi", "SELECT", "ANALYTICS", "FINANCE", "SELECT * FROM ANALYTICS.FINANCE.REVENUE_MONTHLY ORDER BY MONTH DESC LIMIT {n}"),
    ("science", "SELECT", "PROJ_CHURN", "FEATURES", "SELECT * FROM PROJ_CHURN.FEATURES.CUSTOMER_FEATURES SAMPLE (10)"),
    ("science", "CREATE_TABLE_AS_SELECT", "PROJ_CHURN", "TRAINING", "CREATE OR REPLACE TABLE PROJ_CHURN.TRAINING.TRAIN_SET AS SELECT f.*, l.CHURNED FROM PROJ_CHURN.FEATURES.CUSTOMER_FEATURES f JOIN PROJ_CHURN.FEATURES.LABELS l USING (CUSTOMER_ID)"),
    ("science", "CREATE_TABLE_AS_SELECT", "PROJ_CHURN", "SCORING", "CREATE OR REPLACE TABLE PROJ_CHURN.SCORING.SCORES AS SELECT CUSTOMER_ID, PROJ_CHURN.SCORING.PREDICT(*) AS P FROM PROJ_CHURN.FEATURES.CUSTOMER_FEATURES"),
]
_QUERY_DENSITY = {"loader": 6.0, "transform": 1.5, "adhoc": 1.0, "bi": 4.0, "science": 0.3}
# Running share of each hour per workload (before clamping to [0, 1]); r1 is a uniform number.
_RUNNING = """
CASE h.PROFILE
  WHEN 'loader' THEN 0.07 * (0.7 + 0.6 * r1)
  WHEN 'transform' THEN CASE WHEN h.HOD IN (2, 3) THEN 1.0
                             WHEN h.DOW <= 5 AND h.HOD BETWEEN 9 AND 17 THEN 0.15 * (0.5 + r1) ELSE 0 END
  WHEN 'bi' THEN CASE WHEN h.DOW <= 5 AND h.HOD BETWEEN 8 AND 17 THEN 1.0 ELSE 0 END
  WHEN 'science' THEN CASE WHEN h.DAY = DATE '{spike}' AND h.WAREHOUSE_NAME = '{spike_wh}' THEN 1.0
                           WHEN h.DOW <= 5 AND h.HOD BETWEEN 10 AND 16 THEN 0.12 * (0.3 + 1.4 * r1) ELSE 0 END
  ELSE CASE WHEN h.DOW <= 5 AND h.HOD BETWEEN 8 AND 17 THEN 0.16 * (0.4 + 1.2 * r1)
            WHEN h.DOW > 5 AND h.HOD BETWEEN 10 AND 13 THEN 0.03 * r1 ELSE 0 END
END"""


def _table(db, view: str) -> None:
    """Create the stand-in's copy of `view` from the contract (core/snowflake/contract.py): Snowflake's
    columns and types, VARIANT as JSON (text through fakesnow, as through the connector), TIMESTAMP_LTZ
    as TIMESTAMPTZ. Rows are then inserted BY NAME, so a generated column the contract lacks fails here."""
    db.execute(contract.create_table_sql(view))


def _sql_str(value) -> str:
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def _values(rows: list[tuple]) -> str:
    def lit(v):
        if v is None:
            return "NULL"
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, (int, float)):
            return repr(v)
        return _sql_str(v)
    return ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)


def _now_sql(p: Planted) -> str:
    """The moment the demo account is read (see NOW_HOUR), as a DuckDB timestamp literal."""
    return f"TIMESTAMP '{(p.end_date + dt.timedelta(days=1)).isoformat()} {NOW_HOUR:02d}:00:00'"
