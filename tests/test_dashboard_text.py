"""Text that comes from the account (user names, emails, comments, error messages in LOGIN_HISTORY) is
chosen by outsiders: on the security and infrastructure pages it shows, and downloads, as plain text."""
from __future__ import annotations

import csv
import io

import pandas as pd

from portal import widgets
from tests.test_security_page import page as security_page, workspace  # noqa: F401 (fixture)

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
            "\t=1+1", " =1+1", "\r=1"]


def test_downloaded_tables_open_as_text_in_a_spreadsheet():
    frame = pd.DataFrame({"USER_NAME": FORMULAS + ["JDOE"], "FAILURES": list(range(-1, len(FORMULAS))),
                          "ERROR_MESSAGE": ["INCORRECT_USERNAME_PASSWORD"] * len(FORMULAS) + [None]})
    rows = list(csv.DictReader(io.StringIO(widgets.csv_bytes(frame).decode(), newline="")))
    assert [r["USER_NAME"] for r in rows] == ["'" + f for f in FORMULAS] + ["JDOE"]
    assert [r["FAILURES"] for r in rows] == [str(n) for n in range(-1, len(FORMULAS))]  # numbers stay numbers
    assert rows[-1]["ERROR_MESSAGE"] == "" and rows[0]["ERROR_MESSAGE"] == "INCORRECT_USERNAME_PASSWORD"


def test_a_password_spray_draws_ten_names_and_keeps_the_totals():
    from portal import charts

    days = pd.date_range("2026-11-01", periods=3).date
    rows = [{"DAY": d, "USER_NAME": f"SPRAY{i:04d}", "REASON": "INCORRECT_USERNAME_PASSWORD", "FAILURES": 1, "CLIENT_IPS": 1}
            for d in days for i in range(2000)]
    rows += [{"DAY": days[0], "USER_NAME": "ADMIN", "REASON": "INCORRECT_USERNAME_PASSWORD", "FAILURES": 50, "CLIENT_IPS": 3}]
    failures = pd.DataFrame(rows)
    data = charts.login_failures(failures).data
    names = set(data["USER_NAME"])
    assert len(names) == 11 and "ADMIN" in names and "(1,991 other names)" in names
    assert data["FAILURES"].sum() == failures["FAILURES"].sum() == 6050
    assert len(data) <= 11 * len(days)


def test_admins_without_mfa_or_email_are_people_not_service_users(workspace, people):
    from core.snowflake import demo_planted

    at = security_page("security", people["admin"])
    assert not at.exception, at.exception
    assert "**People without MFA or email** (1)" in [m.value for m in at.markdown]
    holders, weak = [d.value for d in at.dataframe if list(d.value.columns) == ["NAME", "TYPE", "ADMIN_ROLES", "HAS_MFA", "EMAIL"]]
    assert sorted(holders["NAME"]) == sorted([demo_planted.ADMIN_WITHOUT_MFA, "SNOWDDL"])
    frame = weak
    assert list(frame["NAME"]) == [demo_planted.ADMIN_WITHOUT_MFA]  # SNOWDDL, a SERVICE user with ACCOUNTADMIN, is not listed


def test_only_admins_see_the_infrastructure_page(workspace, people):
    for who in ("requester", "approver"):
        at = security_page("infrastructure", people[who])
        assert [e.value for e in at.error] == ["The infrastructure page is for admins."]
        assert not at.metric and not at.button


HOSTILE_NAME = "EVE**bold** [click](https://evil.example) <img src=x onerror=alert(1)> :red[x] $x$"
HOSTILE_ERROR = "# Heading\n<script>alert(1)</script> [docs](javascript:alert(1)) @everyone"


def test_account_text_shows_as_typed_and_never_as_markdown(services, workspace, people):
    """An idle account user and a failed login whose name and error message are Markdown and HTML."""
    import duckdb

    from core.snowflake import demo_planted

    services.sync_demo_account(generate=True, query_rows=5000)
    db = duckdb.connect(str(services.workspace.account_dir / "SNOWFLAKE.db"))
    try:
        db.execute("INSERT INTO ACCOUNT_USAGE.USERS SELECT * REPLACE (? AS NAME, ? AS EMAIL, ? AS COMMENT, 9999 AS USER_ID) "
                   "FROM ACCOUNT_USAGE.USERS WHERE NAME = ?", [HOSTILE_NAME, HOSTILE_NAME, HOSTILE_ERROR, demo_planted.STALE_USERS[0]])
        db.execute("INSERT INTO ACCOUNT_USAGE.LOGIN_HISTORY SELECT * REPLACE (? AS USER_NAME, ? AS ERROR_MESSAGE, 999999 AS EVENT_ID) "
                   "FROM ACCOUNT_USAGE.LOGIN_HISTORY WHERE IS_SUCCESS = 'NO' LIMIT 1", [HOSTILE_NAME, HOSTILE_ERROR])
    finally:
        db.close()
    at = security_page("security", people["admin"])
    assert not at.exception, at.exception
    # the idle user outside the config: a finding as plain text, with no Fix button (no recipe acts on it)
    finding = [t.value for t in at.text if HOSTILE_NAME in t.value]
    assert finding == [f"STALE_USER · {HOSTILE_NAME}: {HOSTILE_NAME} last logged in "
                       f"{finding[0].split(' last logged in ')[1].split(' ')[0]} days ago and is still enabled."]
    fixes = [b for b in at.button if b.key and b.key.startswith("security.fix.") and not b.key.startswith("security.fix.unused.")]
    assert len(fixes) == 3  # as before: no new fix (the unused grants of access reviews have their own)
    # tables hold the text as typed
    failures = next(d.value for d in at.dataframe if "REASON" in d.value.columns)
    assert ((failures["USER_NAME"] == HOSTILE_NAME) & (failures["REASON"] == HOSTILE_ERROR)).any()
    assert HOSTILE_NAME in set(next(d.value for d in at.dataframe if "SCORE" in d.value.columns)["NAME"])
    # nothing that renders Markdown carries it
    rendered = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "success") for e in getattr(at, kind)]
    rendered += [e.label for e in at.expander] + [m.label for m in at.metric] + [b.label for b in at.button]
    for text in rendered:
        assert "](" not in text and "<img" not in text and "<script" not in text and "**bold**" not in text, text


def test_cli_cost_csv_opens_account_names_as_text(services, capsys):
    """Warehouse names come from the account's metering: `snowtower cost --format csv` neutralises them too."""
    import duckdb

    from portal.cli import main

    services.sync_demo_account(generate=True, query_rows=5000)
    evil = '=HYPERLINK("http://evil.example","x")'
    db = duckdb.connect(str(services.workspace.account_dir / "SNOWFLAKE.db"))
    try:
        db.execute("INSERT INTO ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY SELECT * REPLACE (? AS WAREHOUSE_NAME) "
                   "FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY WHERE WAREHOUSE_NAME = 'BI_WH'", [evil])
    finally:
        db.close()
    assert main(["cost", "--workspace", str(services.workspace.root), "--format", "csv", "--days", "7"]) == 0
    names = [row["warehouse"] for row in csv.DictReader(io.StringIO(capsys.readouterr().out, newline=""))]
    assert "'" + evil in names and evil not in names and "BI_WH" in names
