"""Snowflake's own budgets (core.snowflake.budgets): the account budget and custom budgets read as their documentation
pages describe, held against the month to date, sent as spend events, and a plain fallback when the account has no
limit or the role may not read them. The stand-in answers as a real account does (core/snowflake/connect.py)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from core.snowddl.config_loader import load_config
from core.snowflake import demo
from core.snowflake.budgets import read_budgets
from core.snowflake.connect import STANDIN_FILE, open_standin, standin_source
from core.snowflake.cost import Prices, budget_status
from core.snowflake.spend_alerts import spend_events
from core.snowflake.queries import QueryError, ask, ask_instance, quoted_name

ROOT = Path(__file__).resolve().parents[1]
END = dt.date(2026, 3, 29)
PRICES = Prices(2.0, {}, 23.0, 20.0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("budgets")
    demo.generate(folder, load_config(ROOT / "snowddl"), END, 3000)
    return folder


def expected(folder) -> dict:
    """The demo's planted limits, computed here from the stand-in's own views (demo_cost_views._budgets' rule)."""
    db = duckdb.connect(str(folder / STANDIN_FILE), read_only=True)
    try:
        first = END - dt.timedelta(days=27)
        account = db.execute("SELECT SUM(CREDITS_BILLED) / 28 FROM ACCOUNT_USAGE.METERING_DAILY_HISTORY "
                             "WHERE USAGE_DATE BETWEEN ? AND ?", [first, END]).fetchone()[0]
        ds = db.execute("SELECT SUM(CREDITS_USED) / 28 FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY "
                        "WHERE WAREHOUSE_NAME = 'DATA_SCIENCE_WH' AND CAST(START_TIME AS DATE) BETWEEN ? AND ?",
                        [first, END]).fetchone()[0]
    finally:
        db.close()
    return {"account": round(account * 30, -2), "DATA_SCIENCE_WH": round(ds * 30 * 1.2, -1)}


def change(folder, sql: str) -> None:
    db = duckdb.connect(str(folder / STANDIN_FILE))
    try:
        db.execute(sql)
    finally:
        db.close()


def test_the_demo_account_has_an_account_budget_and_two_custom_budgets(folder):
    b = read_budgets(standin_source(folder))
    want = expected(folder)
    assert b["account"] == {"name": "SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET", "limit_credits": want["account"], "note": None}
    names = [c["name"] for c in b["custom"]]
    assert names == ["FINOPS.BUDGETS.BI_WH_BUDGET", "FINOPS.BUDGETS.DATA_SCIENCE_WH_BUDGET"]
    bi, ds = b["custom"]
    assert ds["limit_credits"] == want["DATA_SCIENCE_WH"] and ds["warehouses"] == ["DATA_SCIENCE_WH"] and ds["note"] is None
    # its VIEWER instance role reads the limit; what it monitors needs ADMIN (GET_LINKED_RESOURCES' access control)
    assert bi["limit_credits"] > 0 and bi["warehouses"] is None and "ADMIN instance role" in bi["note"]


def test_the_month_is_held_against_snowflakes_limits(folder):
    src = standin_source(folder)
    status = budget_status(src, END, PRICES, 0.0, None, read_budgets(src))
    head = status["headline"]
    billed = ask(src, "billed_daily", start_date=END.replace(day=1), end_date=END + dt.timedelta(days=1))["CREDITS"].sum()
    assert head["source"] == "Snowflake: SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET"
    assert head["month_to_date_credits"] == pytest.approx(billed)
    assert head["used_share"] == pytest.approx(billed / expected(folder)["account"])
    ds = next(r for r in status["snowflake"] if r["source"].endswith("DATA_SCIENCE_WH_BUDGET"))
    metered = ask(src, "warehouse_usage", start_time=dt.datetime(2026, 3, 1), end_time=dt.datetime(2026, 3, 30))
    used = float(metered.set_index("WAREHOUSE_NAME")["CREDITS_USED"]["DATA_SCIENCE_WH"])
    assert ds["month_to_date_credits"] == pytest.approx(used) and ds["projected"] == pytest.approx(used / 29 * 31 * 2.0)
    bi = next(r for r in status["snowflake"] if r["source"].endswith("BI_WH_BUDGET"))
    assert bi["status"] == "Spend not readable" and bi["used_share"] is None


def test_budget_events_have_their_own_ids_and_say_credits(folder):
    src = standin_source(folder)
    b = read_budgets(src)
    b["account"]["limit_credits"] = 10.0  # far below the month: 80 % and 100 % crossed
    events = {e["id"]: e for e in spend_events(src, PRICES, snowflake=b, day=END)}
    assert {"cost.budget.2026-03.snowflake.ACCOUNT_ROOT_BUDGET.80", "cost.budget.2026-03.snowflake.ACCOUNT_ROOT_BUDGET.100"} <= set(events)
    assert events["cost.budget.2026-03.snowflake.ACCOUNT_ROOT_BUDGET.100"]["severity"] == "high"
    assert "of a spending limit of 10 credits, read from Snowflake" in events["cost.budget.2026-03.snowflake.ACCOUNT_ROOT_BUDGET.100"]["text"]
    assert not any("BI_WH_BUDGET" in i for i in events)  # its spend cannot be read: no event rather than a guess


def test_no_limit_and_no_privilege_fall_back_with_a_plain_reason(tmp_path):
    demo.generate(tmp_path, load_config(ROOT / "snowddl"), END, 3000)
    change(tmp_path, "UPDATE SNOWTOWER_DEMO.BUDGETS SET SPENDING_LIMIT = NULL WHERE NAME = 'ACCOUNT_ROOT_BUDGET'")
    src = standin_source(tmp_path)
    assert ask(src, "budget_account_limit").iloc[0, 0] == -1  # GET_SPENDING_LIMIT: -1 when no limit is set
    b = read_budgets(src)
    assert b["account"]["limit_credits"] is None and "has no spending limit" in b["account"]["note"]
    status = budget_status(src, END, PRICES, 1000.0, None, b)
    assert status["headline"]["source"] == "Setting: budget_monthly" and status["headline"]["budget"] == 1000.0
    change(tmp_path, "UPDATE SNOWTOWER_DEMO.BUDGETS SET VIEWER = false")
    with pytest.raises(QueryError, match="does not exist or not authorized"):
        ask(src, "budget_account_limit")
    b = read_budgets(src)
    assert b["custom"] == [] and b["custom_note"] is None  # a budget the role cannot see is left out, not refused
    assert "SNOWFLAKE.BUDGET_VIEWER" in b["account"]["note"] and "not authorized" in b["account"]["note"]
    status = budget_status(src, END, PRICES, 0.0, None, b)
    assert status["headline"] is None and status["snowflake"] == [] and status["notes"] == [b["account"]["note"]]


@pytest.mark.parametrize("parts", [("A", "B", 'X"; DROP TABLE T; --'), ("a b", "c.d", "e")])
def test_a_budget_name_from_the_account_is_quoted_never_read_as_sql(folder, parts):
    name = quoted_name(*parts)
    assert name.count('"') == 6 + 2 * sum(p.count('"') for p in parts)
    with pytest.raises(QueryError, match="does not exist or not authorized"):
        ask_instance(standin_source(folder), "budget_limit", parts)


@pytest.mark.parametrize("parts", [("", "S", "N"), ("D", "S", "x" * 256), ("D", "S", "a\x00b")])
def test_a_name_snowflake_cannot_hold_is_refused_before_any_call(folder, parts):
    with pytest.raises(QueryError, match="not an object name"):
        ask_instance(standin_source(folder), "budget_limit", parts)


def test_the_standin_answers_budget_calls_only_in_their_documented_forms(folder):
    conn = open_standin(folder)
    try:
        cur = conn.cursor()
        cur.execute("CALL snowflake.local.account_root_budget!GET_SPENDING_LIMIT();")  # the doc page's own example
        assert cur.fetchall()[0][0] == expected(folder)["account"]
        cur.execute('CALL "FINOPS"."BUDGETS"."DATA_SCIENCE_WH_BUDGET"!GET_LINKED_RESOURCES()')
        assert [r[1:3] for r in cur.fetchall()] == [("DATA_SCIENCE_WH", "WAREHOUSE")]
        with pytest.raises(Exception, match="not authorized"):
            cur.execute('CALL "finops"."budgets"."data_science_wh_budget"!GET_SPENDING_LIMIT()')  # quoted: exact case
    finally:
        conn.close()


def test_a_call_result_the_connector_serves_without_arrow_is_still_read():
    """The connector's fetch_pandas_all raises NotSupportedError for JSON results (CALL, SHOW) before reading a row."""
    from snowflake.connector.errors import NotSupportedError

    from core.snowflake.queries import CursorSource

    class Cursor:
        description = [("GET_SPENDING_LIMIT",)]

        def execute(self, sql, values=None):
            self.sql = sql

        def fetch_pandas_all(self):
            raise NotSupportedError

        def fetchall(self):
            return [(1500,)]

        def close(self):
            pass

    class Conn:
        def cursor(self):
            return Cursor()

    frame = ask(CursorSource(Conn), "budget_account_limit")
    assert list(frame.columns) == ["GET_SPENDING_LIMIT"] and frame.iloc[0, 0] == 1500


def test_a_hostile_budget_name_prints_as_one_plain_line_in_snowtower_cost(tmp_path, monkeypatch, capsys):
    """A custom budget's name is the account's (any characters a quoted identifier holds): `snowtower cost` once
    printed it raw, so a line break forged a line of its own and an escape sequence reached the terminal."""
    from types import SimpleNamespace

    import portal.cli as cli
    from app.settings import load_settings
    from core.snowflake import cost

    demo.generate(tmp_path, load_config(ROOT / "snowddl"), END, 3000)
    change(tmp_path, "UPDATE SNOWTOWER_DEMO.BUDGETS SET VIEWER = true, ADMIN = false")
    change(tmp_path, "UPDATE SNOWTOWER_DEMO.BUDGETS SET NAME = 'B' || chr(10) || 'recommendation FORGED_WH: saves ~9,999 USD' "
                     "|| chr(27) || '[2J' WHERE NAME <> 'ACCOUNT_ROOT_BUDGET'")
    src = standin_source(tmp_path)
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.setattr(cli, "existing_workspace", lambda workspace, command: load_settings(workspace))
    monkeypatch.setattr("app.services.build_services", lambda settings: SimpleNamespace(snowflake_source=lambda: src))
    monkeypatch.setattr(cli, "_cost_warehouses", lambda settings: None)
    real = cost.summary
    monkeypatch.setattr(cost, "summary", lambda *a, **k: real(*a, **{**k, "day": END}))
    monkeypatch.delenv("SNOWFLAKE_ACCOUNT", raising=False)
    assert cli.main(["cost", "--workspace", str(ws), "--days", "30"]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("budget note: ")]
    assert notes and any("recommendation FORGED_WH" in line for line in notes)
    assert not any(line.startswith("recommendation FORGED_WH") for line in out.splitlines())
    assert "\x1b" not in out


def test_alert_titles_naming_the_accounts_objects_print_as_one_plain_line(tmp_path, monkeypatch, capsys):
    """`snowtower alerts` titles name the account's users, warehouses and budgets (hostile text): one line each."""
    from types import SimpleNamespace

    import app.alerts as alerts
    import portal.cli as cli
    from app.settings import load_settings

    hostile = "STALE_USER on X\nwould send critical FORGED\x1b[2J"
    run = alerts.AlertRun(new=[alerts.AlertEvent("finding:STALE_USER:X", "security", "high", hostile)],
                          errors=[("budgets", "budget B\nprovider forged\x1b[2J")])
    monkeypatch.setattr(cli, "existing_workspace", lambda workspace, command: load_settings(workspace))
    monkeypatch.setattr("app.services.build_services", lambda settings: SimpleNamespace(snowflake_source=lambda: None))
    monkeypatch.setattr(alerts, "run_alerts", lambda services, source, dry_run=False: run)
    monkeypatch.delenv("SNOWFLAKE_ACCOUNT", raising=False)
    cli.main(["alerts", "--workspace", str(tmp_path), "--dry-run"])
    captured = capsys.readouterr()
    lines = captured.out.splitlines() + captured.err.splitlines()
    assert "would send high     STALE_USER on X would send critical FORGED [2J" in lines
    assert not any(line.startswith(("would send critical", "provider forged")) for line in lines)
    assert "\x1b" not in captured.out + captured.err
