"""The authorization matrix's key cases in a real browser: an address a viewer may not open says so
(instead of a silent jump to Home), the admin's audit log shows what the others did."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_demo_flow import demo, idle, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def open_address(page, path: str) -> None:
    """Go to /path in the signed-in session, as the browser's back and forward buttons do."""
    page.evaluate("path => { history.pushState({}, '', '/' + path); window.dispatchEvent(new PopStateEvent('popstate')); }",
                  path)
    page.wait_for_timeout(500)
    idle(page, timeout=60)


def test_a_requester_is_told_which_pages_are_not_theirs_and_the_admin_sees_it_in_the_log(demo, browser):
    url, _ = demo
    page = sign_in(browser, url, "requester")
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)  # not in the navigation
    open_address(page, "audit")
    expect(page.get_by_text("Audit log is for admins")).to_be_visible()
    expect(page.get_by_role("button", name="Export CSV")).to_have_count(0)
    open_address(page, "review")
    expect(page.get_by_text("Review queue is for approvers")).to_be_visible()
    page.context.close()

    page = sign_in(browser, url, "admin")
    open_address(page, "audit")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    page.get_by_role("textbox", name="Person (login)").fill("requester")
    page.keyboard.press("Enter")
    idle(page)
    grid = page.get_by_test_id("stDataFrame")
    expect(grid).not_to_contain_text("sign_in")  # sign-ins are hidden unless asked for
    page.get_by_text("Show sign-in events").click()
    idle(page)
    expect(grid).to_contain_text("sign_in")
    expect(page.get_by_role("button", name="Export CSV")).to_be_enabled()
    page.context.close()
