"""The contract of the real views (core/snowflake/contract.py): every SQL file reads only columns it lists,
the stand-in is built from it, and the stand-in returns what a real account's connector returns."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot.optimizer.qualify import qualify

from core.snowddl.config_loader import load_config
from core.snowflake import contract, demo
from core.snowflake.connect import STANDIN_FILE, open_standin
from core.snowflake.queries import Question, questions

ROOT = Path(__file__).resolve().parents[1]
END = dt.date(2026, 3, 29)
TYPES = {"VARCHAR", "NUMBER", "FLOAT", "BOOLEAN", "VARIANT", "ARRAY", "DATE", "TIMESTAMP_LTZ"}


def schema() -> dict:
    return {"SNOWFLAKE": {"ACCOUNT_USAGE": {v.name: {c.name: c.type for c in v.columns} for v in contract.VIEWS.values()}}}


def check(text: str) -> None:
    """Raises when the SQL reads a view or a column the contract lacks (sqlglot resolves every column)."""
    qualify(sqlglot.parse_one(text, read="snowflake"), schema=schema(), dialect="snowflake",
            validate_qualify_columns=True, identify=False)


@pytest.mark.parametrize("q", [q for q in questions() if q.name not in contract.ROUTINES], ids=lambda q: q.name)
def test_every_sql_file_reads_only_columns_of_the_contract(q: Question):
    check(q.text)
    views = {t.name.upper() for t in sqlglot.parse_one(q.text, read="snowflake").find_all(sqlglot.exp.Table)
             if (t.db or "").upper() == "ACCOUNT_USAGE"}
    assert views and views <= set(contract.VIEWS), q.name


def test_every_sql_file_that_calls_a_method_is_in_the_contract():
    """Budget methods and system functions are not views: each such file names its routine's statement, its
    documentation page and its answer's columns; a file that reads no view and is not listed fails."""
    for q in questions():
        body = "\n".join(line for line in q.text.splitlines() if not line.startswith("--")).upper()
        if q.name in contract.ROUTINES:
            r = contract.routine(q.name)
            assert r.statement in body, q.name
            assert r.url.startswith("https://docs.snowflake.com/en/sql-reference/") and r.columns, q.name
            assert "ACCOUNT_USAGE" not in body, q.name
        else:
            assert "SNOWFLAKE.ACCOUNT_USAGE." in body, q.name


@pytest.mark.parametrize("sql", [
    "SELECT u.NAME, u.PASSWORD_HASH FROM SNOWFLAKE.ACCOUNT_USAGE.USERS u",  # no such column
    "SELECT NAME FROM SNOWFLAKE.ACCOUNT_USAGE.USERS WHERE IS_DISABLED",
    "SELECT CREDITS FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY",
    "SELECT q.ROLE_NAME FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY q",  # ROLE_NAME is QUERY_HISTORY's
])
def test_a_column_the_contract_lacks_fails(sql):
    with pytest.raises(sqlglot.errors.OptimizeError):
        check(sql)


def test_every_view_names_its_page_latency_and_types():
    for v in contract.VIEWS.values():
        assert v.url.startswith("https://docs.snowflake.com/en/sql-reference/account-usage/"), v.name
        assert 45 <= v.latency_minutes <= 480 and v.columns, v.name
        assert all(c.type.split("(")[0] in TYPES for c in v.columns), v.name
        assert len({c.name for c in v.columns}) == len(v.columns), v.name
    users = contract.view("USERS")
    assert {c.name for c in users.columns if c.type == "VARIANT"} == {"DISABLED", "SNOWFLAKE_LOCK", "EXT_AUTHN_DUO"}
    assert contract.view("QUERY_ATTRIBUTION_HISTORY").latency_minutes > contract.view("WAREHOUSE_METERING_HISTORY").latency_minutes
    assert contract.view("DATA_TRANSFER_HISTORY").column("BYTES_TRANSFERRED").type == "VARIANT"


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contract")
    demo.generate(folder, load_config(ROOT / "snowddl"), END, 3000)
    return folder


def test_the_standin_is_built_from_the_contract(account):
    db = duckdb.connect(str(account / STANDIN_FILE), read_only=True)
    try:
        rows = db.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                          "WHERE table_schema = 'ACCOUNT_USAGE' ORDER BY table_name, ordinal_position").fetchall()
    finally:
        db.close()
    have: dict[str, list] = {}
    for table, column, kind in rows:
        have.setdefault(table, []).append((column, kind))
    assert set(have) == set(contract.VIEWS) == set(demo.VIEWS)
    for name, v in contract.VIEWS.items():
        assert have[name] == [(c.name, contract.duck_type(c.type).replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"))
                              for c in v.columns], name


def test_the_standin_answers_as_a_real_account_does(account):
    """VARIANT columns come back as JSON text, TIMESTAMP_LTZ in the session's zone (Los Angeles until a
    session sets UTC), and the newest hours have no attributed credits."""
    conn = open_standin(account)
    try:
        cur = conn.cursor()
        cur.execute("SELECT DISABLED, EXT_AUTHN_DUO, LAST_SUCCESS_LOGIN FROM SNOWFLAKE.ACCOUNT_USAGE.USERS WHERE NAME = 'ADMIN'")
        disabled, duo, login = cur.fetchall()[0]
        assert disabled == "false" and duo == "false"  # text: bool("false") would be True
        assert str(login.tzinfo) == "America/Los_Angeles"
        cur.execute("ALTER SESSION SET TIMEZONE = 'UTC'")
        cur.execute("SELECT LAST_SUCCESS_LOGIN FROM SNOWFLAKE.ACCOUNT_USAGE.USERS WHERE NAME = 'ADMIN'")
        assert cur.fetchall()[0][0].utcoffset() == dt.timedelta(0)
        cur.execute("SELECT COUNT(*) FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY "
                    "WHERE CREDITS_ATTRIBUTED_COMPUTE_QUERIES IS NULL")
        assert cur.fetchall()[0][0] > 0
        cur.execute("SELECT COUNT(*) FROM SNOWFLAKE.ACCOUNT_USAGE.LOGIN_HISTORY l JOIN SNOWFLAKE.ACCOUNT_USAGE.USERS u "
                    "ON u.NAME = l.USER_NAME WHERE COALESCE(u.TYPE, 'PERSON') = 'PERSON' "
                    "AND l.FIRST_AUTHENTICATION_FACTOR = 'RSA_KEYPAIR'")
        assert cur.fetchall()[0][0] == 0  # people sign in with SSO or a password, never a key pair
        cur.execute("SELECT GRANTEE_NAME FROM SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_ROLES WHERE NAME = 'SECURITYADMIN'")
        assert [r[0] for r in cur.fetchall()] == ["ACCOUNTADMIN"]  # the system role hierarchy is there
    finally:
        conn.close()
