"""The demo account's identity views: USERS, ROLES, GRANTS_TO_USERS, GRANTS_TO_ROLES and LOGIN_HISTORY for the
config's users (with the planted stale users, password service user and ACCOUNTADMIN without MFA), and
ACCESS_HISTORY from a plan of who used which object (PLANTED_USE). Each function takes the DuckDB connection
being built."""
from __future__ import annotations

import datetime as dt

from core.snowflake.demo_planted import (ADMIN_WITHOUT_MFA, DAYS, PASSWORD_SERVICE_USER, STALE_USERS, Planted, _sql_str,
                                         _table, _values)


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
    extra: list[dict] = [
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
