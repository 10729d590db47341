"""Cost with meaning on the demo account: the previous period, budgets, query patterns, recommendations with
their saving, and the spend events `snowtower alerts` sends (core.snowflake.cost, core.snowflake.projection,
core.snowflake.spend_alerts, core.snowflake.recommend)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.snowddl.inventory import describe
from core.snowddl.config_loader import load_config
from core.snowflake import demo, demo_planted
from core.snowflake.connect import standin_source
from core.snowflake.cost import Prices, budget_status, change, previous_period, query_patterns, summary, window
from core.snowflake.projection import project_request
from core.snowflake.spend_alerts import spend_events
from core.snowflake.queries import ask
from core.snowflake.recommend import recommend, smaller

ROOT = Path(__file__).resolve().parents[1]
END = dt.date(2026, 3, 15)  # a Sunday, mid-month


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    folder = tmp_path_factory.mktemp("meaning")
    config = load_config(ROOT / "snowddl")
    planted = demo.generate(folder, config, END, 100_000)  # the demo's own row count: queries as short as there
    return standin_source(folder), describe(config)["warehouses"], planted


def test_the_previous_period_is_as_long_and_just_before():
    assert previous_period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)) == (dt.date(2026, 10, 2), dt.date(2026, 10, 31))
    assert previous_period(dt.date(2026, 3, 5), dt.date(2026, 3, 5)) == (dt.date(2026, 3, 4), dt.date(2026, 3, 4))
    assert change(150.0, 100.0) == pytest.approx(0.5) and change(1.0, 0.0) is None and change(None, 1.0) is None


def test_repeats_that_differ_in_literals_are_one_pattern(account):
    src, _, _ = account
    hashes = ask(src, "query_patterns", **window(END - dt.timedelta(days=29), END), top_n=50)
    assert hashes["PATTERN"].is_unique
    cur = src.connect().cursor()
    cur.execute("SELECT QUERY_PARAMETERIZED_HASH, COUNT(DISTINCT QUERY_HASH), COUNT(DISTINCT QUERY_TEXT) "
                "FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY GROUP BY 1 HAVING COUNT(DISTINCT QUERY_TEXT) > 1")
    rows = cur.fetchall()
    assert len(rows) == 2 and all(r[1] == r[2] > 1 for r in rows)  # two templates carry a changing literal
    top = query_patterns(src, END - dt.timedelta(days=29), END, 3.0, top_n=5)
    assert len(top) == 5 and all(p["queries"] > 1 for p in top)
    assert [p["credits"] for p in top] == sorted((p["credits"] for p in top), reverse=True)
    assert all(p["average_credits"] * p["queries"] == pytest.approx(p["credits"]) for p in top)


def test_recommendations_name_the_idle_the_oversized_and_the_unmonitored_with_the_reviews_saving(account):
    src, warehouses, planted = account
    recs = recommend(src, warehouses, 2.5)
    by = {(r.code, r.warehouse): r for r in recs}
    idle = by[("WAREHOUSE_IDLE", planted.idle_warehouse)]
    assert idle.fix.recipe == "change-warehouse" and idle.fix.fields["auto_suspend"] == "60" and idle.fix.complete
    # the saving is the review's projection of the very request the Fix opens
    request = {"name": idle.warehouse, "auto_suspend": 60}
    p = project_request(src, "change-warehouse", request, warehouses, 2.5)
    assert idle.saving_money == pytest.approx(p.current_money - p.projected_money) and idle.saving_money > 0
    # queueing (the nightly dbt run) and spilling (data science) tell the opposite: never proposed smaller
    oversized = {w for code, w in by if code == "WAREHOUSE_OVERSIZED"}
    assert "TRANSFORM_WH" not in oversized and "DATA_SCIENCE_WH" not in oversized
    assert "LOADER_WH" not in oversized  # already X-Small
    assert oversized and all(by[("WAREHOUSE_OVERSIZED", w)].fix.fields["size"] == smaller(
        next(x["size"] for x in warehouses if x["name"] == w)) for w in oversized)
    assert all(by[("WAREHOUSE_OVERSIZED", w)].saving_money > 0 for w in oversized)
    assert ("WAREHOUSE_NO_MONITOR", "BI_WH") in by and not by[("WAREHOUSE_NO_MONITOR", "BI_WH")].fix.complete
    savings = [r.saving_money for r in recs if r.saving_money]
    assert savings == sorted(savings, reverse=True)


def test_a_warehouse_unused_for_30_days_is_named_with_a_fix_that_removes_it(account):
    src, warehouses, _ = account
    extra = warehouses + [{"name": "OLD_REPORTING_WH", "size": "MEDIUM", "auto_suspend": 60, "monitor": None, "used_by": []},
                          {"name": "KEPT_WH", "size": "SMALL", "auto_suspend": 60, "monitor": None,
                           "used_by": ["user PRAMAN (default_warehouse)"]}]
    unused = {r.warehouse: r for r in recommend(src, extra, 2.5) if r.code == "WAREHOUSE_UNUSED"}
    assert set(unused) == {"OLD_REPORTING_WH", "KEPT_WH"}
    old = unused["OLD_REPORTING_WH"]
    # it did not run: the saving is honestly 0 (what it metered in the period), and the fix removes it
    assert old.current_credits == 0 and old.projected_credits == 0 and old.saving_money == 0
    assert old.fix.recipe == "remove-warehouse" and old.fix.complete and old.fix.fields["name"] == "OLD_REPORTING_WH"
    assert old.fix.fields["justification"].startswith("Cost recommendation WAREHOUSE_UNUSED on OLD_REPORTING_WH")
    # one the config still names gets no Fix (the recipe would refuse it) and says what to move first
    kept = unused["KEPT_WH"]
    assert kept.fix is None and "user PRAMAN (default_warehouse)" in kept.message


def test_removing_a_warehouse_that_ran_saves_what_it_metered(account):
    src, warehouses, planted = account
    p = project_request(src, "remove-warehouse", {"name": planted.idle_warehouse}, warehouses, 2.5, day=END)
    usage = ask(src, "warehouse_usage", **window(END - dt.timedelta(days=29), END)).set_index("WAREHOUSE_NAME")
    # its 30 days of metering per month (365.25 / 12 days)
    assert p.current_credits == pytest.approx(float(usage.loc[planted.idle_warehouse, "CREDITS_USED"]) * 365.25 / 12 / 30)
    assert p.projected_credits == 0 and p.current_money - p.projected_money == pytest.approx(p.current_credits * 2.5)


def test_budget_status_and_budget_events(account):
    src, _, _ = account
    prices = Prices(3.0)
    status = budget_status(src, END, prices, 500.0, {"BI_WH": 10_000.0})
    acc = status["account"]
    assert status["month"] == "2026-03" and acc["used_share"] == pytest.approx(acc["month_to_date"] / 500)
    assert acc["projected"] >= acc["month_to_date"] and acc["status"] in ("On track", "At risk", "Over budget")
    events = spend_events(src, prices, budget_monthly=acc["month_to_date"] / 0.9, budget_by_warehouse={"BI_WH": 10_000.0})
    ids = {e["id"] for e in events}
    assert "cost.budget.2026-03.80" in ids and "cost.budget.2026-03.100" not in ids  # 90 % used: 80 crossed, not 100
    assert not any(i.startswith("cost.budget.2026-03.BI_WH") for i in ids)  # far below its own budget
    over = spend_events(src, prices, budget_monthly=acc["month_to_date"] / 2)
    assert {"cost.budget.2026-03.80", "cost.budget.2026-03.100"} <= {e["id"] for e in over}
    assert next(e for e in over if e["id"] == "cost.budget.2026-03.100")["severity"] == "high"


def test_the_planted_anomaly_is_one_event_with_a_stable_id_and_its_cause(account):
    src, _, planted = account
    events = spend_events(src, Prices(3.0))
    assert [e["id"] for e in events] == [f"cost.anomaly.{planted.spike_day.isoformat()}"]
    e = events[0]
    assert e["severity"] == "high" and set(e) == {"id", "severity", "title", "text"}
    assert planted.spike_warehouse in e["text"] and "pattern" in e["text"]
    assert spend_events(src, Prices(3.0)) == events  # the same id on every run: a sender sends it once


def test_days_over_the_threshold_are_events(account):
    src, _, planted = account
    spike = planted.spike_day.isoformat()
    events = spend_events(src, Prices(3.0), threshold_per_day=200.0)
    over = [e for e in events if e["id"].startswith("cost.day-over-threshold.")]
    assert [e["id"] for e in over] == [f"cost.day-over-threshold.{spike}"]  # only the spike costs over 200 a day
    assert not [e for e in spend_events(src, Prices(3.0), threshold_per_day=10_000.0) if "threshold" in e["id"]]


def test_the_cli_summary_has_the_new_sections(account):
    src, warehouses, _ = account
    report = summary(src, 30, 3.0, budget_monthly=1000.0, warehouses=warehouses)
    assert report["previous"]["end"] == (END - dt.timedelta(days=30)).isoformat()
    assert report["previous"]["change"]["credits"] == pytest.approx(report["total_credits"] / report["previous"]["credits"] - 1)
    assert report["budget"]["account"]["budget"] == 1000.0
    assert len(report["top_spenders"]) == 5 and len(report["query_patterns"]) == len(demo_planted._TEMPLATES)  # one per template
    assert any(r["code"] == "WAREHOUSE_IDLE" for r in report["recommendations"])
    assert report["anomalies"][0]["user"] and report["anomalies"][0]["top_warehouse"] == "DATA_SCIENCE_WH"


def test_the_alerts_provider_reads_the_settings(account):
    from types import SimpleNamespace

    from app.cost_alerts import spend_events_for
    from app.settings import Settings

    src, _, planted = account
    settings = Settings(price_per_credit=3.0, budget_monthly=1.0, alert_spend_threshold=200.0,
                        alert_budget_shares="0.8,1.0", budget_by_warehouse="bi_wh=100000")
    assert settings.budget_by_warehouse == {"BI_WH": 100000.0} and settings.alert_budget_shares == [0.8, 1.0]
    ids = {e["id"] for e in spend_events_for(SimpleNamespace(settings=settings), src)}
    spike = planted.spike_day.isoformat()
    assert {f"cost.anomaly.{spike}", f"cost.day-over-threshold.{spike}", "cost.budget.2026-03.80",
            "cost.budget.2026-03.100"} == ids


@pytest.mark.parametrize("bad", [{"alert_budget_shares": "0"}, {"alert_budget_shares": "0.8,nan"},
                                 {"budget_by_warehouse": "BI_WH=-5"}, {"budget_by_warehouse": "not a name=5"},
                                 {"budget_monthly": -1}, {"alert_spend_threshold": float("inf")}])
def test_bad_budget_settings_are_refused(bad):
    from pydantic import ValidationError

    from app.settings import Settings

    with pytest.raises(ValidationError):
        Settings(**bad)


def test_under_an_env_prefix_a_fix_names_the_warehouse_as_its_recipe_field_does(account, tmp_path):
    """The account's views and describe() carry SnowDDL's prefixed names (DEV__OLD_REPORTING_WH); a recipe's name
    field holds the config's (OLD_REPORTING_WH): a Fix once carried the prefixed one, which the recipe refuses."""
    import shutil

    from core.snowddl.commit_snapshot import Snapshot
    from recipes import RECIPES

    src, warehouses, _ = account
    folder = tmp_path / "snowddl"
    shutil.copytree(ROOT / "snowddl", folder)
    (folder / "warehouse.yaml").write_text((folder / "warehouse.yaml").read_text()
                                           + "\nOLD_REPORTING_WH:\n  size: MEDIUM\n  auto_suspend: 60\n")
    config = load_config(folder, env_prefix="DEV")
    rows = {w["name"]: w for w in describe(config)["warehouses"]}
    assert rows["DEV__OLD_REPORTING_WH"]["config_name"] == "OLD_REPORTING_WH"
    recs = recommend(src, warehouses + [rows["DEV__OLD_REPORTING_WH"]], 2.5)
    [old] = [r for r in recs if r.warehouse == "DEV__OLD_REPORTING_WH"]
    assert old.fix.recipe == "remove-warehouse" and old.fix.fields["name"] == "OLD_REPORTING_WH"
    base = Snapshot(folder, None, config)
    assert RECIPES["remove-warehouse"].parse(old.fix.fields, base).name == "OLD_REPORTING_WH"


def test_under_an_env_prefix_a_request_is_projected_from_the_prefixed_warehouses_metering(account, monkeypatch):
    """A request's name is the config's (BI_WH); under env prefix DEV the account meters DEV__BI_WH. Removing a
    warehouse that ran was once projected as 0 ("it did not run: saves nothing"), a resize from no current size."""
    from core.snowflake import projection

    src, warehouses, planted = account
    name = planted.idle_warehouse
    plain_remove = project_request(src, "remove-warehouse", {"name": name}, warehouses, 2.5, day=END)
    plain_resize = project_request(src, "change-warehouse", {"name": name, "size": "XSMALL"}, warehouses, 2.5, day=END)
    assert plain_remove.current_credits > 0
    # the account as SnowDDL deploys the config under env prefix DEV: every warehouse metered as DEV__<name>
    prefixed = [{**w, "name": "DEV__" + w["name"], "config_name": w["name"]} for w in warehouses]
    real_ask = projection.ask

    def ask_prefixed(source, question, **binds):
        frame = real_ask(source, question, **binds)
        if "WAREHOUSE_NAME" in frame.columns:
            frame = frame.assign(WAREHOUSE_NAME="DEV__" + frame["WAREHOUSE_NAME"])
        return frame

    monkeypatch.setattr(projection, "ask", ask_prefixed)
    removed = project_request(src, "remove-warehouse", {"name": name}, prefixed, 2.5, day=END)
    assert removed.warehouse == "DEV__" + name and removed.current_credits == pytest.approx(plain_remove.current_credits)
    resized = project_request(src, "change-warehouse", {"name": name, "size": "XSMALL"}, prefixed, 2.5, day=END)
    assert resized.current_credits == pytest.approx(plain_resize.current_credits)
    assert resized.projected_credits == pytest.approx(plain_resize.projected_credits)
