"""The cost page by eye, at 1,440 and 390 px: each headline against the previous period, the month against the
budget, the anomaly marked on the main chart with its cause, the idle-warehouse recommendation whose Fix opens a
previewed request. The first screen at 1,440 px goes to docs/screenshot-cost.png."""
from __future__ import annotations

from pathlib import Path

import pytest

from test_demo_flow import go, idle, served_demo, shot, sign_in  # noqa: F401  (fixtures and helpers)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
BUDGET = "3000"  # USD a month: the demo account bills about that much


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`snowtower demo` with a monthly budget set (SNOWTOWER_BUDGET_MONTHLY), so the budget line shows."""
    with served_demo(tmp_path_factory.mktemp("cost-workspace"), SNOWTOWER_BUDGET_MONTHLY=BUDGET) as served:
        yield served


def open_cost(page, url: str | None = None) -> None:
    """Wait for the cost page's figures and chart; with `url`, open it by its address first."""
    if url:
        page.goto(url + "/cost")
    page.get_by_test_id("stMetric").nth(4).wait_for(timeout=90000)
    idle(page, timeout=90)
    page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first.wait_for()


def assert_meaning(page) -> None:
    deltas = page.get_by_test_id("stMetricDelta").all_inner_texts()
    assert sum(" vs " in d for d in deltas) == 4, deltas  # credits, compute, spend, idle against the previous period
    assert any(d.endswith("of the budget") for d in deltas), deltas
    # the demo account has Snowflake's own account budget: the headline holds the month against it (its limit in
    # credits), and names its source; the setting's 3,000 USD is in the Budget tab
    line = page.get_by_test_id("stMarkdownContainer").filter(has_text="Budget 20").first.inner_text()
    assert " USD spent (" in line and " credits)" in line, line
    source = page.get_by_test_id("stCaptionContainer").filter(has_text="Budget source:").first.inner_text()
    assert "Snowflake's account budget (SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET)" in source, source
    assert "budget_monthly (3,000 USD) is in the Budget tab" in source, source
    anomaly = page.get_by_test_id("stCaptionContainer").filter(has_text="DATA_SCIENCE_WH used").first.inner_text()
    assert "▼ Anomaly" in anomaly and "credits against a usual" in anomaly, anomaly
    page.get_by_text("BI_WH: BI_WH was idle for", exact=False).wait_for()
    assert page.get_by_text("saves ~", exact=False).count() >= 1


def test_cost_at_1440_and_390_px_and_a_recommendations_fix(demo, browser):  # noqa: F811
    url, _ = demo
    page = sign_in(browser, url, "admin", width=1440)
    go(page, "Cost")
    open_cost(page)
    assert_meaning(page)
    page.set_viewport_size({"width": 1440, "height": 1500})  # the first screen and the recommendations below it
    page.wait_for_timeout(1500)  # the chart's canvas finishes drawing
    sidebar = page.get_by_test_id("stSidebar").bounding_box()["width"]  # left out: it names the test's workspace folder
    page.screenshot(path=str(ROOT / "docs" / "screenshot-cost.png"),
                    clip={"x": sidebar, "y": 60, "width": 1440 - sidebar, "height": 1440})
    shot(page, "cost-meaning-1440")
    page.set_viewport_size({"width": 1440, "height": 1000})

    # one click on the idle warehouse's Fix: the change-warehouse request, filled in and previewed, with its saving
    row = page.get_by_test_id("stHorizontalBlock").filter(has_text="BI_WH: BI_WH was idle for")
    row.get_by_role("button", name="Fix").click()
    idle(page, timeout=90)
    page.get_by_text("Projected monthly cost").wait_for(timeout=90000)
    # the notice, not the justification it also fills in (a textarea drawn with its value matches text too)
    page.get_by_test_id("stAlertContentInfo").get_by_text("Fixes finding WAREHOUSE_IDLE on BI_WH", exact=False).wait_for()
    shot(page, "cost-meaning-fix-preview")
    page.get_by_role("button", name="Submit request").wait_for()

    phone = sign_in(browser, url, "admin", width=390)
    open_cost(phone, url)
    assert_meaning(phone)
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 400, width  # nothing pushes the page wider than the phone
    shot(phone, "cost-meaning-390")
