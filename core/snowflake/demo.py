"""The demo account: ACCOUNT_USAGE-shaped tables in a DuckDB file, generated from a SnowDDL config.

`generate(folder, config, end_date, query_rows)` writes `SNOWFLAKE.db` (database SNOWFLAKE, schema
ACCOUNT_USAGE) with 90 days that match the config's users, roles, warehouses, databases and resource
monitors. Everything is computed in DuckDB SQL from a seeded integer hash, so the same arguments give
the same rows on every machine. Planted on purpose (the cost and security pages must find them):

- weekday and hour patterns per workload (loader around the clock, dbt at night, people 08-18 UTC);
- a cost spike: the data-science warehouse runs flat out for a whole day (`Planted.spike_day`);
- an idle-heavy warehouse: the BI warehouse is kept awake 08:00-18:00 on weekdays by dashboard
  refreshes and only 25% of its compute goes to queries (`Planted.idle_credits` is the exact idle);
- storage growth (RAW grows fastest, PROJ_CHURN jumps when a training set lands);
- login failures (a password-guessing burst on ADMIN, key-pair failures after a rotation), two stale
  users, a service user logging in with a password, and an ACCOUNTADMIN holder without MFA.

`sync(folder, config, at)` makes a deployed config show up: new users appear in USERS (and their roles
in GRANTS_TO_USERS), removed users are marked deleted, a new warehouse starts metering. It is
idempotent and remembers the config it last applied, so a crash between the merge and the sync is
repaired by running it again (the portal does so on start).
"""
from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from core.snowddl.inventory import describe  # noqa: F401  (the one reader of a config's rows; callers use demo.describe too)
from core.snowflake import contract
from core.snowflake.connect import STANDIN_FILE, busy
from core.snowflake.projection import credits_per_hour
from core.snowflake.queries import QueryError

DAYS = 90
DEFAULT_QUERY_ROWS = 100_000
MAX_QUERY_ROWS = 50_000_000  # bounded before any work: 10,000,000 takes about a minute and 1 GB
SEED = 20251129
# The ACCOUNT_USAGE views the stand-in has; a file without one of them is damaged and made again.
VIEWS = tuple(sorted(contract.VIEWS))
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
_RUNNING = f"""
CASE h.PROFILE
  WHEN 'loader' THEN 0.07 * (0.7 + 0.6 * r1)
  WHEN 'transform' THEN CASE WHEN h.HOD IN (2, 3) THEN 1.0
                             WHEN h.DOW <= 5 AND h.HOD BETWEEN 9 AND 17 THEN 0.15 * (0.5 + r1) ELSE 0 END
  WHEN 'bi' THEN CASE WHEN h.DOW <= 5 AND h.HOD BETWEEN 8 AND 17 THEN 1.0 ELSE 0 END
  WHEN 'science' THEN CASE WHEN h.DAY = DATE '{{spike}}' AND h.WAREHOUSE_NAME = '{{spike_wh}}' THEN 1.0
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


def _role_of(user: dict) -> str:
    return user["roles"][0] if user["roles"] else f"{user['name']}__U_ROLE"


def generate(folder: str | Path, config, end_date: dt.date | None = None, query_rows: int = DEFAULT_QUERY_ROWS,
             config_sha: str = "") -> Planted:
    """Write `folder/SNOWFLAKE.db` for `config` (a LoadedConfig) with `query_rows` QUERY_HISTORY rows
    (at least one per running warehouse hour) over the 90 days ending on `end_date` (default: yesterday, UTC).

    The file is built under a temporary name and moved into place, so a crash leaves the old account
    (or none), never half of one. Raises ValueError for a row count outside 1 .. MAX_QUERY_ROWS, and
    QueryError when the folder or file cannot be written."""
    if not isinstance(query_rows, int) or not 1 <= query_rows <= MAX_QUERY_ROWS:
        raise ValueError(f"query rows must be between 1 and {MAX_QUERY_ROWS:,}")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QueryError(f"the demo account cannot be made in {folder}: {exc.strerror or exc}") from exc
    end_date = end_date or (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1))
    shape = describe(config)
    planted = plant(shape, end_date, query_rows)
    tmp = folder / (STANDIN_FILE + ".tmp")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    db = _open(tmp, read_only=False)
    try:
        db.execute("SET TimeZone = 'UTC'")
        _build(db, shape, planted)
        _set_meta(db, {"END_DATE": end_date.isoformat(), "QUERY_ROWS": str(query_rows), "SEED": str(SEED),
                       "CONFIG_SHA": config_sha, "SPIKE_DAY": planted.spike_day.isoformat(),
                       "SPIKE_WAREHOUSE": planted.spike_warehouse, "IDLE_WAREHOUSE": planted.idle_warehouse,
                       "IDLE_CREDITS": repr(planted.idle_credits)})
        db.execute("CHECKPOINT")
    finally:
        db.close()
    os.replace(tmp, folder / STANDIN_FILE)
    return planted


def _build(db, shape: dict, p: Planted) -> None:
    start = p.end_date - dt.timedelta(days=DAYS - 1)
    t0 = f"TIMESTAMP '{start.isoformat()} 00:00:00'"
    db.execute(_MACROS)
    db.execute("CREATE SCHEMA ACCOUNT_USAGE; CREATE SCHEMA SNOWTOWER_DEMO;")
    db.execute("CREATE TABLE SNOWTOWER_DEMO.META (KEY VARCHAR PRIMARY KEY, VALUE VARCHAR)")
    whs = shape["warehouses"]
    db.execute("CREATE TEMP TABLE wh (WAREHOUSE_ID INTEGER, WAREHOUSE_NAME VARCHAR, PROFILE VARCHAR, RATE DOUBLE, DENSITY DOUBLE)")
    if whs:
        db.execute("INSERT INTO wh VALUES " + _values([
            (i + 1, w["name"], PROFILES.get(w["name"], "adhoc"), float(_rate(w["size"])),
             _QUERY_DENSITY[PROFILES.get(w["name"], "adhoc")]) for i, w in enumerate(whs)]))
    # Every hour of the 90 days for every warehouse, with its running share and query utilisation.
    db.execute(f"""
        CREATE TEMP TABLE hours AS
        WITH grid AS (
            SELECT w.*, {t0} + n * INTERVAL 1 HOUR AS START_TIME, n AS HOUR_NO
            FROM wh w, range({DAYS * 24 + PARTIAL_HOURS}) t(n)
        ), h AS (
            SELECT g.*, CAST(START_TIME AS DATE) AS DAY, ISODOW(START_TIME) AS DOW, HOUR(START_TIME) AS HOD,
                   rnd(HOUR_NO, WAREHOUSE_ID) AS r1, rnd(HOUR_NO, WAREHOUSE_ID + 100) AS r2,
                   rnd(HOUR_NO, WAREHOUSE_ID + 200) AS r3
            FROM grid g
        )
        SELECT h.*, LEAST(1.0, {_RUNNING.format(spike=p.spike_day.isoformat(), spike_wh=p.spike_warehouse)}) AS RUNNING,
               CASE WHEN h.WAREHOUSE_NAME = '{p.idle_warehouse}' THEN {IDLE_UTILISATION}
                    WHEN h.DAY = DATE '{p.spike_day.isoformat()}' AND h.WAREHOUSE_NAME = '{p.spike_warehouse}' THEN 0.97
                    ELSE 0.85 + 0.1 * r2 END AS UTIL
        FROM h
    """)
    db.execute("DELETE FROM hours WHERE RUNNING <= 0")
    _table(db, 'WAREHOUSE_METERING_HISTORY')
    db.execute("""
        INSERT INTO ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY BY NAME
        SELECT START_TIME, START_TIME + INTERVAL 1 HOUR AS END_TIME, WAREHOUSE_ID, WAREHOUSE_NAME,
               RUNNING * RATE * (1 + 0.03 + 0.04 * r3) AS CREDITS_USED,
               RUNNING * RATE AS CREDITS_USED_COMPUTE,
               RUNNING * RATE * (0.03 + 0.04 * r3) AS CREDITS_USED_CLOUD_SERVICES,
               CASE WHEN START_TIME < {now} - INTERVAL {ATTRIBUTION_LAG_HOURS} HOUR THEN RUNNING * RATE * UTIL END
                   AS CREDITS_ATTRIBUTED_COMPUTE_QUERIES
        FROM hours ORDER BY START_TIME, WAREHOUSE_NAME
    """.format(now=_now_sql(p), ATTRIBUTION_LAG_HOURS=ATTRIBUTION_LAG_HOURS))
    _billing(db, p)
    _budgets(db, p)
    _queries(db, shape, p)
    _storage(db, shape, p, t0)
    _identity(db, shape, p)
    access_history(db, [u for u in PLANTED_USE if u[0] in {x["name"] for x in shape["users"]}], p.end_date)


# ACCESS_HISTORY (Enterprise Edition; one year kept: https://docs.snowflake.com/en/sql-reference/account-usage/access_history):
# who read or wrote which object, planted per (user, object) so every verdict of core.findings.usage shows up on
# the example config. (user, object DB.SCHEMA.NAME, read | write, days before end_date of the last use, every
# how many days back from there over the year; None: no use). Users not named here touch nothing.
#   used: SVC_FIVETRAN (LOADER), SVC_DBT (DBT_RUNNER), PRAMAN's DATA_ENGINEER (writes RAW), MOKAFOR, EVASQUEZ,
#         AKHAN, OBRENNAN, HCHO, NJENSEN, GADEYEMI;
#   unused: TLINDQVIST (last 125 days ago), DPRICE (100), LMURPHY (200), BFISCHER and SROSSI (none in the year);
#   overlapping: PRAMAN reads ANALYTICS.MARTS every day, which DATA_ENGINEER gives too, so it says nothing
#         about ANALYTICS_ENGINEER, whose only own scope (DEV_SANDBOX.DBT_DEV) he never touches: unused.
PLANTED_USE: tuple[tuple[str, str, str, int, int], ...] = (
    ("SVC_FIVETRAN", "RAW.SHOPIFY.ORDERS", "write", 0, 1),
    ("SVC_DBT", "RAW.STRIPE.CHARGES", "read", 0, 1),
    ("SVC_DBT", "ANALYTICS.MARTS.FCT_ORDERS", "write", 0, 1),
    ("SVC_LOOKER", "ANALYTICS.MARTS.FCT_ORDERS", "read", 0, 1),
    ("PRAMAN", "RAW.STRIPE.CHARGES", "write", 2, 2),
    ("PRAMAN", "ANALYTICS.MARTS.FCT_ORDERS", "read", 0, 1),
    ("MOKAFOR", "PROJ_CHURN.SCORING.CHURN_SCORES", "read", 3, 1),
    ("EVASQUEZ", "DEV_SANDBOX.DBT_DEV.FCT_ORDERS", "write", 1, 1),
    ("TLINDQVIST", "ANALYTICS.MARTS.FCT_ORDERS", "read", 125, 7),
    ("AKHAN", "PROJ_CHURN.TRAINING.TRAINING_SET", "write", 2, 3),
    ("OBRENNAN", "ANALYTICS.MARTS.FCT_ORDERS", "read", 0, 1),
    ("HCHO", "ANALYTICS.MARKETING.CAMPAIGN_PERFORMANCE", "read", 4, 2),
    ("NJENSEN", "ANALYTICS.MARTS.DIM_CUSTOMERS", "read", 10, 5),
    ("DPRICE", "ANALYTICS.MARTS.FCT_ORDERS", "read", 100, 10),
    ("GADEYEMI", "ANALYTICS.FINANCE.REVENUE_MONTHLY", "read", 1, 1),
    ("LMURPHY", "ANALYTICS.FINANCE.REVENUE_MONTHLY", "read", 200, 30),
)
ACCESS_DAYS = 365


def access_history(db, plan, end_date: dt.date, days: int = ACCESS_DAYS) -> int:
    """Create ACCESS_HISTORY and fill it from `plan` ((user, object, read|write, last days ago, every n days)):
    one query per planned day at 10:00 + a seeded minute, the object in DIRECT_OBJECTS_ACCESSED and
    BASE_OBJECTS_ACCESSED for a read, in OBJECTS_MODIFIED for a write (the columns are ARRAYs of
    {objectDomain, objectName, objectId, columns}, stored as JSON: text through fakesnow, as through the
    connector). Returns the rows written."""
    _table(db, "ACCESS_HISTORY")
    if not plan:
        return 0
    db.execute("CREATE OR REPLACE TEMP TABLE access_plan (PNO INTEGER, USER_NAME VARCHAR, OBJECT_NAME VARCHAR, "
               "ACCESS VARCHAR, LAST_AGO INTEGER, EVERY INTEGER)")
    db.executemany("INSERT INTO access_plan VALUES (?, ?, ?, ?, ?, ?)",
                   [(i, u, o, a, last, max(1, every)) for i, (u, o, a, last, every) in enumerate(plan)])
    end = f"TIMESTAMP '{end_date.isoformat()} 10:00:00'"
    db.execute(f"""
        INSERT INTO ACCOUNT_USAGE.ACCESS_HISTORY BY NAME
        WITH q AS (
            SELECT p.*, d AS AGO, {end} - d * INTERVAL 1 DAY + CAST(FLOOR(rnd(p.PNO, d) * 480) AS INTEGER) * INTERVAL 1 MINUTE AS T,
                   json_array(json_object('objectDomain', 'Table', 'objectName', p.OBJECT_NAME,
                                          'objectId', 1000 + p.PNO, 'columns', json_array())) AS OBJ
            FROM access_plan p, range(0, {days}) r(d)
            WHERE d >= p.LAST_AGO AND (d - p.LAST_AGO) % p.EVERY = 0
        )
        SELECT printf('01ac%04x-0000-%04x-0000-%012x', PNO % 65536, AGO, PNO * 1000 + AGO) AS QUERY_ID,
               T AS QUERY_START_TIME, USER_NAME,
               CASE WHEN ACCESS = 'read' THEN OBJ ELSE json_array() END AS DIRECT_OBJECTS_ACCESSED,
               CASE WHEN ACCESS = 'read' THEN OBJ ELSE json_array() END AS BASE_OBJECTS_ACCESSED,
               CASE WHEN ACCESS = 'write' THEN OBJ ELSE json_array() END AS OBJECTS_MODIFIED,
               NULL AS PARENT_QUERY_ID, NULL AS ROOT_QUERY_ID
        FROM q ORDER BY QUERY_START_TIME
    """)
    return db.execute("SELECT COUNT(*) FROM ACCOUNT_USAGE.ACCESS_HISTORY").fetchone()[0]


def _now_sql(p: Planted) -> str:
    """The moment the demo account is read (see NOW_HOUR), as a DuckDB timestamp literal."""
    return f"TIMESTAMP '{(p.end_date + dt.timedelta(days=1)).isoformat()} {NOW_HOUR:02d}:00:00'"


def _billing(db, p: Planted) -> None:
    """METERING_DAILY_HISTORY and DATA_TRANSFER_HISTORY. Warehouse cloud services are billed only above 10 %
    of the day's warehouse compute (https://docs.snowflake.com/en/sql-reference/account-usage/metering_daily_history,
    example): CREDITS_ADJUSTMENT_CLOUD_SERVICES takes back the rest, so CREDITS_BILLED is below CREDITS_USED.
    Serverless features and the app's compute pool bill their own service types, every complete day."""
    start = p.end_date - dt.timedelta(days=DAYS - 1)
    serverless = " UNION ALL ".join(
        f"SELECT '{k}' AS SERVICE_TYPE, {v} * (0.8 + 0.4 * rnd(d, {i + 500})) AS COMPUTE FROM range({DAYS}) t(d)"
        .replace("FROM range", f", DATE '{start.isoformat()}' + CAST(d AS INTEGER) AS USAGE_DATE FROM range")
        for i, (k, v) in enumerate(SERVERLESS.items()))
    _table(db, "METERING_DAILY_HISTORY")
    db.execute(f"""
        INSERT INTO ACCOUNT_USAGE.METERING_DAILY_HISTORY BY NAME
        WITH wh AS (
            SELECT CAST(START_TIME AS DATE) AS USAGE_DATE, SUM(CREDITS_USED_COMPUTE) AS COMPUTE,
                   SUM(CREDITS_USED_CLOUD_SERVICES) AS CLOUD
            FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY GROUP BY 1
        ), rows AS (
            SELECT 'WAREHOUSE_METERING' AS SERVICE_TYPE, USAGE_DATE, COMPUTE, CLOUD,
                   -LEAST(CLOUD, 0.1 * COMPUTE) AS ADJUSTMENT
            FROM wh
            UNION ALL
            SELECT SERVICE_TYPE, USAGE_DATE, COMPUTE, 0.0, 0.0 FROM ({serverless})
        )
        SELECT SERVICE_TYPE, USAGE_DATE, COMPUTE AS CREDITS_USED_COMPUTE, CLOUD AS CREDITS_USED_CLOUD_SERVICES,
               COMPUTE + CLOUD AS CREDITS_USED, ADJUSTMENT AS CREDITS_ADJUSTMENT_CLOUD_SERVICES,
               COMPUTE + CLOUD + ADJUSTMENT AS CREDITS_BILLED
        FROM rows ORDER BY USAGE_DATE, SERVICE_TYPE
    """)
    _table(db, "DATA_TRANSFER_HISTORY")
    db.execute(f"""
        INSERT INTO ACCOUNT_USAGE.DATA_TRANSFER_HISTORY BY NAME
        SELECT TIMESTAMP '{start.isoformat()} 01:00:00' + d * INTERVAL 1 DAY AS START_TIME,
               TIMESTAMP '{start.isoformat()} 02:00:00' + d * INTERVAL 1 DAY AS END_TIME,
               'AWS' AS SOURCE_CLOUD, 'us-east-1' AS SOURCE_REGION, 'AWS' AS TARGET_CLOUD, 'eu-west-1' AS TARGET_REGION,
               to_json(CAST({TRANSFER_GB_PER_DAY} * POWER(1024, 3) AS BIGINT)) AS BYTES_TRANSFERRED,
               'REPLICATION' AS TRANSFER_TYPE
        FROM range({DAYS}) t(d)
    """)


BUDGET_DATABASE, BUDGET_SCHEMA = "FINOPS", "BUDGETS"  # where the demo's custom budgets live


def _budgets(db, p: Planted) -> None:
    """Snowflake's budgets as the stand-in's cursor serves them (core/snowflake/connect.py, _StandInCursor): the
    account budget SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET, activated with a monthly spending limit in credits
    (https://docs.snowflake.com/en/user-guide/budgets: a limit per calendar month, UTC) of the account's billed
    credits of the last 28 days per day x 30, rounded to 100; the portal's role holds SNOWFLAKE.BUDGET_VIEWER
    (https://docs.snowflake.com/en/user-guide/budgets/monitor). Two custom budgets in FINOPS.BUDGETS: one on the
    data-science warehouse whose ADMIN instance role the portal holds (so what it monitors is readable), at 1.2 x that
    warehouse's credits of the last 28 days per day x 30, rounded to 10; one on the BI warehouse with its VIEWER
    instance role only (its limit is readable, what it monitors is not), at 1.0 x, rounded to 10."""
    schema = "SNOWTOWER_DEMO"
    db.execute(f"CREATE TABLE {schema}.BUDGETS (ID BIGINT PRIMARY KEY, DATABASE_NAME VARCHAR, SCHEMA_NAME VARCHAR, "
               "NAME VARCHAR, CREATED_ON TIMESTAMPTZ, CURRENT_VERSION VARCHAR, COMMENT VARCHAR, SPENDING_LIMIT DOUBLE, "
               "VIEWER BOOLEAN, ADMIN BOOLEAN)")
    db.execute(f"CREATE TABLE {schema}.BUDGET_RESOURCES (BUDGET_ID BIGINT, RESOURCE_ID BIGINT, NAME VARCHAR, "
               "DOMAIN VARCHAR, SCHEMA_NAME VARCHAR, DATABASE_NAME VARCHAR)")
    last = p.end_date - dt.timedelta(days=27)
    account = db.execute("SELECT SUM(CREDITS_BILLED) / 28 FROM ACCOUNT_USAGE.METERING_DAILY_HISTORY "
                         "WHERE USAGE_DATE BETWEEN ? AND ?", [last, p.end_date]).fetchone()[0] or 0.0

    def per_day(name: str) -> float:
        return db.execute("SELECT COALESCE(SUM(CREDITS_USED), 0) / 28 FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY "
                          "WHERE WAREHOUSE_NAME = ? AND CAST(START_TIME AS DATE) BETWEEN ? AND ?",
                          [name, last, p.end_date]).fetchone()[0]

    created = f"{(p.end_date - dt.timedelta(days=DAYS - 1)).isoformat()} 00:00:00+00"
    rows = [(1, "SNOWFLAKE", "LOCAL", "ACCOUNT_ROOT_BUDGET", created, "1", None, max(100.0, round(account * 30, -2)), True, False)]
    budgets = [(p.spike_warehouse, 1.2, True), (p.idle_warehouse, 1.0, False)]
    for i, (wh, factor, admin) in enumerate(dict.fromkeys(budgets), start=2):
        if any(r[3] == f"{wh}_BUDGET" for r in rows):
            continue
        rows.append((i, BUDGET_DATABASE, BUDGET_SCHEMA, f"{wh}_BUDGET", created, "1", f"Credits of {wh}",
                     max(10.0, round(per_day(wh) * 30 * factor, -1)), True, admin))
        wid = db.execute("SELECT MIN(WAREHOUSE_ID) FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY WHERE WAREHOUSE_NAME = ?",
                         [wh]).fetchone()[0]
        db.execute(f"INSERT INTO {schema}.BUDGET_RESOURCES VALUES (?, ?, ?, 'WAREHOUSE', NULL, NULL)", [i, wid, wh])
    db.executemany(f"INSERT INTO {schema}.BUDGETS VALUES (?, ?, ?, ?, CAST(? AS TIMESTAMPTZ), ?, ?, ?, ?, ?)", rows)


def _queries(db, shape: dict, p: Planted) -> None:
    """QUERY_HISTORY and QUERY_ATTRIBUTION_HISTORY: one query per running hour, the rest spread over the
    hours by attributed credits x the workload's query density; each hour's attributed credits are
    split over its queries by a heavy-tailed weight, so they add up to the metering exactly."""
    users = shape["users"]
    active = [u for u in users if not u["disabled"] and u["name"] not in STALE_USERS]  # stale users run nothing
    people = [u for u in active if u["type"] == "PERSON"] or users
    rows = []
    for w in shape["warehouses"]:
        mine = [u for u in active if u["warehouse"] == w["name"]] or people
        rows += [(w["name"], "day", i, u["name"], _role_of(u)) for i, u in enumerate(mine)]
        # the scheduled night runs (dbt at 02:00-03:59) are the warehouse's service users' own
        night = [u for u in mine if u["type"] == "SERVICE"] or mine
        rows += [(w["name"], "night", i, u["name"], _role_of(u)) for i, u in enumerate(night)]
    db.execute("CREATE TEMP TABLE wh_users (WAREHOUSE_NAME VARCHAR, POOL VARCHAR, IDX INTEGER, USER_NAME VARCHAR, ROLE_NAME VARCHAR)")
    if rows:
        db.execute("INSERT INTO wh_users VALUES " + _values(rows))
    db.execute("CREATE TEMP TABLE templates (PROFILE VARCHAR, IDX INTEGER, QUERY_TYPE VARCHAR, DATABASE_NAME VARCHAR, "
               "SCHEMA_NAME VARCHAR, QUERY_TEXT VARCHAR)")
    counters: dict[str, int] = {}
    trows = []
    for profile, qtype, dbn, schema, text in _TEMPLATES:
        trows.append((profile, counters.setdefault(profile, 0), qtype, dbn, schema, text))
        counters[profile] += 1
    db.execute("INSERT INTO templates VALUES " + _values(trows))
    db.execute("""
        CREATE TEMP TABLE hour_weights AS
        SELECT ROW_NUMBER() OVER (ORDER BY START_TIME, WAREHOUSE_NAME) AS HOUR_ID, *,
               SUM(RUNNING * RATE * UTIL * DENSITY) OVER (ORDER BY START_TIME, WAREHOUSE_NAME) AS CUM_HI
        FROM hours
    """)
    n_hours = db.execute("SELECT COUNT(*) FROM hour_weights").fetchone()[0]
    extra = max(0, p.query_rows - n_hours)
    total = db.execute("SELECT COALESCE(MAX(CUM_HI), 0) FROM hour_weights").fetchone()[0] or 1.0
    db.execute(f"""
        CREATE TEMP TABLE q0 AS
        WITH extra AS (
            SELECT {n_hours} + i AS QNO, rnd(i, 7) * {total} AS U FROM range({extra}) t(i)
        )
        SELECT HOUR_ID - 1 AS QNO, HOUR_ID FROM hour_weights
        UNION ALL
        SELECT e.QNO, hw.HOUR_ID FROM extra e ASOF JOIN hour_weights hw ON e.U <= hw.CUM_HI
    """)
    db.execute("""
        CREATE TEMP TABLE q1 AS
        SELECT q.QNO, h.*,
               CASE WHEN h.DAY = DATE '{spike}' AND h.WAREHOUSE_NAME = '{spike_wh}' AND q.QNO < {n_hours}
                    THEN 1e6 ELSE 1.0 / POWER(0.02 + rnd(q.QNO, 11), 1.3) END AS W,  -- the runaway job of the spike
               rnd(q.QNO, 13) AS RU, rnd(q.QNO, 17) AS RT, rnd(q.QNO, 19) AS RS, rnd(q.QNO, 23) AS RB
        FROM q0 q JOIN hour_weights h USING (HOUR_ID)
    """.format(spike=p.spike_day.isoformat(), spike_wh=p.spike_warehouse, n_hours=n_hours))
    db.execute("""
        CREATE TEMP TABLE q2 AS
        SELECT q.*, RUNNING * RATE * UTIL * W / SUM(W) OVER (PARTITION BY HOUR_ID) AS CREDITS
        FROM q1 q
    """)
    db.execute("""
        CREATE TEMP TABLE users_n AS SELECT WAREHOUSE_NAME, POOL, COUNT(*) AS N FROM wh_users GROUP BY 1, 2;
        CREATE TEMP TABLE templates_n AS SELECT PROFILE, COUNT(*) AS N FROM templates GROUP BY 1;
    """)
    db.execute("""
        CREATE TEMP TABLE q3 AS
        SELECT q.QNO, q.WAREHOUSE_ID, q.WAREHOUSE_NAME, q.RATE, q.CREDITS, q.PROFILE, q.HOD, q.DOW, q.DAY,
               q.START_TIME + CAST(FLOOR(q.RS * 3500) AS INTEGER) * INTERVAL 1 SECOND AS START_TIME,
               GREATEST(50, CAST(q.CREDITS / q.RATE * 3600000 AS BIGINT)) AS EXEC_MS,
               u.USER_NAME, u.ROLE_NAME, t.QUERY_TYPE, t.DATABASE_NAME, t.SCHEMA_NAME, t.IDX AS TEMPLATE_IDX,
               -- a literal that changes between runs ({n}): QUERY_HASH differs, QUERY_PARAMETERIZED_HASH is shared
               replace(t.QUERY_TEXT, '{n}', CAST(100 * (1 + q.QNO % 20) AS VARCHAR)) AS QUERY_TEXT, t.QUERY_TEXT AS TEMPLATE_TEXT,
               q.RB
        FROM q2 q
        JOIN users_n un ON un.WAREHOUSE_NAME = q.WAREHOUSE_NAME
             AND un.POOL = CASE WHEN q.PROFILE = 'transform' AND q.HOD IN (2, 3) THEN 'night' ELSE 'day' END
        JOIN wh_users u ON u.WAREHOUSE_NAME = q.WAREHOUSE_NAME AND u.POOL = un.POOL
             AND u.IDX = CAST(FLOOR(q.RU * un.N) AS INTEGER)
        JOIN templates_n tn ON tn.PROFILE = q.PROFILE
        JOIN templates t ON t.PROFILE = q.PROFILE AND t.IDX = CAST(FLOOR(q.RT * tn.N) AS INTEGER)
    """)
    sizes = {w["name"]: w["size"] for w in shape["warehouses"]}
    size_case = " ".join(f"WHEN {_sql_str(k)} THEN {_sql_str(v)}" for k, v in sizes.items()) or "WHEN '' THEN ''"
    qid = "printf('01bd%04x-0000-%04x-0000-%012x', QNO // 65536 % 65536, WAREHOUSE_ID, QNO)"
    _table(db, 'QUERY_HISTORY')
    db.execute(f"""
        INSERT INTO ACCOUNT_USAGE.QUERY_HISTORY BY NAME
        SELECT {qid} AS QUERY_ID, QUERY_TEXT, DATABASE_NAME, SCHEMA_NAME, QUERY_TYPE,
               USER_NAME, ROLE_NAME, WAREHOUSE_NAME, CASE WAREHOUSE_NAME {size_case} END AS WAREHOUSE_SIZE,
               'SUCCESS' AS EXECUTION_STATUS, START_TIME,
               START_TIME + (EXEC_MS + 40) * INTERVAL 1 MILLISECOND AS END_TIME,
               EXEC_MS + 40 AS TOTAL_ELAPSED_TIME, 40 AS COMPILATION_TIME, EXEC_MS AS EXECUTION_TIME,
               CAST(EXEC_MS * (2000 + RB * 60000) AS BIGINT) AS BYTES_SCANNED,
               CAST(RB * 100000 AS BIGINT) AS ROWS_PRODUCED,
               CREDITS * 0.05 AS CREDITS_USED_CLOUD_SERVICES, NULL::VARCHAR AS QUERY_TAG,
               md5(QUERY_TEXT) AS QUERY_HASH, md5(TEMPLATE_TEXT) AS QUERY_PARAMETERIZED_HASH,
               -- the nightly dbt run keeps its warehouse flat out: its queries wait in the queue; the data-science
               -- jobs that build tables spill (to remote storage on the spike day): those warehouses are not oversized
               CAST(CASE WHEN PROFILE = 'transform' AND HOD IN (2, 3) THEN EXEC_MS * (0.2 + 0.3 * RB) ELSE 0 END AS BIGINT)
                   AS QUEUED_OVERLOAD_TIME,
               CAST(CASE WHEN PROFILE = 'science' AND QUERY_TYPE = 'CREATE_TABLE_AS_SELECT'
                         THEN EXEC_MS * (2000 + RB * 60000) * 0.3 ELSE 0 END AS BIGINT) AS BYTES_SPILLED_TO_LOCAL_STORAGE,
               CAST(CASE WHEN PROFILE = 'science' AND DAY = DATE '{p.spike_day.isoformat()}'
                         THEN EXEC_MS * (2000 + RB * 60000) * 0.1 ELSE 0 END AS BIGINT) AS BYTES_SPILLED_TO_REMOTE_STORAGE
        FROM q3 ORDER BY START_TIME
    """)
    _table(db, 'QUERY_ATTRIBUTION_HISTORY')
    db.execute(f"""
        INSERT INTO ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY BY NAME
        SELECT {qid} AS QUERY_ID, NULL::VARCHAR AS PARENT_QUERY_ID, {qid} AS ROOT_QUERY_ID,
               WAREHOUSE_ID, WAREHOUSE_NAME, md5(QUERY_TEXT) AS QUERY_HASH, md5(TEMPLATE_TEXT) AS QUERY_PARAMETERIZED_HASH,
               NULL::VARCHAR AS QUERY_TAG, USER_NAME, START_TIME,
               START_TIME + (EXEC_MS + 40) * INTERVAL 1 MILLISECOND AS END_TIME,
               CREDITS AS CREDITS_ATTRIBUTED_COMPUTE, NULL::DOUBLE AS CREDITS_USED_QUERY_ACCELERATION
        FROM q3 WHERE START_TIME < {_now_sql(p)} - INTERVAL {QUERY_ATTRIBUTION_LAG_HOURS} HOUR ORDER BY START_TIME
    """)
    for t in ("q0", "q1", "q2", "q3"):
        db.execute(f"DROP TABLE {t}")


# Starting size (GiB) and daily growth of each example database; any other starts small.
_STORAGE = {"RAW": (800, 0.012), "ANALYTICS": (300, 0.005), "PROJ_CHURN": (40, 0.002), "DEV_SANDBOX": (25, 0.0)}


def _storage(db, shape: dict, p: Planted, t0: str) -> None:
    rows = [(i + 1, name, *_STORAGE.get(name, (5, 0.003))) for i, name in enumerate(shape["databases"])]
    db.execute("CREATE TEMP TABLE dbs (DATABASE_ID INTEGER, DATABASE_NAME VARCHAR, START_GB DOUBLE, GROWTH DOUBLE)")
    if rows:
        db.execute("INSERT INTO dbs VALUES " + _values(rows))
    jump = (p.end_date - dt.timedelta(days=30)).isoformat()
    dropped = p.end_date - dt.timedelta(days=DROPPED_DAYS_AGO)
    _table(db, 'DATABASE_STORAGE_USAGE_HISTORY')
    db.execute(f"""
        INSERT INTO ACCOUNT_USAGE.DATABASE_STORAGE_USAGE_HISTORY BY NAME
        SELECT CAST({t0} AS DATE) + CAST(n AS INTEGER) AS USAGE_DATE, DATABASE_ID, DATABASE_NAME, NULL::TIMESTAMP AS DELETED,
               CAST(POWER(1024, 3) * START_GB * POWER(1 + GROWTH, n) * (0.995 + 0.01 * rnd(n, DATABASE_ID + 300))
                    * CASE WHEN DATABASE_NAME = 'PROJ_CHURN' AND CAST({t0} AS DATE) + CAST(n AS INTEGER) >= DATE '{jump}' THEN 2.5 ELSE 1 END
                    AS BIGINT) AS AVERAGE_DATABASE_BYTES,
               CAST(POWER(1024, 3) * START_GB * (0.04 + 0.6 * GROWTH) AS BIGINT) AS AVERAGE_FAILSAFE_BYTES,
               0::BIGINT AS AVERAGE_HYBRID_TABLE_STORAGE_BYTES
        FROM dbs, range({DAYS}) t(n)
        UNION ALL  -- a database dropped DROPPED_DAYS_AGO days before end_date: its days until the drop were billed
        SELECT CAST({t0} AS DATE) + CAST(n AS INTEGER), 9999, '{DROPPED_DATABASE}',
               TIMESTAMP '{dropped.isoformat()} 15:30:00', CAST(POWER(1024, 3) * 200 AS BIGINT),
               CAST(POWER(1024, 3) * 10 AS BIGINT), 0::BIGINT
        FROM range({DAYS - DROPPED_DAYS_AGO}) t(n)
        ORDER BY USAGE_DATE, DATABASE_NAME
    """)
    _table(db, 'STORAGE_USAGE')
    db.execute("""
        INSERT INTO ACCOUNT_USAGE.STORAGE_USAGE BY NAME
        SELECT USAGE_DATE, SUM(AVERAGE_DATABASE_BYTES) AS STORAGE_BYTES, CAST(POWER(1024, 3) * 12 AS BIGINT) AS STAGE_BYTES,
               SUM(AVERAGE_FAILSAFE_BYTES) AS FAILSAFE_BYTES, 0::BIGINT AS HYBRID_TABLE_STORAGE_BYTES
        FROM ACCOUNT_USAGE.DATABASE_STORAGE_USAGE_HISTORY GROUP BY USAGE_DATE ORDER BY USAGE_DATE
    """)


SNOWDDL_OWNER = "SNOWDDL_ADMIN"  # owner of the users SnowDDL manages


def _user_row(uid: int, u: dict, created: dt.datetime, last_login: dt.datetime | None) -> tuple:
    return (uid, u["name"], created, None, u["name"], u.get("display_name") or u["name"], u.get("first_name"),
            u.get("last_name"), u.get("email"), False, bool(u.get("has_password")), None, bool(u.get("disabled")), False,
            u.get("warehouse") or None, None, f"{u['name']}__U_ROLE", False, None, None, last_login, None, None,
            bool(u.get("has_key")), created if u.get("has_password") else None, u.get("owner", SNOWDDL_OWNER), '["ALL"]',
            u["type"], bool(u.get("has_mfa")))


def _identity(db, shape: dict, p: Planted) -> None:
    """USERS, ROLES, GRANTS_TO_USERS, GRANTS_TO_ROLES and LOGIN_HISTORY."""
    end = dt.datetime.combine(p.end_date, dt.time(18, 0))
    born = end - dt.timedelta(days=400)
    users = [dict(u) for u in shape["users"]]
    for u in users:
        if u["name"] == PASSWORD_SERVICE_USER:
            u["has_password"] = True  # set by hand outside SnowDDL: the security page flags it
    extra = [
        {"name": ADMIN_WITHOUT_MFA, "type": "PERSON", "display_name": "Account administrator", "email": None,
         "has_password": True, "has_key": False, "has_mfa": False, "warehouse": None, "roles": [], "owner": "ACCOUNTADMIN",
         "disabled": False},
        {"name": "SNOWDDL", "type": "SERVICE", "display_name": "SNOWDDL", "email": None, "has_password": False,
         "has_key": True, "has_mfa": False, "warehouse": None, "roles": [], "owner": "ACCOUNTADMIN", "disabled": False},
    ]
    rows = []
    for i, u in enumerate(users + extra):
        stale = u["name"] in STALE_USERS
        last = end - dt.timedelta(days=120 + 7 * i) if stale else end - dt.timedelta(hours=3 + i)
        rows.append(_user_row(i + 1, u, born + dt.timedelta(days=i), None if u["disabled"] else last))
    _table(db, "USERS")
    db.execute("INSERT INTO ACCOUNT_USAGE.USERS VALUES " + _values([tuple(_ts(v) for v in r) for r in rows]))
    _table(db, "ROLES")
    roles = ["ACCOUNTADMIN", "SECURITYADMIN", "SYSADMIN", "USERADMIN", "PUBLIC", SNOWDDL_OWNER]
    roles += shape["business_roles"] + [f"{u['name']}__U_ROLE" for u in users]
    db.execute("INSERT INTO ACCOUNT_USAGE.ROLES VALUES " + _values(
        [(i + 1, _ts(born), None, r, None, "SECURITYADMIN" if "__" not in r else SNOWDDL_OWNER, "ROLE") for i, r in enumerate(roles)]))
    _table(db, "GRANTS_TO_USERS")
    grants = [(_ts(born), None, f"{u['name']}__U_ROLE", "USER", u["name"], SNOWDDL_OWNER) for u in users]
    grants += [(_ts(born), None, "ACCOUNTADMIN", "USER", ADMIN_WITHOUT_MFA, "ACCOUNTADMIN"),
               (_ts(born), None, "ACCOUNTADMIN", "USER", "SNOWDDL", "ACCOUNTADMIN")]
    db.execute("INSERT INTO ACCOUNT_USAGE.GRANTS_TO_USERS VALUES " + _values(grants))
    _table(db, "GRANTS_TO_ROLES")
    role_grants = [(_ts(born), _ts(born), "USAGE", "ROLE", r, None, None, "ROLE", f"{u['name']}__U_ROLE", False, SNOWDDL_OWNER, None)
                   for u in users for r in u["roles"]]
    # Every account has the system role hierarchy (https://docs.snowflake.com/en/user-guide/security-access-control-overview#system-defined-roles):
    # USERADMIN to SECURITYADMIN, SECURITYADMIN and SYSADMIN to ACCOUNTADMIN.
    role_grants += [(_ts(born), _ts(born), "USAGE", "ROLE", r, None, None, "ROLE", to, False, "ACCOUNTADMIN", None)
                    for r, to in (("USERADMIN", "SECURITYADMIN"), ("SECURITYADMIN", "ACCOUNTADMIN"), ("SYSADMIN", "ACCOUNTADMIN"))]
    if role_grants:
        db.execute("INSERT INTO ACCOUNT_USAGE.GRANTS_TO_ROLES VALUES " + _values(role_grants))
    _logins(db, users, p)


def _ts(v):
    return v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, dt.datetime) else v


def _logins(db, users: list[dict], p: Planted) -> None:
    start = p.end_date - dt.timedelta(days=DAYS - 1)
    rows = []
    for i, u in enumerate(users):
        if u["name"] in STALE_USERS or u["disabled"]:
            continue
        service = u["type"] == "SERVICE"
        # People sign in to Snowsight with SSO (SAML) or a password, never a key pair (keys are for drivers);
        # service users with their key pair, except the one planted with a password.
        factor = ("PASSWORD" if u["name"] == PASSWORD_SERVICE_USER or (not service and u.get("has_password"))
                  else "RSA_KEYPAIR" if service else "SAML2_ASSERTION")
        client = "JDBC_DRIVER" if u["name"] == PASSWORD_SERVICE_USER else ("PYTHON_DRIVER" if service else "SNOWFLAKE_UI")
        per_day = 12 if service else 1
        rows.append((i + 1, _sql_str(u["name"]), per_day, _sql_str(factor), _sql_str(client), "TRUE" if service else "FALSE"))
    db.execute("CREATE TEMP TABLE login_users (USER_NO INTEGER, USER_NAME VARCHAR, PER_DAY INTEGER, FACTOR VARCHAR, "
               "CLIENT VARCHAR, SERVICE BOOLEAN)")
    if rows:
        db.execute("INSERT INTO login_users VALUES " + ", ".join("(" + ", ".join(str(v) for v in r) + ")" for r in rows))
    rotation = (p.end_date - dt.timedelta(days=40)).isoformat()
    burst = (p.end_date - dt.timedelta(days=5)).isoformat()
    _table(db, 'LOGIN_HISTORY')
    db.execute(f"""
        INSERT INTO ACCOUNT_USAGE.LOGIN_HISTORY BY NAME
        WITH ok AS (
            SELECT DATE '{start.isoformat()}' + CAST(d AS INTEGER) AS DAY, l.*, k
            FROM login_users l, range({DAYS}) t(d), range(12) s(k)
            WHERE k < l.PER_DAY AND (l.SERVICE OR ISODOW(DATE '{start.isoformat()}' + CAST(d AS INTEGER)) <= 5)
        ), events AS (
            SELECT CAST(DAY AS TIMESTAMP) + (CASE WHEN SERVICE THEN k * 2 ELSE 8 END) * INTERVAL 1 HOUR
                       + CAST(FLOOR(rnd(USER_NO * 1000 + k, EXTRACT(doy FROM DAY)) * 3000) AS INTEGER) * INTERVAL 1 SECOND AS EVENT_TIMESTAMP,
                   USER_NAME, CLIENT AS REPORTED_CLIENT_TYPE, FACTOR AS FIRST_AUTHENTICATION_FACTOR,
                   NULL::VARCHAR AS SECOND_AUTHENTICATION_FACTOR, 'YES' AS IS_SUCCESS, NULL::INTEGER AS ERROR_CODE,
                   NULL::VARCHAR AS ERROR_MESSAGE, '10.20.' || (USER_NO % 250) || '.' || (k + 10) AS CLIENT_IP
            FROM ok
            UNION ALL  -- key-pair failures the morning after the dbt key was rotated
            SELECT TIMESTAMP '{rotation} 06:00:00' + k * INTERVAL 5 MINUTE, 'SVC_DBT', 'PYTHON_DRIVER', 'RSA_KEYPAIR', NULL,
                   'NO', 394304, 'JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH', '10.20.9.9'
            FROM range(8) t(k)
            UNION ALL  -- a password-guessing burst on the account's first user
            SELECT TIMESTAMP '{burst} 02:14:00' + k * INTERVAL 7 SECOND, '{ADMIN_WITHOUT_MFA}', 'SNOWFLAKE_UI', 'PASSWORD', NULL,
                   'NO', 390100, 'INCORRECT_USERNAME_PASSWORD', '203.0.113.' || (k % 5 + 10)
            FROM range(40) t(k)
            UNION ALL  -- its successful logins: a password and no second factor
            SELECT TIMESTAMP '{p.end_date.isoformat()} 09:00:00' - k * INTERVAL 6 DAY, '{ADMIN_WITHOUT_MFA}', 'SNOWFLAKE_UI',
                   'PASSWORD', NULL, 'YES', NULL, NULL, '198.51.100.7'
            FROM range(12) t(k)
            UNION ALL  -- attempts with a user name that does not exist
            SELECT TIMESTAMP '{burst} 02:20:00' + k * INTERVAL 11 SECOND, 'ROOT', 'SNOWFLAKE_UI', 'PASSWORD', NULL,
                   'NO', 390100, 'INCORRECT_USERNAME_PASSWORD', '203.0.113.20'
            FROM range(15) t(k)
        )
        SELECT ROW_NUMBER() OVER (ORDER BY EVENT_TIMESTAMP, USER_NAME) AS EVENT_ID, EVENT_TIMESTAMP, 'LOGIN' AS EVENT_TYPE,
               USER_NAME, CLIENT_IP, REPORTED_CLIENT_TYPE, '3.12.0' AS REPORTED_CLIENT_VERSION, FIRST_AUTHENTICATION_FACTOR,
               SECOND_AUTHENTICATION_FACTOR, IS_SUCCESS, ERROR_CODE, ERROR_MESSAGE, NULL::INTEGER AS RELATED_EVENT_ID,
               NULL::VARCHAR AS CONNECTION
        FROM events ORDER BY EVENT_TIMESTAMP
    """)


def _set_meta(db, values: dict[str, str]) -> None:
    for k, v in values.items():
        db.execute("INSERT OR REPLACE INTO SNOWTOWER_DEMO.META VALUES (?, ?)", [k, v])


def _open(path: Path, read_only: bool, wait_seconds: float = 5.0):
    """The DuckDB file, waiting up to `wait_seconds` while it is being written elsewhere (connect.busy);
    QueryError if it is still busy then, or cannot be opened."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not busy(exc) or time.monotonic() > deadline:
                raise QueryError(f"the demo account {path} cannot be opened: {exc}") from exc
            time.sleep(0.1)


def meta(folder: str | Path) -> dict[str, str]:
    """The generator's record (END_DATE, QUERY_ROWS, CONFIG_SHA, planted facts); {} if there is no account,
    or only a damaged file (not a demo account, or one missing a view of VIEWS), which the next generation replaces.
    Raises QueryError while another process holds the file."""
    path = Path(folder) / STANDIN_FILE
    if not path.is_file():
        return {}
    try:
        db = _open(path, read_only=True)
    except QueryError as exc:
        if busy(exc.__cause__ or exc):  # busy is not damaged: never made again for it
            raise
        return {}
    try:
        have = {r[0] for r in db.execute("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = 'ACCOUNT_USAGE'").fetchall()}
        if not set(VIEWS) <= have:
            return {}
        return dict(db.execute("SELECT KEY, VALUE FROM SNOWTOWER_DEMO.META").fetchall())
    except duckdb.Error:
        return {}
    finally:
        db.close()


def sync(folder: str | Path, config, config_sha: str, at: dt.datetime | None = None) -> list[str]:
    """Make the account match a deployed config (a LoadedConfig): new users appear in USERS with their
    role in GRANTS_TO_USERS, users gone from the config get DELETED_ON, users disabled in it get
    DISABLED, and a new warehouse meters the hour of `at` (default now, UTC) at a quarter of its rate.
    Idempotent; does nothing if `config_sha` was applied already.

    Returns what changed, one line each (e.g. "user NEW_PERSON added")."""
    folder = Path(folder)
    path = folder / STANDIN_FILE
    if not path.is_file() or config.snowddl is None:
        return []
    if config_sha and meta(folder).get("CONFIG_SHA") == config_sha:
        return []  # in step already: checked read-only, so readers in other processes are not locked out
    at = (at or dt.datetime.now(dt.timezone.utc)).replace(tzinfo=None, microsecond=0)
    shape = describe(config)
    done: list[str] = []
    db = _open(path, read_only=False)
    try:
        db.execute("SET TimeZone = 'UTC'")
        db.execute("BEGIN TRANSACTION")
        have = dict(db.execute("SELECT NAME, OWNER FROM ACCOUNT_USAGE.USERS WHERE DELETED_ON IS NULL").fetchall())
        next_id = db.execute("SELECT COALESCE(MAX(USER_ID), 0) + 1 FROM ACCOUNT_USAGE.USERS").fetchone()[0]
        wanted = {u["name"]: u for u in shape["users"]}
        for name, u in wanted.items():
            if name not in have:
                row = _user_row(next_id, u, at, None)  # names and email as merged from a request: binds, never SQL text
                db.execute(f"INSERT INTO ACCOUNT_USAGE.USERS VALUES ({', '.join('?' * len(row))})", list(row))
                db.execute("INSERT INTO ACCOUNT_USAGE.GRANTS_TO_USERS VALUES (?, NULL, ?, 'USER', ?, ?)",
                           [at, f"{name}__U_ROLE", name, SNOWDDL_OWNER])
                next_id += 1
                done.append(f"user {name} added")
            else:
                changed = db.execute("UPDATE ACCOUNT_USAGE.USERS SET DISABLED = to_json(?::BOOLEAN) WHERE NAME = ? AND DELETED_ON IS NULL "
                                     "AND DISABLED::BOOLEAN IS DISTINCT FROM ? RETURNING NAME", [u["disabled"], name, u["disabled"]]).fetchall()
                if changed:
                    done.append(f"user {name} {'disabled' if u['disabled'] else 'enabled'}")
        for name, owner in have.items():
            if name not in wanted and owner == SNOWDDL_OWNER:
                db.execute("UPDATE ACCOUNT_USAGE.USERS SET DELETED_ON = ? WHERE NAME = ? AND DELETED_ON IS NULL", [at, name])
                db.execute("UPDATE ACCOUNT_USAGE.GRANTS_TO_USERS SET DELETED_ON = ? WHERE GRANTEE_NAME = ? AND DELETED_ON IS NULL",
                           [at, name])
                done.append(f"user {name} dropped")
        metered = {r[0] for r in db.execute("SELECT DISTINCT WAREHOUSE_NAME FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY").fetchall()}
        next_wh = db.execute("SELECT COALESCE(MAX(WAREHOUSE_ID), 0) + 1 FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY").fetchone()[0]
        first = at.replace(minute=0, second=0)
        for w in shape["warehouses"]:
            if w["name"] in metered:
                continue
            rate = _rate(w["size"])
            hours = 1  # the deployment's hour only: later hours have not happened (and the view lags), so the
            # day stays incomplete and windows still end on the day before
            db.execute(f"""
                INSERT INTO ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
                SELECT ? + n * INTERVAL 1 HOUR, ? + (n + 1) * INTERVAL 1 HOUR, ?, ?,
                       0.25 * ? * 1.04, 0.25 * ?, 0.25 * ? * 0.04, 0.25 * ? * 0.85
                FROM range({hours}) t(n)
            """, [first, first, next_wh, w["name"], rate, rate, rate, rate])
            next_wh += 1
            done.append(f"warehouse {w['name']} metering from {first:%Y-%m-%d %H:00} UTC")
        _set_meta(db, {"CONFIG_SHA": config_sha})
        db.execute("COMMIT")
        db.execute("CHECKPOINT")
    except Exception as exc:
        try:
            db.execute("ROLLBACK")
        except duckdb.Error:  # the transaction never started
            pass
        if isinstance(exc, duckdb.Error):
            raise QueryError(f"the demo account {path} could not be updated: {exc}") from exc
        raise
    finally:
        db.close()
    return done
