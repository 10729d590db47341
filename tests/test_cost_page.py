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
    assert len(downloads) == 10 and all(label.startswith("Download ") and label.endswith(".csv") for label in downloads)


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
    at = AppTest.from_file(str(ROOT / "pages" / "warehouse.py"), default_timeout=TIMEOUT)
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
