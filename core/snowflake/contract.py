"""The contract of the real views: every SNOWFLAKE.ACCOUNT_USAGE view SnowTower reads, with each column's
Snowflake type, whether it can be NULL, the view's documented latency and the documentation page it
comes from. One place: the demo's stand-in creates its tables from it (core/snowflake/demo_planted.py, _table), and a
test fails when a SQL file in sql/ reads a column the contract lacks (tests/test_view_contract.py).

Types are Snowflake's as the view pages list them (TEXT is written VARCHAR). `nullable` is False only
for columns the page describes as always set (identifiers, names, the hour of a metering row); a column
the page says is NULL in some case (DELETED_ON of a live object, CREDITS_ATTRIBUTED_COMPUTE_QUERIES of
the newest hours) is nullable, and so is every column the page says nothing about.

What the connector returns, and so what the SQL must handle (the stand-in copies it):
- VARIANT columns come back as JSON text ("false", "123"): cast them in SQL (`::BOOLEAN`, `::NUMBER`),
  never in pandas (`astype(bool)` of the text "false" is True).
- TIMESTAMP_LTZ values are shown in the session's TIMEZONE (the account default is America/Los_Angeles;
  https://docs.snowflake.com/en/sql-reference/parameters#timezone), and TO_DATE takes the session's day:
  every SnowTower session sets TIMEZONE = 'UTC' (core/snowflake/queries.py, SESSION_SETUP).
- NUMBER with a scale (credits, bytes averages) arrives as float64 in fetch_pandas_all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DOCS = "https://docs.snowflake.com/en/sql-reference/account-usage/"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Snowflake's type: VARCHAR, NUMBER, NUMBER(38,9), FLOAT, BOOLEAN, VARIANT, ARRAY, DATE, TIMESTAMP_LTZ
    nullable: bool = True


@dataclass(frozen=True)
class View:
    name: str
    url: str  # the documentation page the columns and latency come from
    latency_minutes: int  # the view's documented latency ("may be up to ...")
    columns: tuple[Column, ...]
    notes: str = ""  # column latencies and documented NULLs that differ from the view's

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name.upper()), None)


def _cols(spec: str) -> tuple[Column, ...]:
    """'NAME TYPE [NOT NULL], ...' -> Columns."""
    out = []
    for part in re.split(r",\s*(?=[A-Z_]+\s)", spec):
        words = part.split()
        out.append(Column(words[0], words[1], nullable="NOT" not in words[2:]))
    return tuple(out)


_CREDITS = "NUMBER(38,9)"

VIEWS: dict[str, View] = {v.name: v for v in (
    View("USERS", DOCS + "users", 120, _cols(
        "USER_ID NUMBER NOT NULL, NAME VARCHAR NOT NULL, CREATED_ON TIMESTAMP_LTZ NOT NULL, DELETED_ON TIMESTAMP_LTZ, "
        "LOGIN_NAME VARCHAR, DISPLAY_NAME VARCHAR, FIRST_NAME VARCHAR, LAST_NAME VARCHAR, EMAIL VARCHAR, "
        "MUST_CHANGE_PASSWORD BOOLEAN, HAS_PASSWORD BOOLEAN, COMMENT VARCHAR, DISABLED VARIANT, SNOWFLAKE_LOCK VARIANT, "
        "DEFAULT_WAREHOUSE VARCHAR, DEFAULT_NAMESPACE VARCHAR, DEFAULT_ROLE VARCHAR, EXT_AUTHN_DUO VARIANT, "
        "EXT_AUTHN_UID VARCHAR, BYPASS_MFA_UNTIL TIMESTAMP_LTZ, LAST_SUCCESS_LOGIN TIMESTAMP_LTZ, EXPIRES_AT TIMESTAMP_LTZ, "
        "LOCKED_UNTIL_TIME TIMESTAMP_LTZ, HAS_RSA_PUBLIC_KEY BOOLEAN, PASSWORD_LAST_SET_TIME TIMESTAMP_LTZ, OWNER VARCHAR, "
        "DEFAULT_SECONDARY_ROLE VARCHAR, TYPE VARCHAR, HAS_MFA BOOLEAN"),
        "DISABLED, SNOWFLAKE_LOCK and EXT_AUTHN_DUO are VARIANT (JSON text through the connector). TYPE is NULL for "
        "users created before types (treated as PERSON); it is PERSON, SERVICE, LEGACY_SERVICE or SNOWFLAKE_SERVICE. "
        "TYPE and HAS_MFA need behaviour change bundle 2024_06."),
    View("ROLES", DOCS + "roles", 120, _cols(
        "ROLE_ID NUMBER NOT NULL, CREATED_ON TIMESTAMP_LTZ NOT NULL, DELETED_ON TIMESTAMP_LTZ, NAME VARCHAR NOT NULL, "
        "COMMENT VARCHAR, OWNER VARCHAR, ROLE_TYPE VARCHAR"),
        "No question reads it yet; the stand-in keeps the account's roles in it."),
    View("GRANTS_TO_USERS", DOCS + "grants_to_users", 120, _cols(
        "CREATED_ON TIMESTAMP_LTZ NOT NULL, DELETED_ON TIMESTAMP_LTZ, ROLE VARCHAR NOT NULL, GRANTED_TO VARCHAR NOT NULL, "
        "GRANTEE_NAME VARCHAR NOT NULL, GRANTED_BY VARCHAR"),
        "Roles granted straight to a user only (not the roles those roles inherit)."),
    View("GRANTS_TO_ROLES", DOCS + "grants_to_roles", 120, _cols(
        "CREATED_ON TIMESTAMP_LTZ NOT NULL, MODIFIED_ON TIMESTAMP_LTZ, PRIVILEGE VARCHAR NOT NULL, GRANTED_ON VARCHAR NOT NULL, "
        "NAME VARCHAR NOT NULL, TABLE_CATALOG VARCHAR, TABLE_SCHEMA VARCHAR, GRANTED_TO VARCHAR NOT NULL, "
        "GRANTEE_NAME VARCHAR NOT NULL, GRANT_OPTION BOOLEAN, GRANTED_BY VARCHAR, DELETED_ON TIMESTAMP_LTZ")),
    View("LOGIN_HISTORY", DOCS + "login_history", 120, _cols(
        "EVENT_ID NUMBER NOT NULL, EVENT_TIMESTAMP TIMESTAMP_LTZ NOT NULL, EVENT_TYPE VARCHAR, USER_NAME VARCHAR, "
        "CLIENT_IP VARCHAR, REPORTED_CLIENT_TYPE VARCHAR, REPORTED_CLIENT_VERSION VARCHAR, FIRST_AUTHENTICATION_FACTOR VARCHAR, "
        "SECOND_AUTHENTICATION_FACTOR VARCHAR, IS_SUCCESS VARCHAR NOT NULL, ERROR_CODE NUMBER, ERROR_MESSAGE VARCHAR, "
        "RELATED_EVENT_ID NUMBER, CONNECTION VARCHAR"),
        "IS_SUCCESS is the text YES or NO. USER_NAME is as typed at the login: it may name no user."),
    View("QUERY_HISTORY", DOCS + "query_history", 45, _cols(
        "QUERY_ID VARCHAR NOT NULL, QUERY_TEXT VARCHAR, DATABASE_NAME VARCHAR, SCHEMA_NAME VARCHAR, QUERY_TYPE VARCHAR, "
        "USER_NAME VARCHAR, ROLE_NAME VARCHAR, WAREHOUSE_NAME VARCHAR, WAREHOUSE_SIZE VARCHAR, EXECUTION_STATUS VARCHAR, "
        "START_TIME TIMESTAMP_LTZ NOT NULL, END_TIME TIMESTAMP_LTZ, TOTAL_ELAPSED_TIME NUMBER, COMPILATION_TIME NUMBER, "
        "EXECUTION_TIME NUMBER, BYTES_SCANNED NUMBER, ROWS_PRODUCED NUMBER, CREDITS_USED_CLOUD_SERVICES FLOAT, QUERY_TAG VARCHAR, "
        "QUERY_HASH VARCHAR, QUERY_PARAMETERIZED_HASH VARCHAR, QUEUED_OVERLOAD_TIME NUMBER, "
        "BYTES_SPILLED_TO_LOCAL_STORAGE NUMBER, BYTES_SPILLED_TO_REMOTE_STORAGE NUMBER"),
        "Times in milliseconds. A year of rows: filter START_TIME by a plain range so the view is pruned. "
        "QUERY_PARAMETERIZED_HASH is the hash of the query text with its literals replaced by parameters: queries that "
        "differ only in literals (a date, an id) share it, QUERY_HASH only the exact text "
        "(https://docs.snowflake.com/en/user-guide/query-hash); both are NULL for queries before 2024. "
        "QUEUED_OVERLOAD_TIME is the time a query waited because the warehouse was busy; BYTES_SPILLED_TO_LOCAL_STORAGE "
        "/ _REMOTE_STORAGE the data that did not fit its memory (a sign of a warehouse too small)."),
    View("QUERY_ATTRIBUTION_HISTORY", DOCS + "query_attribution_history", 480, _cols(
        "QUERY_ID VARCHAR NOT NULL, PARENT_QUERY_ID VARCHAR, ROOT_QUERY_ID VARCHAR, WAREHOUSE_ID NUMBER, "
        "WAREHOUSE_NAME VARCHAR, QUERY_HASH VARCHAR, QUERY_PARAMETERIZED_HASH VARCHAR, QUERY_TAG VARCHAR, USER_NAME VARCHAR, "
        "START_TIME TIMESTAMP_LTZ NOT NULL, END_TIME TIMESTAMP_LTZ, CREDITS_ATTRIBUTED_COMPUTE FLOAT, "
        "CREDITS_USED_QUERY_ACCELERATION FLOAT"),
        "Latency up to 8 hours (later than WAREHOUSE_METERING_HISTORY). Idle time is not attributed; queries of about "
        "100 ms or less are left out. CREDITS_USED_QUERY_ACCELERATION is NULL when the query was not accelerated."),
    View("WAREHOUSE_METERING_HISTORY", DOCS + "warehouse_metering_history", 180, _cols(
        f"START_TIME TIMESTAMP_LTZ NOT NULL, END_TIME TIMESTAMP_LTZ NOT NULL, WAREHOUSE_ID NUMBER NOT NULL, "
        f"WAREHOUSE_NAME VARCHAR NOT NULL, CREDITS_USED {_CREDITS}, CREDITS_USED_COMPUTE {_CREDITS}, "
        f"CREDITS_USED_CLOUD_SERVICES {_CREDITS}, CREDITS_ATTRIBUTED_COMPUTE_QUERIES {_CREDITS}"),
        "CREDITS_USED ignores the daily cloud-services adjustment (billed credits: METERING_DAILY_HISTORY). "
        "CREDITS_ATTRIBUTED_COMPUTE_QUERIES lags up to 6 hours: NULL in the newest hours "
        "(https://docs.snowflake.com/en/release-notes/bcr-bundles/2024_08/bcr-1714)."),
    View("METERING_DAILY_HISTORY", DOCS + "metering_daily_history", 180, _cols(
        f"SERVICE_TYPE VARCHAR NOT NULL, USAGE_DATE DATE NOT NULL, CREDITS_USED_COMPUTE {_CREDITS}, "
        f"CREDITS_USED_CLOUD_SERVICES {_CREDITS}, CREDITS_USED {_CREDITS}, CREDITS_ADJUSTMENT_CLOUD_SERVICES {_CREDITS}, "
        f"CREDITS_BILLED {_CREDITS}"),
        "One row per service type and day (UTC). Cloud services are billed only above 10 % of the day's compute: "
        "CREDITS_ADJUSTMENT_CLOUD_SERVICES is that rebate (negative); CREDITS_BILLED is what the invoice counts. "
        "SERVICE_TYPE: WAREHOUSE_METERING, SNOWPARK_CONTAINER_SERVICES (compute pools), SERVERLESS_TASK, PIPE, "
        "AUTO_CLUSTERING, MATERIALIZED_VIEW, SEARCH_OPTIMIZATION, QUERY_ACCELERATION, ... (not all listed)."),
    View("DATABASE_STORAGE_USAGE_HISTORY", DOCS + "database_storage_usage_history", 180, _cols(
        "USAGE_DATE DATE NOT NULL, DATABASE_ID NUMBER NOT NULL, DATABASE_NAME VARCHAR NOT NULL, DELETED TIMESTAMP_LTZ, "
        "AVERAGE_DATABASE_BYTES FLOAT, AVERAGE_FAILSAFE_BYTES FLOAT, AVERAGE_HYBRID_TABLE_STORAGE_BYTES FLOAT"),
        "DELETED is when the database was dropped (NULL while it lives): its days before that were billed."),
    View("STORAGE_USAGE", DOCS + "storage_usage", 120, _cols(
        "USAGE_DATE DATE NOT NULL, STORAGE_BYTES NUMBER, STAGE_BYTES NUMBER, FAILSAFE_BYTES NUMBER, "
        "HYBRID_TABLE_STORAGE_BYTES NUMBER"),
        "The account's daily average bytes (database, stage, fail-safe): storage is billed per TB-month from these."),
    View("DATA_TRANSFER_HISTORY", DOCS + "data_transfer_history", 120, _cols(
        "START_TIME TIMESTAMP_LTZ NOT NULL, END_TIME TIMESTAMP_LTZ NOT NULL, SOURCE_CLOUD VARCHAR, SOURCE_REGION VARCHAR, "
        "TARGET_CLOUD VARCHAR, TARGET_REGION VARCHAR, BYTES_TRANSFERRED VARIANT, TRANSFER_TYPE VARCHAR"),
        "BYTES_TRANSFERRED is VARIANT (JSON text through the connector): cast it in SQL."),
    View("ACCESS_HISTORY", DOCS + "access_history", 180, _cols(
        "QUERY_ID VARCHAR NOT NULL, QUERY_START_TIME TIMESTAMP_LTZ NOT NULL, USER_NAME VARCHAR, "
        "DIRECT_OBJECTS_ACCESSED ARRAY, BASE_OBJECTS_ACCESSED ARRAY, OBJECTS_MODIFIED ARRAY, "
        "PARENT_QUERY_ID VARCHAR, ROOT_QUERY_ID VARCHAR"),
        "Enterprise Edition or higher; the last 365 days. The three object columns are ARRAYs of objects "
        "({objectDomain, objectName, objectId, columns}; objectName fully qualified, DB.SCHEMA.TABLE), JSON text "
        "through the connector: read them with LATERAL FLATTEN in SQL. Reads are in DIRECT_OBJECTS_ACCESSED (as "
        "named in the query) and BASE_OBJECTS_ACCESSED (the tables under views); writes in OBJECTS_MODIFIED. "
        "Filter QUERY_START_TIME by a plain range so the year is pruned."),
)}


def view(name: str) -> View:
    """The contract of `name` (upper case, without SNOWFLAKE.ACCOUNT_USAGE.); KeyError if SnowTower does not read it."""
    return VIEWS[name.upper()]


# Snowflake type -> the DuckDB type the stand-in stores it as (fakesnow serves DuckDB through the connector's API).
# VARIANT is stored as JSON, which fakesnow hands back as text, as the connector does.
_DUCK = {"VARCHAR": "VARCHAR", "NUMBER": "BIGINT", "FLOAT": "DOUBLE", "BOOLEAN": "BOOLEAN", "VARIANT": "JSON", "ARRAY": "JSON",
         "DATE": "DATE", "TIMESTAMP_LTZ": "TIMESTAMPTZ"}


def duck_type(snowflake_type: str) -> str:
    """The stand-in's DuckDB type for a contract type: NUMBER with a scale is DOUBLE (the connector's pandas
    result is float64 for it), TIMESTAMP_LTZ is TIMESTAMPTZ (shown in the session's time zone)."""
    if snowflake_type.startswith("NUMBER("):
        return "DOUBLE" if not snowflake_type.rstrip(")").endswith(",0") else "BIGINT"
    return _DUCK[snowflake_type]


def create_table_sql(name: str, schema: str = "ACCOUNT_USAGE") -> str:
    """CREATE TABLE for the stand-in's copy of view `name`, its columns in the contract's order."""
    v = view(name)
    cols = ", ".join(f"{c.name} {duck_type(c.type)}{'' if c.nullable else ' NOT NULL'}" for c in v.columns)
    return f"CREATE TABLE {schema}.{v.name} ({cols})"


# --- Snowflake's budgets: class methods and a system function, not views ----------------------------------------------
# Budgets are instances of the class SNOWFLAKE.CORE.BUDGET; the account budget is SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET
# (https://docs.snowflake.com/en/user-guide/budgets). They are read by CALLing a method or SELECTing a system function,
# so their SQL files are checked against these entries, not against the views above (tests/test_view_contract.py).
BUDGET_DOCS = "https://docs.snowflake.com/en/sql-reference/"


@dataclass(frozen=True)
class Routine:
    """A method or system function a SQL file calls: the statement it must contain, the documentation page, the
    columns of its answer (Snowflake's types), and how it fails."""
    statement: str  # the text the SQL file must contain (upper case)
    url: str
    columns: tuple[Column, ...]
    notes: str = ""


ROUTINES: dict[str, Routine] = {
    "budget_account_limit": Routine(
        "CALL SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET!GET_SPENDING_LIMIT()",
        BUDGET_DOCS + "classes/budget/methods/get_spending_limit", _cols("GET_SPENDING_LIMIT NUMBER"),
        "The account budget's monthly spending limit in credits; -1 when no limit is set. Needs an application role "
        "for the account budget (SNOWFLAKE.BUDGET_VIEWER or BUDGET_ADMIN; ACCOUNTADMIN has them): without one the "
        "call fails as for an object the role cannot see (\"does not exist or not authorized\"). The account budget "
        "must be activated (account_root_budget!ACTIVATE) before a limit can be set "
        "(https://docs.snowflake.com/en/sql-reference/classes/budget/methods/activate)."),
    "budget_instances": Routine(
        "SELECT SYSTEM$SHOW_BUDGETS_IN_ACCOUNT()",
        BUDGET_DOCS + "functions/system_show_budgets_in_account", _cols("BUDGETS VARCHAR"),
        "One row, one value: a JSON list of the custom budgets (instances of SNOWFLAKE.CORE.BUDGET) the role holds "
        "any privilege on, each {DATABASE, SCHEMA, NAME, ID, CREATED_ON (epoch ms, UTC), CURRENT_VERSION, COMMENT}; "
        "budgets the role cannot see are left out, not refused."),
    "budget_limit": Routine(
        "!GET_SPENDING_LIMIT()",
        BUDGET_DOCS + "classes/budget/methods/get_spending_limit", _cols("GET_SPENDING_LIMIT NUMBER"),
        "A custom budget's monthly spending limit in credits (-1: none). Needs any instance role of the budget "
        "(<budget>!VIEWER or !ADMIN) and USAGE on its database and schema."),
    "budget_linked_resources": Routine(
        "!GET_LINKED_RESOURCES()",
        BUDGET_DOCS + "classes/budget/methods/get_linked_resources", _cols(
            "RESOURCE_ID NUMBER, NAME VARCHAR, DOMAIN VARCHAR, SCHEMA_NAME VARCHAR, DATABASE_NAME VARCHAR"),
        "The objects added to a custom budget explicitly (not those added through a tag or by an app); DOMAIN is "
        "WAREHOUSE, DATABASE, SCHEMA, TABLE, ... Needs the budget's ADMIN instance role: its VIEWER role is refused."),
}


def routine(name: str) -> Routine:
    """The contract of the SQL file `name` that calls a method or system function; KeyError if it reads views."""
    return ROUTINES[name]
