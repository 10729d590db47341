"""The query layer on the demo account: every SQL file parses as Snowflake SQL and runs on the stand-in
with known answers (the planted spike, the planted idle hours); the generator is deterministic and scales."""
from __future__ import annotations

import calendar
import datetime as dt
import os
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlglot

from core.snowddl.config_loader import load_config
from core.snowflake import demo, demo_planted
from core.snowflake.connect import STANDIN_FILE, connector_source, standin_source
from core.snowflake.cost import (Prices, data_through, forecast_month, last_day, monitor_usage, period_starts, summary,
                                 window)
from core.snowflake.projection import credits_per_hour, project_request, project_warehouse
from core.snowflake.queries import QueryError, ask, question, questions

ROOT = Path(__file__).resolve().parents[1]
END = dt.date(2026, 3, 29)  # a Sunday; the 90 days start on 2025-12-30
START = END - dt.timedelta(days=demo_planted.DAYS - 1)
ROWS = 20_000


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "snowddl")


@pytest.fixture(scope="module")
def account(tmp_path_factory, config):
    folder = tmp_path_factory.mktemp("account")
    planted = demo.generate(folder, config, END, ROWS)
    return folder, planted


@pytest.fixture(scope="module")
def src(account):
    return standin_source(account[0])


def binds_for(q, start=START, end=END) -> dict:
    """Every bind a question may take, for the 90 days of the demo account."""
    values = {**window(start, end), **period_starts(end), "top_n": 5, "warehouse_name": "BI_WH", "days": 90}
    values["as_of"] = values["end_time"]
    values["since"] = values["end_time"] - dt.timedelta(days=90)
    values["user_name"] = "ADMIN"  # the demo account's first user, granted ACCOUNTADMIN (viewer_roles)
    return {name: values[name] for name in set(q.binds)}


def raw(account, sql: str):
    db = duckdb.connect(str(account[0] / STANDIN_FILE), read_only=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


# -- every file ---------------------------------------------------------------------------------------

def views():
    """The questions that read ACCOUNT_USAGE views (Snowflake's budget methods are contract.ROUTINES: their header
    names the method, tests/test_view_contract.py and tests/test_snowflake_budgets.py check them)."""
    from core.snowflake.contract import ROUTINES

    return [q for q in questions() if q.name not in ROUTINES]


def test_every_budget_file_has_its_header_and_names_its_method():
    from core.snowflake.contract import ROUTINES

    for name in ROUTINES:
        q = question(name)
        for word in ("Answers:", "Units:", "Source: ", "Binds:"):
            assert word in q.header, f"{name}: header lacks {word}"
        assert "ACCOUNT_USAGE" not in q.text and "SNOWTOWER_DEMO" not in q.text, name


def test_every_sql_file_parses_as_snowflake_sql_and_has_its_header():
    assert len(views()) >= 9
    for q in views():
        tree = sqlglot.parse_one(q.text, read="snowflake")
        assert tree is not None and tree.find(sqlglot.exp.Select) is not None, q.name
        for word in ("Answers:", "Units:", "Source: SNOWFLAKE.ACCOUNT_USAGE.", "Binds:"):
            assert word in q.header, f"{q.name}: header lacks {word}"
        assert "ACCOUNT_USAGE" in q.text and "SNOWTOWER_DEMO" not in q.text  # the real views only


def test_every_sql_file_runs_on_the_standin(src):
    from core.snowflake.queries import ask_instance

    for q in questions():
        if "<instance>" in q.text:  # a custom budget's method: the demo's budget on the data-science warehouse
            frame = ask_instance(src, q.name, ("FINOPS", "BUDGETS", "DATA_SCIENCE_WH_BUDGET"))
        else:
            frame = ask(src, q.name, **binds_for(q))
        if q.name == "admin_roles_to_roles":  # the demo grants no admin role to a custom role: the known answer
            assert frame.empty, frame
        else:
            assert len(frame) > 0, q.name
        assert all(c == c.upper() for c in frame.columns), q.name


@pytest.mark.skipif(not os.environ.get("SNOWFLAKE_ACCOUNT"), reason="needs SNOWFLAKE_* credentials of a real account")
def test_every_sql_file_runs_on_a_real_account():
    source = connector_source()
    today = dt.datetime.now(dt.timezone.utc).date()
    for q in views():  # budget calls depend on the account's budgets and grants: read_budgets says why one fails
        frame = ask(source, q.name, **binds_for(q, today - dt.timedelta(days=30), today))
        assert isinstance(frame, pd.DataFrame), q.name


# -- known answers ------------------------------------------------------------------------------------

def test_the_planted_spike_is_the_one_anomalous_day(src, account):
    planted = account[1]
    spend = ask(src, "daily_spend", **window(START, END))
    anomalies = spend[spend["IS_ANOMALY"].fillna(False).astype(bool)]
    assert [pd.Timestamp(d).date() for d in anomalies["DAY"]] == [planted.spike_day]
    assert anomalies["TOP_WAREHOUSE"].tolist() == ["DATA_SCIENCE_WH"]
    # a MEDIUM warehouse (4 credits/hour) running the whole day: 96 compute credits that day
    daily = ask(src, "warehouse_credits_daily", **window(planted.spike_day, planted.spike_day))
    ds = daily[daily["WAREHOUSE_NAME"] == "DATA_SCIENCE_WH"]
    assert float(ds["CREDITS_COMPUTE"].iloc[0]) == pytest.approx(96.0)
    top = ask(src, "expensive_queries", **window(START, END), top_n=3)
    assert {pd.Timestamp(t).date() for t in top.nlargest(3, "CREDITS")["START_TIME"]} == {planted.spike_day}


def test_idle_cost_equals_the_planted_idle_hours(src, account):
    planted = account[1]
    weekdays = sum(1 for i in range(demo_planted.DAYS) if (START + dt.timedelta(days=i)).isoweekday() <= 5)
    assert planted.idle_running_hours == weekdays * 10 == 640
    usage = ask(src, "warehouse_usage", **window(START, END)).set_index("WAREHOUSE_NAME")
    bi = usage.loc["BI_WH"]
    # SMALL = 2 credits/hour; 08:00-17:59 on weekdays; 75% of each running hour idle
    assert float(bi["CREDITS_IDLE"]) == pytest.approx(640 * 2 * 0.75) == pytest.approx(planted.idle_credits)
    assert int(bi["RUNNING_HOURS"]) == 640 and float(bi["IDLE_SHARE"]) == pytest.approx(0.75)
    assert usage.index[0] == "BI_WH"  # sorted by idle credits: the idle-heavy warehouse first
    assert (usage.drop("BI_WH")["IDLE_SHARE"] < 0.2).all()
    # the page's daily idle adds up to the same figure
    daily = ask(src, "warehouse_credits_daily", **window(START, END))
    assert daily.loc[daily["WAREHOUSE_NAME"] == "BI_WH", "CREDITS_IDLE"].sum() == pytest.approx(960.0)


def test_attributed_credits_add_up_to_the_metering_per_warehouse(src):
    usage = ask(src, "warehouse_usage", **window(START, END)).set_index("WAREHOUSE_NAME")["CREDITS_QUERIES"]
    by_user = ask(src, "credits_by_user", **window(START, END)).groupby("WAREHOUSE_NAME")["CREDITS"].sum()
    by_role = ask(src, "credits_by_role", **window(START, END)).groupby("WAREHOUSE_NAME")["CREDITS"].sum()
    for wh, credits in usage.items():
        assert by_user[wh] == pytest.approx(credits, rel=1e-6), wh
        assert by_role[wh] == pytest.approx(credits, rel=1e-6), wh


def test_users_roles_and_warehouses_come_from_the_config(src, config):
    by_user = ask(src, "credits_by_user", **window(START, END))
    by_role = ask(src, "credits_by_role", **window(START, END))
    assert set(by_user["USER_NAME"]) <= set(config.users)
    assert {"SVC_LOOKER", "SVC_DBT", "SVC_FIVETRAN", "AKHAN"} <= set(by_user["USER_NAME"])
    assert set(by_role["ROLE_NAME"]) <= {f"{r}__B_ROLE" for r in config.business_roles}
    assert set(by_user["WAREHOUSE_NAME"]) == set(config.warehouses)
    transform = by_user[by_user["WAREHOUSE_NAME"] == "TRANSFORM_WH"].set_index("USER_NAME")["CREDITS"]
    assert transform.idxmax() == "SVC_DBT"  # the nightly dbt production run is the largest consumer
    storage = ask(src, "storage_by_database", **window(START, END))
    assert set(storage["DATABASE_NAME"]) == set(config.databases) | {demo_planted.DROPPED_DATABASE}


def test_a_dropped_database_keeps_the_days_it_was_billed(src):
    storage = ask(src, "storage_by_database", **window(START, END))
    days = pd.to_datetime(storage.loc[storage["DATABASE_NAME"] == demo_planted.DROPPED_DATABASE, "DAY"]).dt.date
    dropped = END - dt.timedelta(days=demo_planted.DROPPED_DAYS_AGO)
    assert days.min() == START and days.max() == dropped and len(days) == demo_planted.DAYS - demo_planted.DROPPED_DAYS_AGO


def test_weekday_and_hour_patterns(account):
    weekday, weekend = raw(account, """
        SELECT AVG(c) FILTER (WHERE ISODOW(d) <= 5), AVG(c) FILTER (WHERE ISODOW(d) > 5) FROM (
          SELECT CAST(START_TIME AS DATE) d, SUM(CREDITS_USED) c FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
          WHERE WAREHOUSE_NAME = 'ANALYST_WH' GROUP BY 1)""")[0]
    assert weekday > 5 * (weekend or 0)
    night = raw(account, "SELECT COUNT(*) FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY "
                         "WHERE WAREHOUSE_NAME = 'ANALYST_WH' AND HOUR(START_TIME) NOT BETWEEN 8 AND 17")[0][0]
    assert night == 0


def test_storage_grows_and_raw_grows_fastest(src):
    storage = ask(src, "storage_by_database", **window(START, END))
    first = storage[storage["DAY"] == storage["DAY"].min()].set_index("DATABASE_NAME")["DATABASE_GB"]
    last = storage[storage["DAY"] == storage["DAY"].max()].set_index("DATABASE_NAME")["DATABASE_GB"]
    growth = last / first
    assert growth.idxmax() in ("RAW", "PROJ_CHURN")
    assert growth["RAW"] > 2.5 and growth["ANALYTICS"] > 1.4
    assert growth["DEV_SANDBOX"] == pytest.approx(1.0, abs=0.02)


def test_monitor_usage_matches_the_daily_credits(src):
    month = ask(src, "warehouse_credits_daily", **window(END.replace(day=1), END))
    week = ask(src, "warehouse_credits_daily", **window(END - dt.timedelta(days=END.weekday()), END))
    cfg = demo.describe(load_config(ROOT / "snowddl"))
    monitors = monitor_usage(src, END, cfg["warehouses"], cfg["monitors"]).set_index("MONITOR")
    transform = monitors.loc["TRANSFORM_MONITOR"]
    expected = month.loc[month["WAREHOUSE_NAME"] == "TRANSFORM_WH", "CREDITS_USED"].sum()
    assert transform["CREDITS_USED"] == pytest.approx(expected) and transform["CREDIT_QUOTA"] == 150
    science = monitors.loc["DATA_SCIENCE_MONITOR"]  # WEEKLY: only the credits since Monday count
    assert science["CREDITS_USED"] == pytest.approx(week.loc[week["WAREHOUSE_NAME"] == "DATA_SCIENCE_WH", "CREDITS_USED"].sum())
    for row in monitors.itertuples():
        share = row.CREDITS_USED / row.CREDIT_QUOTA
        assert row.STATUS == ("Over quota" if share >= 1 else "At risk" if share >= 0.75 else "On track")
    assert "BI_WH" not in " ".join(monitors["WAREHOUSES"])  # BI_WH has no resource monitor


def test_security_facts_are_planted(account):
    users = {r[0]: r[1:] for r in raw(account, "SELECT NAME, TYPE, HAS_PASSWORD, HAS_MFA, LAST_SUCCESS_LOGIN FROM ACCOUNT_USAGE.USERS")}
    assert users["SVC_LOOKER"][:2] == ("SERVICE", True)
    password_logins = raw(account, "SELECT COUNT(*) FROM ACCOUNT_USAGE.LOGIN_HISTORY WHERE USER_NAME = 'SVC_LOOKER' "
                                   "AND FIRST_AUTHENTICATION_FACTOR = 'PASSWORD' AND IS_SUCCESS = 'YES'")[0][0]
    assert password_logins > 0
    admins = {r[0] for r in raw(account, "SELECT GRANTEE_NAME FROM ACCOUNT_USAGE.GRANTS_TO_USERS WHERE ROLE = 'ACCOUNTADMIN'")}
    assert demo_planted.ADMIN_WITHOUT_MFA in admins and users[demo_planted.ADMIN_WITHOUT_MFA][2] is False
    horizon = dt.datetime.combine(END, dt.time(), dt.timezone.utc) - dt.timedelta(days=90)  # TIMESTAMP_LTZ: aware
    stale = {name for name, u in users.items() if u[3] is not None and u[3] < horizon}
    assert stale == set(demo_planted.STALE_USERS)
    ran = {r[0] for r in raw(account, "SELECT DISTINCT USER_NAME FROM ACCOUNT_USAGE.QUERY_HISTORY")}
    assert not ran & stale  # a user who has not logged in for 90 days ran no query either
    failures = dict(raw(account, "SELECT ERROR_MESSAGE, COUNT(*) FROM ACCOUNT_USAGE.LOGIN_HISTORY WHERE IS_SUCCESS = 'NO' GROUP BY 1"))
    assert failures["INCORRECT_USERNAME_PASSWORD"] >= 40 and failures["JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH"] == 8


# -- the generator ------------------------------------------------------------------------------------

def _fingerprint(folder: Path):
    db = duckdb.connect(str(folder / STANDIN_FILE), read_only=True)
    try:
        return db.execute("""SELECT (SELECT COUNT(*) FROM ACCOUNT_USAGE.QUERY_HISTORY),
                                    (SELECT md5(string_agg(QUERY_ID || USER_NAME || START_TIME, ',' ORDER BY QUERY_ID)) FROM ACCOUNT_USAGE.QUERY_HISTORY),
                                    (SELECT SUM(CREDITS_USED) FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY)""").fetchone()
    finally:
        db.close()


def test_the_generator_is_deterministic(tmp_path, config, account):
    demo.generate(tmp_path, config, END, ROWS)
    assert _fingerprint(tmp_path) == _fingerprint(account[0])


def test_query_rows_scale_and_every_running_hour_has_a_query(tmp_path, config):
    demo.generate(tmp_path / "big", config, END, 150_000)
    assert _fingerprint(tmp_path / "big")[0] == 150_000
    demo.generate(tmp_path / "tiny", config, END, 10)
    hours = raw((tmp_path / "tiny",), "SELECT COUNT(*) FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY")[0][0]
    assert _fingerprint(tmp_path / "tiny")[0] == hours  # one per running hour, even below the request
    usage = ask(standin_source(tmp_path / "tiny"), "warehouse_usage", **window(START, END)).set_index("WAREHOUSE_NAME")
    assert float(usage.loc["BI_WH", "CREDITS_IDLE"]) == pytest.approx(960.0)  # the same metering at any size


@pytest.mark.parametrize("rows", [0, -5, demo.MAX_QUERY_ROWS + 1, "1000"])
def test_out_of_bounds_row_counts_are_refused_before_any_work(tmp_path, config, rows):
    with pytest.raises(ValueError, match="between 1 and"):
        demo.generate(tmp_path, config, END, rows)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_generation_keeps_the_old_account(tmp_path, config, monkeypatch):
    demo.generate(tmp_path, config, END, 1_000)
    before = _fingerprint(tmp_path)

    def crash(*args):
        raise RuntimeError("power cut")

    monkeypatch.setattr(demo, "_identity", crash)
    with pytest.raises(RuntimeError):
        demo.generate(tmp_path, config, END, 5_000)
    assert _fingerprint(tmp_path) == before and demo.meta(tmp_path)["QUERY_ROWS"] == "1000"


# -- the query interface ------------------------------------------------------------------------------

def test_binds_are_named_and_casts_and_strings_are_left_alone():
    q = question("expensive_queries")
    sql, values = q.positional({"start_time": 1, "end_time": 2, "top_n": 3})
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    assert ":start_time" not in body and body.count("?") == len(values) == 5 and values == [1, 2, 3, 1, 2]
    from core.snowflake.queries import Question, _binds

    text = "SELECT a::DATE, ':not_a_bind' FROM t WHERE b = :real -- :comment\nAND c = :real"
    assert _binds(text) == ("real", "real")
    sql, values = Question("x", text, _binds(text)).positional({"real": 7})
    assert sql == "SELECT a::DATE, ':not_a_bind' FROM t WHERE b = ? -- :comment\nAND c = ?" and values == [7, 7]


def test_unknown_questions_and_missing_binds_are_refused(src):
    for name in ("nope", "../cost", "warehouse_usage; DROP", ""):
        with pytest.raises(QueryError, match="no question"):
            ask(src, name)
    with pytest.raises(QueryError, match="missing bind"):
        ask(src, "warehouse_usage", start_time=dt.datetime(2026, 1, 1))


def test_a_missing_account_is_a_query_error(tmp_path):
    with pytest.raises(QueryError, match="has not been generated"):
        ask(standin_source(tmp_path), "data_range")
    with pytest.raises(QueryError, match="no Snowflake credentials"):
        connector_source({})


# -- cost figures -------------------------------------------------------------------------------------

def test_forecast_is_month_to_date_plus_the_recent_rate():
    days = pd.date_range("2026-03-01", "2026-03-20").date
    frame = pd.DataFrame({"DAY": days, "CREDITS": [10.0] * 13 + [20.0] * 7})
    f = forecast_month(frame, dt.date(2026, 3, 20))
    assert (f.month, f.month_to_date, f.daily_rate, f.days_left) == ("2026-03", 270.0, 20.0, 11)
    assert f.projected == 270.0 + 20.0 * 11


def test_projection_of_a_change_scales_queries_with_size_and_idle_with_auto_suspend(src):
    last30 = ask(src, "warehouse_usage", **window(END - dt.timedelta(days=29), END)).set_index("WAREHOUSE_NAME").loc["BI_WH"]
    per_month = 365.25 / 12 / 30
    p = project_warehouse(src, "BI_WH", "SMALL", 60, 3.0, old_size="SMALL", old_auto_suspend=300, day=END)
    assert not p.estimate and p.current_credits == pytest.approx(float(last30["CREDITS_USED"]) * per_month)
    expected = (last30["CREDITS_QUERIES"] + last30["CREDITS_IDLE"] * 60 / 300 + last30["CREDITS_CLOUD_SERVICES"]) * per_month
    assert p.projected_credits == pytest.approx(float(expected)) and p.projected_money == pytest.approx(3.0 * float(expected))
    bigger = project_warehouse(src, "BI_WH", "MEDIUM", 300, 3.0, old_size="SMALL", old_auto_suspend=300, day=END)
    assert bigger.projected_credits == pytest.approx(float(last30["CREDITS_COMPUTE"] * 2 + last30["CREDITS_CLOUD_SERVICES"]) * per_month)


def test_projection_of_a_new_warehouse_uses_compute_equivalent_hours(src, config, account):
    cfg = demo.describe(config)
    p = project_request(src, "new-warehouse", {"name": "MARKETING_WH", "size": "LARGE", "auto_suspend": 60}, cfg["warehouses"], 2.0, day=END)
    start = END - dt.timedelta(days=29)
    compute = dict(raw(account, "SELECT WAREHOUSE_NAME, SUM(CREDITS_USED_COMPUTE) FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY "
                                f"WHERE START_TIME >= TIMESTAMPTZ '{start} 00:00:00+00' AND START_TIME < TIMESTAMPTZ '{END + dt.timedelta(days=1)} 00:00:00+00' "
                                "GROUP BY 1"))
    hours = pd.Series({w["name"]: compute[w["name"]] / credits_per_hour(w["size"]) for w in cfg["warehouses"]}).median()
    assert p.estimate and p.current_credits is None and "compute-equivalent hours" in p.basis
    assert p.projected_credits == pytest.approx(hours * 8 * 365.25 / 12 / 30)
    # hours with any compute overstate it: the loader is up a few minutes every hour of the day
    any_compute = ask(src, "warehouse_usage", **window(start, END))["RUNNING_HOURS"].median()
    assert any_compute * 8 * 365.25 / 12 / 30 > 4 * p.projected_credits
    assert project_request(src, "new-user", {"name": "X"}, cfg["warehouses"], 2.0) is None


def test_summary_gives_per_warehouse_money_forecast_and_the_spike(src, account):
    report = summary(src, 30, 2.5, END)
    assert report["start"] == (END - dt.timedelta(days=29)).isoformat() and report["end"] == END.isoformat()
    assert report["warehouses"][0]["warehouse"] == "BI_WH"
    w = report["warehouses"][0]
    assert w["compute_money"] == pytest.approx(w["compute_credits"] * 2.5) and w["credits"] > w["compute_credits"]
    assert [a["day"] for a in report["anomalies"]] == [account[1].spike_day.isoformat()]


# -- money as billed, windows as filled ---------------------------------------------------------------

def test_money_is_billed_credits_by_service_plus_storage_and_transfer(src, account):
    prices = Prices(3.0, {"SNOWPARK_CONTAINER_SERVICES": 2.0}, storage_per_tb_month=23.0, transfer_per_tb=20.0)
    start = END - dt.timedelta(days=29)
    report = summary(src, 30, 3.0, END, prices)
    lines = {x["line"]: x for x in report["spend"]["lines"]}
    in_window = f"USAGE_DATE >= DATE '{start}' AND USAGE_DATE <= DATE '{END}'"
    billed = dict(raw(account, f"SELECT SERVICE_TYPE, SUM(CREDITS_BILLED) FROM ACCOUNT_USAGE.METERING_DAILY_HISTORY WHERE {in_window} GROUP BY 1"))
    compute = raw(account, "SELECT SUM(CREDITS_USED_COMPUTE), SUM(CREDITS_USED) FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY "
                           f"WHERE CAST(START_TIME AS DATE) BETWEEN DATE '{start}' AND DATE '{END}'")[0]
    # the demo's cloud services stay below 10 % of each day's compute: all of them are adjusted away
    assert lines["WAREHOUSE_METERING"]["quantity"] == pytest.approx(compute[0])
    assert report["total_credits"] == pytest.approx(compute[1]) and compute[1] > 1.04 * compute[0]  # metered overstates
    assert set(lines) == {"WAREHOUSE_METERING", *demo_planted.SERVERLESS, "STORAGE", "DATA_TRANSFER"}
    assert lines["SNOWPARK_CONTAINER_SERVICES"]["money"] == pytest.approx(billed["SNOWPARK_CONTAINER_SERVICES"] * 2.0)
    assert lines["SERVERLESS_TASK"]["money"] == pytest.approx(billed["SERVERLESS_TASK"] * 3.0)
    assert lines["DATA_TRANSFER"]["quantity"] == pytest.approx(30 * demo_planted.TRANSFER_GB_PER_DAY / 1024)
    tb_months = sum(b / 1024 ** 4 / calendar.monthrange(d.year, d.month)[1] for d, b in raw(  # a day is 1/28 of February
        account, "SELECT USAGE_DATE, STORAGE_BYTES + STAGE_BYTES + FAILSAFE_BYTES + HYBRID_TABLE_STORAGE_BYTES "
                 f"FROM ACCOUNT_USAGE.STORAGE_USAGE WHERE {in_window}"))
    assert lines["STORAGE"]["money"] == pytest.approx(tb_months * 23.0)
    expected = (sum(v * (2.0 if k == "SNOWPARK_CONTAINER_SERVICES" else 3.0) for k, v in billed.items())
                + tb_months * 23.0 + 30 * demo_planted.TRANSFER_GB_PER_DAY / 1024 * 20.0)
    assert report["total_money"] == pytest.approx(expected)


def test_windows_end_on_the_last_complete_day_and_lags_are_not_idle(src, account):
    through = data_through(src)
    assert through.last_day == END == last_day(src)  # the partial day after END is never shown as a day
    assert through.filled_to == dt.datetime.combine(END + dt.timedelta(days=1), dt.time(demo_planted.PARTIAL_HOURS))
    assert through.attributed_to == dt.datetime.combine(END + dt.timedelta(days=1),
                                                        dt.time(demo_planted.NOW_HOUR - demo_planted.ATTRIBUTION_LAG_HOURS))
    assert "Complete days up to 2026-03-29" in through.caption()
    # the newest hours have no attributed credits yet: they are not idle
    after = window(END + dt.timedelta(days=1), END + dt.timedelta(days=1))
    partial = ask(src, "warehouse_usage", **after).set_index("WAREHOUSE_NAME")
    loader = partial.loc["LOADER_WH"]
    assert loader["CREDITS_NOT_YET_ATTRIBUTED"] > 0 and loader["IDLE_SHARE"] < 0.2
    # QUERY_ATTRIBUTION_HISTORY lags more than metering: nothing attributed after 01:00
    late = ask(src, "credits_by_user", start_time=dt.datetime.combine(END + dt.timedelta(days=1), dt.time(1)),
               end_time=after["end_time"])
    assert late.empty
    from core.snowflake.cost import attribution_filled

    filled = attribution_filled(src, dt.datetime.combine(END, dt.time()))
    assert dt.datetime.combine(END, dt.time(23)) < filled < dt.datetime.combine(END + dt.timedelta(days=1), dt.time(1))


def test_every_question_answers_in_utc_although_the_session_starts_in_los_angeles(account):
    from core.snowflake.connect import ACCOUNT_DEFAULT_TIMEZONE, open_standin

    conn = open_standin(account[0])
    try:
        cur = conn.cursor()
        cur.execute("SELECT TO_DATE(START_TIME) AS D FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY "
                    "ORDER BY START_TIME LIMIT 1")
        assert ACCOUNT_DEFAULT_TIMEZONE == "America/Los_Angeles"
        assert cur.fetchall()[0][0] == START - dt.timedelta(days=1)  # midnight UTC is the evening before in LA
    finally:
        conn.close()
    daily = ask(standin_source(account[0]), "warehouse_credits_daily", **window(START, START))
    assert set(pd.to_datetime(daily["DAY"]).dt.date) == {START}  # with SESSION_SETUP: UTC days


def test_a_variant_column_read_as_text_is_refused_not_counted_as_true():
    from core.findings.security import flags

    assert flags(pd.Series([True, None, False]), "DISABLED").tolist() == [True, False, False]
    with pytest.raises(QueryError, match="DISABLED holds 'false'"):
        flags(pd.Series(["false", "true"]), "DISABLED")


def test_monitor_periods_follow_the_monitors_own_start():
    from core.snowflake.cost import monitor_period_start

    start = dt.datetime(2026, 1, 15, 10, 0)
    assert monitor_period_start("MONTHLY", start, dt.date(2026, 3, 29)) == dt.datetime(2026, 3, 15, 10, 0)
    assert monitor_period_start("MONTHLY", start, dt.date(2026, 3, 14)) == dt.datetime(2026, 2, 15, 10, 0)
    assert monitor_period_start("WEEKLY", start, dt.date(2026, 1, 29)) == dt.datetime(2026, 1, 29, 10, 0)
    assert monitor_period_start("DAILY", start, dt.date(2026, 1, 20)) == dt.datetime(2026, 1, 20, 10, 0)
    assert monitor_period_start("YEARLY", start, dt.date(2027, 1, 15)) == dt.datetime(2027, 1, 15, 10, 0)
    assert monitor_period_start("NEVER", start, dt.date(2027, 6, 1)) == start
    assert monitor_period_start("MONTHLY", None, dt.date(2026, 3, 29)) == dt.datetime(2026, 3, 1)  # calendar


class _Recording:
    """A DB-API connection that records statements (the connector's or st.connection's, as far as a source uses
    it); `refuse` makes statements containing it fail, `zone` is what SHOW PARAMETERS answers."""

    def __init__(self, refuse: str | None = None, zone: str = "America/Los_Angeles"):
        self.statements, self.refuse, self.zone, self.closed = [], refuse, zone, False

    def cursor(self):
        conn = self

        class Cursor:
            def execute(self, sql, values=None):
                if conn.refuse and conn.refuse in sql:
                    raise RuntimeError(f"SQL access control error: {conn.refuse} not allowed")
                conn.statements.append(sql)

            def fetchall(self):
                return [("TIMEZONE", conn.zone, "America/Los_Angeles", "USER", "time zone", "STRING")]

            def fetch_pandas_all(self):
                return pd.DataFrame({"first_hour": [None], "last_hour": [None], "filled_to": [None], "attributed_to": [None]})

            def close(self):
                pass

        return Cursor()

    def close(self):
        self.closed = True


def test_every_connection_sets_the_session_to_utc_once_before_its_first_question():
    from core.snowflake.connect import streamlit_source

    conn = _Recording()
    src = streamlit_source(type("StConnection", (), {"raw_connection": conn})())  # st.connection("snowflake"), also in SiS
    ask(src, "data_range")
    ask(src, "data_range")
    assert conn.statements[0] == "ALTER SESSION SET TIMEZONE = 'UTC'"
    assert conn.statements.count("ALTER SESSION SET TIMEZONE = 'UTC'") == 1 and len(conn.statements) == 3


def test_a_session_that_refuses_the_utc_setting_answers_only_if_it_is_utc_already():
    from core.snowflake.queries import CursorSource

    conn = _Recording(refuse="ALTER SESSION")  # e.g. a restricted session; its zone is the account default
    with pytest.raises(QueryError, match="time zone is America/Los_Angeles.*ALTER SESSION not allowed"):
        ask(CursorSource(lambda: conn, close_after=True), "data_range")
    assert conn.closed and conn.statements == ["SHOW PARAMETERS LIKE 'TIMEZONE' IN SESSION"]
    utc = _Recording(refuse="ALTER SESSION", zone="Etc/UTC")  # the user's or account's TIMEZONE is UTC
    assert len(ask(CursorSource(lambda: utc), "data_range")) == 1


def test_service_prices_are_checked_and_used_per_service_type(tmp_path):
    from app.settings import Settings

    settings = Settings(price_per_credit=3.0, price_per_credit_by_service={"snowpark_container_services": 2.0})
    prices = Prices.of(settings)
    assert prices.credit("SNOWPARK_CONTAINER_SERVICES") == 2.0 and prices.credit("WAREHOUSE_METERING") == 3.0
    assert (prices.storage_per_tb_month, prices.transfer_per_tb) == (23.0, 20.0)
    for bad in ({"X": -1.0}, {"X": float("inf")}, {"no spaces": 1.0}):
        with pytest.raises(ValueError):
            Settings(price_per_credit_by_service=bad)


def test_a_closed_stand_in_frees_its_file_and_the_next_one_starts_afresh(account):
    """The stand-in's fakesnow instances are reused (core.snowflake.connect keeps idle ones): once a connection
    is closed its file is free for a writer in this process (a demo deployment's sync), and the next connection
    starts in the account's time zone, keeping no result of the questions asked before."""
    from core.snowflake.connect import ACCOUNT_DEFAULT_TIMEZONE, open_standin

    conn = open_standin(account[0])
    cur = conn.cursor()
    cur.execute("ALTER SESSION SET TIMEZONE = 'UTC'")
    cur.execute("SELECT COUNT(*) FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY")
    assert cur.fetchall()[0][0] > 0 and conn._fs.results_cache
    conn.close()
    writer = duckdb.connect(str(account[0] / STANDIN_FILE))  # read-write: refused while a reader holds the file
    writer.close()
    again = open_standin(account[0])
    try:
        assert again._duck.execute("SELECT current_setting('TimeZone')").fetchone()[0] == ACCOUNT_DEFAULT_TIMEZONE
        assert not again._fs.results_cache
    finally:
        again.close()


def test_a_process_that_asked_the_standin_leaves_no_folder_behind(account):
    """fakesnow makes a stage folder in /tmp when imported and never removes it; a portal or command that
    asked the stand-in removes it when it exits (before: one folder left by every process)."""
    import subprocess
    import sys

    script = ("import sys; from pathlib import Path; from core.snowflake.connect import open_standin; "
              "conn = open_standin(Path(sys.argv[1])); cur = conn.cursor(); "
              "cur.execute('SELECT COUNT(*) FROM WAREHOUSE_METERING_HISTORY'); n = cur.fetchone()[0]; conn.close(); "
              "from fakesnow.transforms import stage; print(stage.LOCAL_BUCKET_PATH, n > 0)")
    out = subprocess.run([sys.executable, "-c", script, str(account[0])], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()
    assert out[1] == "True" and out[0].startswith(tempfile.gettempdir())
    assert not Path(out[0]).exists()
