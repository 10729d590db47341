"""The security and infrastructure pages in a real browser: a finding becomes a submitted request in two
clicks (Fix, Submit), the CIS tab and the reach graph draw. Screenshots go to test-artifacts/."""
from __future__ import annotations

import pytest

from test_demo_flow import demo, go, idle, shot, sign_in  # noqa: F401  (fixtures and helpers)

pytestmark = pytest.mark.browser
TABS = ["All findings", "Authentication", "Logins", "Health scores", "CIS checks"]


def test_security_finding_to_fix_and_the_reach_graph(demo, browser):  # noqa: F811
    url, workspace = demo
    page = sign_in(browser, url, "requester")
    assert page.get_by_test_id("stSidebarNav").get_by_role("link", name="Security").count() == 0

    page = sign_in(browser, url, "admin")
    go(page, "Security")
    page.get_by_test_id("stMetric").nth(4).wait_for()
    labels = page.get_by_test_id("stMetricLabel").all_inner_texts()
    assert labels[0] == "MFA coverage (people)" and labels[2] == "Idle 90 days"
    for i, tab in enumerate(TABS):
        page.get_by_role("tab", name=tab).click()
        idle(page)
        if tab in ("Authentication", "Logins"):
            page.get_by_role("tabpanel").locator("[data-testid='stVegaLiteChart'] canvas, "
                                                 "[data-testid='stVegaLiteChart'] svg").first.wait_for()
        shot(page, f"security-{i + 1:02d}-{tab.lower().replace(' ', '-')}")
    page.get_by_role("tab", name="CIS checks").click()
    page.get_by_text("1.4 MFA is on for every human user with a password: FAIL").wait_for()
    page.get_by_text("1.9 Idle session timeout of at most 15 minutes for admin roles: NOT CHECKED").wait_for()

    # Finding to fix: click 1, Fix on the stale user; the offboard request opens filled in and previewed.
    page.get_by_text("STALE_USER · LMURPHY", exact=False).first.wait_for()  # high: in "Needs attention now"
    page.get_by_role("button", name="Fix", exact=True).first.click()
    idle(page, timeout=90)
    # the notice, not the justification it also fills in (a textarea drawn with its value matches text too)
    page.get_by_test_id("stAlertContentInfo").get_by_text("Fixes finding STALE_USER on LMURPHY").wait_for()
    page.get_by_text("Disables LMURPHY").first.wait_for()
    shot(page, "security-06-fix-previewed")
    # click 2: submit it for review
    page.get_by_role("button", name="Submit request").click()
    idle(page)
    page.get_by_text("Submitted as #1").wait_for()

    go(page, "Infrastructure")
    page.get_by_test_id("stSelectbox").filter(has_text="Kind").first.click()
    page.get_by_role("option", name="Schema").click()
    idle(page)
    page.get_by_test_id("stSelectbox").nth(1).click()  # the object picker, next to Kind
    page.keyboard.type("RAW.STRIPE")
    page.get_by_role("option", name="RAW.STRIPE").click()
    idle(page, timeout=60)
    page.get_by_text("8 user(s)").wait_for()
    page.get_by_text("Draw the graph").first.click()  # drawn on demand
    idle(page, timeout=60)
    page.get_by_test_id("stGraphVizChart").locator("svg").first.wait_for()
    shot(page, "infrastructure-01-who-can-reach")
    # the graph's labels are the names (HTML-like labels of character references draw as the text)
    graph_text = page.get_by_test_id("stGraphVizChart").locator("svg text").evaluate_all("els => els.map(e => e.textContent)")
    assert "SCHEMA RAW.STRIPE" in graph_text and "&#" not in " ".join(graph_text)
    # drift: the demo has no live connection, and says so
    page.get_by_role("tab", name="Drift").click()
    page.get_by_text("No live Snowflake connection is configured").wait_for()
    shot(page, "infrastructure-02-drift-without-a-connection")
