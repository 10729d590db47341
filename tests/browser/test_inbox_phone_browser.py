"""Home as an inbox and the review at desktop (1400 px) and phone (390 px) width, as the three demo users,
in a real browser against a real `snowtower demo`: how long from "Sign in" to a usable Home (printed; the
numbers go in docs/performance.md), nothing wider than a phone's screen, the review as cards with the
request's summary first. Screenshots: test-artifacts/."""
from __future__ import annotations

import statistics
import time

import pytest
from playwright.sync_api import expect

from core.changes.model import Actor
from tests.browser.test_demo_flow import SHOTS, demo, go, idle, shot, sign_in, signed_in_cookie  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
WIDTHS = {"desktop": 1400, "phone": 390}
# Wider than the window: what a phone user would have to scroll sideways to read.
OVERFLOW = """() => { const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll('[data-testid="stMain"] *')].filter(e => {
    const r = e.getBoundingClientRect(); return r.width > 0 && r.right > w + 1 && getComputedStyle(e).position !== 'fixed'
      && !e.closest('[data-testid="stDataFrame"], [data-testid="stCode"], [data-testid="stExpander"] details:not([open])');
  }).length; }"""


def _requests(workspace):
    """Two requests from the requester, one waiting for review and one approved (ready to merge)."""
    from app.operations import ApproveRequest, PreviewRequest, SubmitRequest
    from app.services import build_services
    from app.settings import load_settings
    from recipes import RECIPES

    services = build_services(load_settings(workspace))
    requester = Actor("requester", "Riley Requester", "requester@snowtower.example", ("requester",))
    out = []
    for raw in ({"name": "MOKAFOR", "business_roles": ["FINANCE_ANALYST"], "until": "permanent",
                 "justification": "Owns the revenue dashboards from now on."},
                {"name": "ph_wh", "size": "XLARGE", "auto_suspend": 60, "justification": "Month-end close needs the power."}):
        recipe = RECIPES["grant-role" if "business_roles" in raw else "new-warehouse"]
        out.append(SubmitRequest(services, requester, recipe, raw,
                                 PreviewRequest(services, recipe, raw).execute().base_sha).execute())
    ApproveRequest(services, Actor("approver", "Avery Approver", "", ("requester", "approver")), out[1].id).execute()
    return out


def _sign_in_timed(browser, url, username, width):  # noqa: F811
    """Sign in; seconds from the click on "Sign in" to a Home whose inbox is drawn and whose run has ended."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60000)
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill("demo")
    start = time.perf_counter()
    page.get_by_role("button", name="Sign in").click()
    page.locator(".st-key-home-inbox").get_by_text("of my requests open").wait_for()
    page.get_by_text("The configuration", exact=True).wait_for()  # Home's last section
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
                           " && !document.querySelector('[data-stale=\"true\"]')", polling=50)
    seconds = time.perf_counter() - start
    signed_in_cookie(page)
    return page, seconds


def test_home_and_review_as_the_three_users_at_desktop_and_phone_width(demo, browser):  # noqa: F811
    url, workspace = demo
    grant, warehouse = _requests(workspace)
    timings: dict[str, list[float]] = {}
    # A first sign-in warms the server (imports, the demo account): what every later viewer finds.
    warm = sign_in(browser, url, "admin")
    warm.locator(".st-key-home-inbox").get_by_text("of my requests open").wait_for(timeout=180000)
    warm.context.close()
    for username in ("requester", "approver", "admin"):
        for label, width in WIDTHS.items():
            page, seconds = _sign_in_timed(browser, url, username, width)
            timings.setdefault(f"{username}@{label}", []).append(seconds)
            inbox = page.locator(".st-key-home-inbox")
            text = inbox.inner_text()
            assert "of my requests open" in text
            if username == "requester":
                assert f"{warehouse.ref}" in text and "next: an admin merges it" in text
            if username in ("approver", "admin"):
                assert "waiting for your review" in text
            if username == "admin":
                assert "1 ready to merge" in text and "security findings" in text and "Spend in the 30 days to" in text
            assert page.evaluate(OVERFLOW) == 0, f"Home is wider than {width} px for {username}"
            shot(page, f"home-{username}-{label}")
            if username != "requester":
                go_review(page, label)
                # The summary sentence leads; at phone width the requests are cards, the table is hidden.
                cards, table = page.locator(".st-key-review_list_cards"), page.locator(".st-key-review_list_table")
                (cards if label == "phone" else table).wait_for(state="visible")
                idle(page)
                expect(table if label == "phone" else cards).to_be_hidden()  # the page's CSS applies by width
                assert page.get_by_text(":orange-badge").count() == 0  # chips are drawn, not shown as code
                assert page.evaluate(OVERFLOW) == 0, f"the review is wider than {width} px for {username}"
                shot(page, f"review-{username}-{label}")
                if label == "phone":
                    cards.get_by_role("button", name=f"{grant.ref} ").first.click()
                    idle(page)
                    page.get_by_role("heading", name=f"{grant.ref} ").first.wait_for()
                    page.get_by_text("Adds business role(s) FINANCE_ANALYST to MOKAFOR").first.wait_for()  # summary first
                    page.get_by_text("permanent", exact=True).first.wait_for()  # the chip
                    page.locator(".st-key-review-decision").get_by_role("button", name="Approve").wait_for()
                    shot(page, f"review-{username}-phone-card-opened")
            page.context.close()
    for key, values in timings.items():
        print(f"sign-in to usable Home, {key}: {statistics.median(values):.2f} s")
    (SHOTS / "signin-timings.txt").write_text("\n".join(f"{k} {statistics.median(v):.2f}" for k, v in timings.items()) + "\n")


def go_review(page, label: str) -> None:
    if label == "phone":  # the sidebar is folded on a phone: the inbox's own link goes there
        page.locator(".st-key-home-inbox").get_by_role("link", name="waiting for your review").first.click()
        idle(page, timeout=90)
    else:
        go(page, "Review queue")
    page.get_by_role("heading", name="Review queue").wait_for()
