"""The cost page and the cost of warehouse requests under Streamlit's AppTest."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.snowflake import demo
from core.snowflake.cost import Prices, spend, window
from core.snowflake.queries import ask
from portal import ui
from tests.identity_support import give_login
from tests.portal_support import page_app

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    path = tmp_path / "workspace"
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(path))
    monkeypatch.setenv("SNOWTOWER_DEMO_QUERY_ROWS", "5000")
    monkeypatch.setenv("SNOWTOWER_PRICE_PER_CREDIT", "2.5")
    return path


def page(name: str, actor) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=TIMEOUT)
    at.session_state[ui.VIEWER_KEY] = actor
    return at.run()


def charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]


def chart_titles(at: AppTest) -> list[str]:
    out = []
    for spec in charts(at):
        title = spec.get("title") or next((layer.get("title") for layer in spec.get("layer", []) if layer.get("title")), None)
        out.append(title["text"] if isinstance(title, dict) else title)
    return out


def test_requesters_and_approvers_cannot_see_cost(workspace, people):
    for who in ("requester", "approver"):
        at = page("cost", people[who])
        assert [e.value for e in at.error] == ["The cost page is for admins."]
        assert not charts(at) and not at.metric


def test_admin_sees_every_chart_with_titles_units_and_tooltips(workspace, people):
    at = page("cost", people["admin"])
    assert not at.exception, at.exception
    assert chart_titles(at) == [
        "Credits per day by warehouse", "Credits by user", "Credits by role", "Compute credits: queries versus idle",
        "Storage by database (table data and fail-safe)", "Resource monitors: credits used this period against the quota",
        "Credits per day, with anomalous days"]
    text = json.dumps(charts(at))
    for unit in ("Credits", "Storage (GiB)", "Day (UTC)", "Money (USD)"):
        assert unit in text
    assert all("tooltip" in json.dumps(spec) for spec in charts(at))
    downloads = [d.label for d in at.get("download_button")]
    assert len(downloads) == 13 and all(label.startswith("Download ") and label.endswith(".csv") for label in downloads)
    assert "Download budgets.csv" in downloads  # the demo account's Snowflake budgets, without any budget setting


def test_the_figures_are_the_query_layers_at_the_price_setting(workspace, people):
    at = page("cost", people["admin"])
    services = ui.services()
    src = services.snowflake_source()
    last = dt.date.fromisoformat(demo.meta(services.workspace.account_dir)["END_DATE"])
    daily = ask(src, "warehouse_credits_daily", **window(last - dt.timedelta(days=29), last))
    metrics = {m.label: m.value for m in at.metric}
    credits = daily["CREDITS_USED"].sum()
    assert metrics[f"Credits {last - dt.timedelta(days=29):%b %d} to {last:%b %d}"] == f"{credits:,.0f}"
    assert metrics["Warehouse compute (USD)"] == f"{daily['CREDITS_COMPUTE'].sum() * 2.5:,.0f}"
    bill = spend(src, last - dt.timedelta(days=29), last, Prices(2.5, {}, 23.0, 20.0))
    assert metrics["Spend, all services (USD)"] == f"{bill['total_money']:,.0f}"
    assert any(c.value.startswith(f"Complete days up to {last:%Y-%m-%d} (UTC); metering filled to") for c in at.caption)
    # only BI_WH: the figures follow the filter
    at.multiselect(key="cost.warehouses").set_value(["BI_WH"]).run()
    bi = daily.loc[daily["WAREHOUSE_NAME"] == "BI_WH", "CREDITS_COMPUTE"].sum()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Warehouse compute (USD)"] == f"{bi * 2.5:,.0f}" and metrics["Idle compute"] == "75%"
    assert metrics["Spend, all services (USD)"] == f"{bill['total_money']:,.0f}"  # the bill is the account's, unfiltered


def test_the_spike_shows_as_an_anomalous_day(workspace, people):
    at = page("cost", people["admin"])
    spike = demo.meta(ui.services().workspace.account_dir)["SPIKE_DAY"]
    frames = [df.value for df in at.dataframe]
    anomalous = next(f for f in frames if "IS_ANOMALY" in f.columns)
    assert [str(d) for d in anomalous["DAY"]] == [spike]


def test_a_damaged_account_is_made_again(workspace, people):
    ui.services().sync_demo_account(generate=True)
    (ui.services().workspace.account_dir / "SNOWFLAKE.db").write_bytes(b"not a database")
    at = page("cost", people["admin"])
    assert not at.exception and not at.error
    assert len(charts(at)) == 7


def test_an_account_that_cannot_be_made_is_a_message_not_a_traceback(workspace, people):
    account_dir = ui.services().workspace.account_dir
    account_dir.parent.mkdir(parents=True, exist_ok=True)
    account_dir.write_text("a file where the folder should be")
    at = page("cost", people["admin"])
    assert not at.exception
    assert at.error and at.error[0].value.startswith("The account's usage cannot be read: the demo account cannot be made")


def _warehouse_request(services, people, raw, recipe="change-warehouse"):
    from app.operations import PreviewRequest, SubmitRequest
    from recipes import RECIPES

    preview = PreviewRequest(services, RECIPES[recipe], raw).execute()
    return SubmitRequest(services, people["requester"], RECIPES[recipe], raw, preview.base_sha).execute()


def test_review_shows_the_projected_monthly_cost_of_a_warehouse_change(workspace, people):
    services = ui.services()
    _warehouse_request(services, people, {"name": "BI_WH", "auto_suspend": "60",
                                          "justification": "BI_WH idles five minutes after every refresh."})
    at = page("review", people["approver"])
    metrics = {m.label: (m.value, m.delta) for m in at.metric}
    assert set(metrics) == {"Today, per month", "After this change, per month"}
    today, after = metrics["Today, per month"][0], metrics["After this change, per month"]
    assert today.endswith(" USD") and after[1].startswith("-")  # a shorter auto-suspend costs less
    assert any("BI_WH's last 30 days of metering" in c.value for c in at.caption)


def test_preview_of_a_new_warehouse_marks_its_cost_as_an_estimate(workspace, people):
    at = page_app("warehouse", TIMEOUT)
    at.session_state[ui.VIEWER_KEY] = people["requester"]
    at.run()
    at.text_input(key="warehouse.name").input("MARKETING_WH")
    at.selectbox(key="warehouse.size").set_value("LARGE")
    at.text_input(key="warehouse.auto_suspend").input("60")
    at.text_area(key="warehouse.justification").input("Campaign analysis moves off the analyst warehouse.")
    at = next(b for b in at.button if b.label == "Preview").click().run()
    assert not at.exception
    assert any("**Projected monthly cost** :orange-badge[estimate]" == m.value for m in at.markdown)
    assert [m.label for m in at.metric] == ["After this change, per month"]
    assert any(c.value.startswith("estimate: MARKETING_WH has no metering yet") for c in at.caption)


def test_the_date_range_narrows_every_figure(workspace, people):
    at = page("cost", people["admin"])
    services = ui.services()
    spike = dt.date.fromisoformat(demo.meta(services.workspace.account_dir)["SPIKE_DAY"])
    at.date_input(key="cost.range").set_value((spike, spike)).run()
    daily = ask(services.snowflake_source(), "warehouse_credits_daily", **window(spike, spike))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[f"Credits {spike:%b %d} to {spike:%b %d}"] == f"{daily['CREDITS_USED'].sum():,.0f}"
    top = next(df.value for df in at.dataframe if "QUERY_TEXT" in df.value.columns)
    assert {pd.Timestamp(t).date() for t in top["START_TIME"]} == {spike}


def test_without_a_snowflake_connection_the_page_and_the_projection_say_so(workspace, people, monkeypatch):
    monkeypatch.setenv("SNOWTOWER_MODE", "production")  # not the demo: st.connection("snowflake"), none configured
    at = page("cost", people["admin"])
    assert not at.exception
    assert at.error and at.error[0].value.startswith("The account's usage cannot be read: no Snowflake connection")
    give_login(ui.services().workspace.auth_path, people["requester"])  # demo logins do not count outside the demo
    _warehouse_request(ui.services(), people, {"name": "BI_WH", "size": "MEDIUM", "justification": "Dashboards queue on Mondays."})
    at = page("review", people["approver"])
    assert not at.exception and not at.metric
    assert any(c.value.startswith("Cost projection unavailable: no Snowflake connection") for c in at.caption)


def _weekend_day(services) -> dt.date:
    day = dt.date.fromisoformat(demo.meta(services.workspace.account_dir)["END_DATE"])
    while day.weekday() != 5:  # BI_WH, kept awake by weekday dashboards, does not run on Saturdays
        day -= dt.timedelta(days=1)
    return day


def test_a_warehouse_filter_that_selects_nothing_in_the_range_says_so_and_keeps_the_choice(workspace, people):
    at = page("cost", people["admin"])
    services = ui.services()
    saturday = _weekend_day(services)
    at.multiselect(key="cost.warehouses").set_value(["BI_WH"]).run()
    at.date_input(key="cost.range").set_value((saturday, saturday)).run()
    assert not at.exception, at.exception
    assert at.multiselect(key="cost.warehouses").value == ["BI_WH"]  # not silently widened to every warehouse
    assert [i.value for i in at.info] == [f"No credits for BI_WH from {saturday:%Y-%m-%d} to {saturday:%Y-%m-%d} (UTC): "
                                          "it did not run then. Pick other days or warehouses."]
    assert not charts(at) and not at.metric


def test_a_single_picked_day_is_that_day_not_the_last_30(workspace, people):
    at = page("cost", people["admin"])
    services = ui.services()
    spike = dt.date.fromisoformat(demo.meta(services.workspace.account_dir)["SPIKE_DAY"])
    at.date_input(key="cost.range").set_value((spike,)).run()  # the range picker closed after one click
    daily = ask(services.snowflake_source(), "warehouse_credits_daily", **window(spike, spike))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[f"Credits {spike:%b %d} to {spike:%b %d}"] == f"{daily['CREDITS_USED'].sum():,.0f}"


def test_a_range_given_end_first_is_the_same_days(workspace, people):
    at = page("cost", people["admin"])
    services = ui.services()
    spike = dt.date.fromisoformat(demo.meta(services.workspace.account_dir)["SPIKE_DAY"])
    before = spike - dt.timedelta(days=3)
    at.date_input(key="cost.range").set_value((spike, before)).run()  # set by a script, not the calendar
    daily = ask(services.snowflake_source(), "warehouse_credits_daily", **window(before, spike))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[f"Credits {before:%b %d} to {spike:%b %d}"] == f"{daily['CREDITS_USED'].sum():,.0f}"


# --- cost with meaning: previous period, budget, anomaly on the main chart, spenders, patterns, recommendations ---

def test_each_headline_carries_its_change_against_the_previous_period_of_the_same_length(workspace, people):
    at = page("cost", people["admin"])
    assert not at.exception, at.exception
    services = ui.services()
    src = services.snowflake_source()
    last = dt.date.fromisoformat(demo.meta(services.workspace.account_dir)["END_DATE"])
    start = last - dt.timedelta(days=29)
    prev = ask(src, "warehouse_credits_daily", **window(start - dt.timedelta(days=30), start - dt.timedelta(days=1)))
    now = ask(src, "warehouse_credits_daily", **window(start, last))
    expected = now["CREDITS_USED"].sum() / prev["CREDITS_USED"].sum() - 1
    vs = f"vs {start - dt.timedelta(days=30):%b %d} to {start - dt.timedelta(days=1):%b %d}"
    deltas = {m.label: m.delta for m in at.metric}
    assert deltas[f"Credits {start:%b %d} to {last:%b %d}"] == f"{expected:+.0%} {vs}"
    assert deltas["Warehouse compute (USD)"].endswith(vs) and deltas["Spend, all services (USD)"].endswith(vs)
    assert deltas["Idle compute"].endswith(f"points {vs}")
    # without budget_monthly the demo's own Snowflake account budget is held against, and the page says so
    assert any(c.value.startswith("Budget source: Snowflake's account budget (SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET)")
               for c in at.caption)


def test_the_month_is_held_against_the_budget(workspace, people, monkeypatch):
    monkeypatch.setenv("SNOWTOWER_BUDGET_MONTHLY", "1000")
    monkeypatch.setenv("SNOWTOWER_BUDGET_BY_WAREHOUSE", "BI_WH=100")
    at = page("cost", people["admin"])
    assert not at.exception, at.exception
    services = ui.services()
    last = dt.date.fromisoformat(demo.meta(services.workspace.account_dir)["END_DATE"])
    src = services.snowflake_source()
    from core.snowflake.cost import budget_status

    from core.snowflake.budgets import read_budgets

    status = budget_status(src, last, Prices(2.5, {}, 23.0, 20.0), 1000.0, {"BI_WH": 100.0}, read_budgets(src))
    # Snowflake's account budget is the headline (what Snowflake notifies on); the setting's is in the Budget tab
    head = status["headline"]
    assert head["source"] == "Snowflake: SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET"
    line = next(m.value for m in at.markdown if "**Budget " in m.value)
    assert (f"{head['month_to_date']:,.0f} USD of {head['budget']:,.0f} USD spent ({head['month_to_date_credits']:,.0f} of "
            f"{head['budget_credits']:,.0f} credits) ({head['used_share']:.0%})") in line
    assert head["status"] in line
    forecast = next(m for m in at.metric if m.label.endswith("forecast"))
    assert forecast.delta == f"{head['projected_share']:.0%} of the budget"
    assert any("budget_monthly (1,000 USD) is in the Budget tab" in c.value for c in at.caption)
    budgets = next(df.value for df in at.dataframe if "budget_of" in df.value.columns)
    assert list(budgets["budget_of"]) == ["Account (Snowflake budget)", "FINOPS.BUDGETS.BI_WH_BUDGET (Snowflake budget)",
                                          "DATA_SCIENCE_WH (Snowflake budget)", "Account (billed, all services)", "BI_WH"]
    assert list(budgets["source"])[3:] == ["Setting: budget_monthly", "Setting: budget_by_warehouse"]
    assert budgets["used_share"].iloc[3] == pytest.approx(status["account"]["used_share"])
    assert budgets["used_share"].iloc[4] == pytest.approx(status["warehouses"][0]["used_share"])
    # the custom budget whose objects the role may not read says so, in plain text
    assert any(c.value.startswith("FINOPS.BUDGETS.BI_WH_BUDGET: what it monitors cannot be read") for c in at.caption)


def test_without_readable_snowflake_budgets_the_page_says_why_and_uses_the_setting(workspace, people, monkeypatch):
    import duckdb

    from core.snowflake.connect import STANDIN_FILE

    monkeypatch.setenv("SNOWTOWER_BUDGET_MONTHLY", "1000")
    page("cost", people["admin"])  # generates the demo account
    path = Path(ui.services().workspace.account_dir) / STANDIN_FILE
    db = duckdb.connect(str(path))
    try:
        db.execute("UPDATE SNOWTOWER_DEMO.BUDGETS SET VIEWER = false")  # the portal's role holds no budget role
    finally:
        db.close()
    at = page("cost", people["admin"])
    assert not at.exception, at.exception
    line = next(m.value for m in at.markdown if "**Budget " in m.value)
    assert "of 1,000 USD spent" in line and "credits)" not in line
    assert any(c.value.startswith("Budget source: the settings' budget_monthly") for c in at.caption)
    reasons = [c.value for c in at.caption if "cannot be read" in c.value]
    assert reasons and "not authorized" in reasons[0] and "GRANT APPLICATION ROLE SNOWFLAKE.BUDGET_VIEWER" in reasons[0]


def test_the_anomaly_is_marked_on_the_main_chart_with_its_cause(workspace, people):
    at = page("cost", people["admin"])
    spike = demo.meta(ui.services().workspace.account_dir)["SPIKE_DAY"]
    main = charts(at)[0]
    layers = main["layer"]
    assert layers[0]["title"]["text"] == "Credits per day by warehouse"
    marks = [layer for layer in layers[1:]]
    assert {m["mark"]["type"] for m in marks} == {"rule", "point", "text"}
    el = at.get("vega_lite_chart")[0]
    name = marks[0]["data"]["name"]
    import pyarrow as pa

    raw = next(d.data.data for d in el.proto.datasets if d.name == name)
    data = pa.ipc.open_stream(raw).read_all().to_pandas().to_dict("records")
    assert [row["WAREHOUSE"] for row in data] == ["DATA_SCIENCE_WH"] and str(data[0]["DAY"]).startswith(spike)
    assert data[0]["USER"] != "(not attributed yet)" and data[0]["PATTERN"].startswith("CREATE OR REPLACE TABLE PROJ_CHURN")
    tooltips = {t["title"] for t in marks[0]["encoding"]["tooltip"]}
    assert {"Warehouse", "User", "Query pattern"} <= tooltips
    caption = [c.value for c in at.caption if "Anomaly]" in c.value]
    assert len(caption) == 1 and spike in caption[0] and "DATA_SCIENCE_WH used" in caption[0]


def test_top_spenders_and_query_patterns_group_repeats_with_readable_columns(workspace, people):
    at = page("cost", people["admin"])
    frames = {tuple(df.value.columns): df for df in at.dataframe}
    spenders = next(df for cols, df in frames.items() if cols[:2] == ("user", "credits"))
    assert len(spenders.value) == 5 and list(spenders.value["credits"]) == sorted(spenders.value["credits"], reverse=True)
    patterns = next(df for cols, df in frames.items() if "sample_text" in cols)
    assert patterns.value["pattern"].is_unique and (patterns.value["queries"] > 1).all()  # repeats are one row
    assert (patterns.value["average_credits"] * patterns.value["queries"]).round(6).tolist() == \
        patterns.value["credits"].round(6).tolist()
    config = patterns.proto.columns  # readable labels and units; the hash is hidden unless asked for
    spec = json.loads(config)
    assert spec["credits"]["label"] == "Credits" and spec["money"]["label"] == "Money (USD)"
    assert spec["money"]["type_config"]["format"] == "accounting"
    assert "pattern" not in list(patterns.proto.column_order)
    at.toggle(key="cost.technical").set_value(True).run()
    patterns = next(df for df in at.dataframe if "sample_text" in df.value.columns)
    assert "pattern" in list(patterns.proto.column_order)


def test_the_idle_warehouse_is_recommended_with_its_saving_and_a_fix(workspace, people):
    at = page("cost", people["admin"])
    texts = [t.value for t in at.text]
    idle = next(t for t in texts if t.startswith("BI_WH: BI_WH was idle for"))
    assert "auto-suspend after 300 s: suspend it after 60 s" in idle
    assert any(m.value.startswith("**saves ~") for m in at.markdown)
    fixes = [b for b in at.button if b.key and b.key.startswith("cost.fix.")]
    assert fixes and fixes[0].label == "Fix"


def test_a_recommendations_fix_is_a_previewed_request_whose_review_shows_the_saving(workspace, people):
    """Recommendation -> its Fix opens change-warehouse filled in and previewed (what recipe_form.start_fix hands
    over) -> Submit -> the review's cost projection is lower by the saving the recommendation stated."""
    from core.snowflake.recommend import recommend
    from portal.recipe_form import PENDING_KEY
    from tests.portal_support import as_viewer

    services = ui.services()
    services.sync_demo_account(generate=True)
    config = __import__("core.snowddl.inventory", fromlist=["describe"]).describe(services.snapshot().config)
    rec = next(r for r in recommend(services.snowflake_source(), config["warehouses"], 2.5) if r.code == "WAREHOUSE_IDLE")
    assert rec.warehouse == "BI_WH" and rec.fix.fields["auto_suspend"] == "60" and rec.saving_money > 0

    def script():
        import streamlit as st

        from core.snowddl.inventory import describe
        from core.snowflake.recommend import recommend
        from portal import recipe_form, ui

        if "opened" not in st.session_state:  # as the cost page's Fix button does (start_fix), without switching page
            st.session_state.opened = True
            services = ui.services()
            r = next(r for r in recommend(services.snowflake_source(), describe(services.snapshot().config)["warehouses"],
                                          float(services.settings.price_per_credit)) if r.code == "WAREHOUSE_IDLE")
            st.session_state[recipe_form.PENDING_KEY] = {"recipe": r.fix.recipe, "id": None, "ref": None,
                                                         "raw": dict(r.fix.fields), "comment": "", "fixes": r.title,
                                                         "preview": r.fix.complete}
        recipe_form.recipe_page("change-warehouse", "change_warehouse.", "intro", outside=("name",))

    at = AppTest.from_function(script, default_timeout=TIMEOUT)
    as_viewer(at, people["requester"])
    at.run()
    assert not at.exception, at.exception
    assert PENDING_KEY not in at.session_state
    assert any("Fixes finding WAREHOUSE_IDLE on BI_WH" in i.value for i in at.info)
    shown = {m.label: (m.value, m.delta) for m in at.metric if "per month" in m.label}
    assert shown["After this change, per month"][1] == f"{-rec.saving_money:+,.0f} USD"  # the preview shows the saving
    next(b for b in at.button if b.label == "Submit request").click().run()
    assert not at.exception, at.exception
    crs = services.changes.list()
    assert len(crs) == 1 and crs[0].request["auto_suspend"] == 60 and crs[0].justification == rec.fix.fields["justification"]

    review = page("review", people["approver"])
    metrics = {m.label: (m.value, m.delta) for m in review.metric if "per month" in m.label}
    assert metrics["Today, per month"][0] == f"{rec.current_credits * 2.5:,.0f} USD"
    assert metrics["After this change, per month"] == (f"{rec.projected_credits * 2.5:,.0f} USD", f"{-rec.saving_money:+,.0f} USD")


def test_the_unused_warehouses_fix_is_a_previewed_removal_whose_review_shows_its_cost(workspace, people):
    """WAREHOUSE_UNUSED -> its Fix opens remove-warehouse filled in and previewed -> Submit -> the review shows what
    the warehouse cost in its last 30 days (0: it did not run), the drop flag and that SnowDDL needs --apply-unsafe."""
    from core.snowddl.inventory import describe
    from core.snowflake.recommend import recommend
    from portal.recipe_form import PENDING_KEY
    from tests.portal_support import as_viewer

    services = ui.services()
    services.sync_demo_account(generate=True)  # the account first: the planted warehouse never ran
    repo, main = services.changes.repo, services.changes.base_head()
    text = repo.read_text(main, "snowddl/warehouse.yaml") + "\nOLD_REPORTING_WH:\n  size: MEDIUM\n  auto_suspend: 60\n"
    head = repo.commit_files(main, {"snowddl/warehouse.yaml": text}, "A warehouse nobody uses\n", ("Platform", "platform@example.com"))
    repo.update_ref("refs/heads/main", head, main)
    at = page("cost", people["admin"])
    assert not at.exception, at.exception
    assert any(t.value.startswith("OLD_REPORTING_WH: OLD_REPORTING_WH has not run in the last 30 days") and
               "nothing in the config uses it: remove it." in t.value for t in at.text)
    rec = next(r for r in recommend(services.snowflake_source(), describe(services.snapshot().config)["warehouses"], 2.5)
               if r.code == "WAREHOUSE_UNUSED")
    assert rec.warehouse == "OLD_REPORTING_WH" and rec.fix.recipe == "remove-warehouse" and rec.saving_money == 0

    def script():
        import streamlit as st

        from core.snowddl.inventory import describe
        from core.snowflake.recommend import recommend
        from portal import recipe_form, ui

        if "opened" not in st.session_state:  # as the cost page's Fix button does (start_fix), without switching page
            st.session_state.opened = True
            services = ui.services()
            r = next(r for r in recommend(services.snowflake_source(), describe(services.snapshot().config)["warehouses"],
                                          float(services.settings.price_per_credit)) if r.code == "WAREHOUSE_UNUSED")
            st.session_state[recipe_form.PENDING_KEY] = {"recipe": r.fix.recipe, "id": None, "ref": None,
                                                         "raw": dict(r.fix.fields), "comment": "", "fixes": r.title,
                                                         "preview": r.fix.complete}
        recipe_form.recipe_page("remove-warehouse", "remove_warehouse.", "intro", outside=("name",))

    at = AppTest.from_function(script, default_timeout=TIMEOUT)
    as_viewer(at, people["requester"])
    at.run()
    assert not at.exception, at.exception
    assert PENDING_KEY not in at.session_state
    assert any("Fixes finding WAREHOUSE_UNUSED on OLD_REPORTING_WH" in i.value for i in at.info)
    shown = {m.label: (m.value, m.delta) for m in at.metric if "per month" in m.label}
    assert shown["Today, per month"][0] == "0 USD" and shown["After this change, per month"][0] == "0 USD"
    page_text = " ".join(str(getattr(e, "value", "")) for e in at.markdown) + " ".join(c.value for c in at.caption)
    assert "--apply-unsafe" in page_text
    next(b for b in at.button if b.label == "Submit request").click().run()
    assert not at.exception, at.exception
    crs = services.changes.list()
    assert len(crs) == 1 and crs[0].recipe == "remove-warehouse" and crs[0].request["name"] == "OLD_REPORTING_WH"

    review = page("review", people["approver"])
    assert not review.exception, review.exception
    metrics = {m.label: (m.value, m.delta) for m in review.metric if "per month" in m.label}
    assert metrics["Today, per month"][0] == "0 USD" and metrics["After this change, per month"][0] == "0 USD"
    risks = next(df.value for df in review.dataframe if "Level" in df.value.columns)
    removed = risks[risks["Risk"].str.startswith("removes warehouse OLD_REPORTING_WH")]
    assert list(removed["Level"]) == ["high"] and "--apply-unsafe" in removed["Risk"].iloc[0]
