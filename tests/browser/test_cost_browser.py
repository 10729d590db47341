"""The cost page in a real browser: only admins see it, its charts draw, and a warehouse change shows its
cost on the review page. Screenshots go to test-artifacts/ for a person to look at."""
from __future__ import annotations

import pytest

from test_demo_flow import demo, go, idle, shot, sign_in  # noqa: F401  (fixtures and helpers)

pytestmark = pytest.mark.browser
TABS = ["Over time", "Users and roles", "Idle", "Storage", "Expensive queries", "Budgets and forecast"]


def test_cost_page_for_admins_and_the_cost_of_a_warehouse_change(demo, browser):  # noqa: F811
    url, workspace = demo

    page = sign_in(browser, url, "requester")
    assert page.get_by_test_id("stSidebarNav").get_by_role("link", name="Cost").count() == 0
    go(page, "Resize a warehouse")
    page.get_by_test_id("stSelectbox").filter(has_text="Warehouse").first.click()
    page.keyboard.type("BI_WH")
    page.get_by_role("option", name="BI_WH").click()
    idle(page)
    page.get_by_role("textbox", name="Auto-suspend (seconds)").fill("60")
    page.get_by_role("textbox", name="Justification").fill("BI_WH idles five minutes after every dashboard refresh.")
    page.get_by_role("button", name="Preview").click()
    idle(page, timeout=90)
    page.get_by_text("Projected monthly cost").wait_for()
    page.get_by_text("After this change, per month").wait_for()
    shot(page, "cost-01-preview-projection")
    page.get_by_role("button", name="Submit request").click()
    idle(page)
    page.get_by_text("Submitted as #1").wait_for()

    page = sign_in(browser, url, "admin")
    go(page, "Review queue")
    page.get_by_text("Projected monthly cost").wait_for()
    page.get_by_text("BI_WH's last 30 days of metering", exact=False).wait_for()
    shot(page, "cost-02-review-projection")

    go(page, "Cost")
    page.get_by_test_id("stMetric").nth(3).wait_for()
    labels = page.get_by_test_id("stMetricLabel").all_inner_texts()
    assert labels[1] == "Warehouse compute (USD)" and labels[4] == "Idle compute"
    for i, tab in enumerate(TABS):
        page.get_by_role("tab", name=tab).click()
        idle(page)
        panel = page.get_by_role("tabpanel")  # the visible one
        if tab not in ("Over time", "Expensive queries"):
            panel.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first.wait_for()
        else:
            panel.get_by_test_id("stDataFrame").first.wait_for()
        shot(page, f"cost-{i + 3:02d}-{tab.lower().replace(' ', '-')}")
    # the CSV of a table downloads as a file
    page.get_by_role("tab", name="Over time").click()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download credits_by_warehouse_by_day.csv").click()
    assert info.value.suggested_filename == "credits_by_warehouse_by_day.csv"
    header = open(info.value.path(), encoding="utf-8").readline().strip()
    assert header == "DAY,WAREHOUSE_NAME,CREDITS_USED,CREDITS_COMPUTE,CREDITS_CLOUD_SERVICES,CREDITS_QUERIES,CREDITS_IDLE,CREDITS_NOT_YET_ATTRIBUTED,MONEY"
