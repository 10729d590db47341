"""The demo account's cost views, filled from the hours core.snowflake.demo generates: METERING_DAILY_HISTORY
and DATA_TRANSFER_HISTORY (billing), Snowflake's budgets as the stand-in's cursor serves them, QUERY_HISTORY and
QUERY_ATTRIBUTION_HISTORY (queries whose attributed credits add up to the metering), DATABASE_STORAGE_USAGE_HISTORY
and STORAGE_USAGE. Each function takes the DuckDB connection being built and the Planted record."""
from __future__ import annotations

import datetime as dt

from core.snowflake.demo_planted import (DAYS, DROPPED_DATABASE, DROPPED_DAYS_AGO, QUERY_ATTRIBUTION_LAG_HOURS, SERVERLESS,
                                         STALE_USERS, TRANSFER_GB_PER_DAY, Planted, _TEMPLATES, _now_sql, _sql_str, _table,
                                         _values)


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
    # (ID, DATABASE_NAME, SCHEMA_NAME, NAME, CREATED_ON, CURRENT_VERSION, COMMENT, SPENDING_LIMIT, VIEWER, ADMIN)
    rows: list[tuple[int, str, str, str, str, str, str | None, float, bool, bool]] = [
        (1, "SNOWFLAKE", "LOCAL", "ACCOUNT_ROOT_BUDGET", created, "1", None, max(100.0, round(account * 30, -2)), True, False)]
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


def _role_of(user: dict) -> str:
    return user["roles"][0] if user["roles"] else f"{user['name']}__U_ROLE"


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
