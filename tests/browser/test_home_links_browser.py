"""Home's request links read in full at 1280 px wide: no label is cut off with an ellipsis (issue 13).
The approver sees the most links (the review queue too); a screenshot goes to test-artifacts/."""
from __future__ import annotations

import pytest

from tests.browser.test_demo_flow import demo, idle, shot, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

# For every page link on the page: its label and whether any part of it is wider than the box it sits in
# (clipped: overflow hidden or an ellipsis).
CLIPPED = """() => [...document.querySelectorAll('[data-testid="stPageLink-NavLink"]')].map(a => ({
  label: a.innerText.trim().split('\\n').pop(),  // the icon's name comes first
  clipped: [a, ...a.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1),
}))"""


def test_home_links_read_in_full_at_1280_px(demo, browser):
    url, _ = demo
    page = sign_in(browser, url, "approver", width=1280)
    page.get_by_text("Follow up").wait_for()
    page.get_by_test_id("stMain").get_by_role("link", name="Review queue").wait_for()
    idle(page, timeout=90)
    links = page.evaluate(CLIPPED)
    shot(page, "home-1280")
    labels = [link["label"] for link in links]
    assert {"New user", "New service user", "Grant roles", "New database", "My requests", "Review queue"} <= set(labels)
    assert len(links) >= 14
    assert [link["label"] for link in links if link["clipped"]] == []
    page.context.close()
