"""Security and Infrastructure checked by eye at 1,440 and 390 px: the first screen of Security names the
planted admin without MFA and the password spray as critical; the reach graph is summed up first, drawn on
demand, readable (labels of at least 11 px) and coloured by privilege kind. Screenshots of the first
screen of each go to docs/ (screenshot-security.png, ...) for the documentation and a person to look at."""
from __future__ import annotations

from pathlib import Path

import pytest

from test_demo_flow import demo, idle, sign_in  # noqa: F401  (fixtures and helpers)

pytestmark = pytest.mark.browser
DOCS = Path(__file__).resolve().parents[2] / "docs"
WIDTHS = {1440: "", 390: "-phone"}
HEIGHT = {1440: 900, 390: 844}


@pytest.fixture(scope="module")
def admin(demo, browser):  # noqa: F811
    """One admin signed in for the file's tests (each sets its width and opens its page by its address): a
    sign-in costs Chromium a page load and the admin's Home, about 5 CPU-seconds, and the tests are about the
    pages they open, not about signing in."""
    return sign_in(browser, demo[0], "admin")


def open_page(page, url: str, path: str) -> None:
    """Open a page by its address (at 390 px the sidebar with the links is folded away)."""
    idle(page, timeout=90)
    page.goto(f"{url}/{path}")
    idle(page, timeout=120)


def first_screen(page, text: str, height: int):
    """The element showing `text`, asserted to start within the first `height` pixels of the page."""
    el = page.get_by_text(text, exact=False).first
    el.wait_for()
    box = el.bounding_box()
    assert box is not None and box["y"] + box["height"] <= height, f"{text!r} is below the first screen: {box}"
    return el


@pytest.mark.parametrize("width", list(WIDTHS))
def test_security_first_screen_names_the_admin_without_mfa_and_the_spray(demo, admin, width):  # noqa: F811
    url, page = demo[0], admin
    page.set_viewport_size({"width": width, "height": HEIGHT[width]})
    open_page(page, url, "security")
    page.get_by_text("Needs attention now").wait_for(timeout=120000)
    idle(page, timeout=90)
    page.evaluate("window.scrollTo(0, 0)")
    # the layout's own top: Streamlit scrolls its main block, not the window
    page.evaluate("document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
    admin = first_screen(page, "ADMIN_WITHOUT_MFA · ADMIN: ADMIN holds ACCOUNTADMIN and signs in with a password", HEIGHT[width])
    spray = first_screen(page, "SIGNIN_PASSWORD_SPRAY · ", HEIGHT[width])
    # each row's badge says critical (the row's first column)
    for row in (admin, spray):
        block = row.locator("xpath=ancestor::div[@data-testid='stHorizontalBlock'][1]")
        assert "critical" in block.inner_text().lower()
    assert "55 failed sign-ins" in spray.inner_text()
    first_screen(page, "2 critical", HEIGHT[width])
    page.screenshot(path=str(DOCS / f"screenshot-security{WIDTHS[width]}.png"))


@pytest.mark.parametrize("width", list(WIDTHS))
def test_infrastructure_reach_summary_first_and_a_readable_graph_on_demand(demo, admin, width):  # noqa: F811
    url, page = demo[0], admin
    page.set_viewport_size({"width": width, "height": HEIGHT[width]})
    open_page(page, url, "infrastructure")
    page.get_by_test_id("stSelectbox").filter(has_text="Kind").first.locator("input").click()
    page.keyboard.type("Schema")
    page.keyboard.press("Enter")
    idle(page)
    page.get_by_test_id("stSelectbox").nth(1).locator("input").click()
    page.keyboard.type("RAW.STRIPE")
    page.keyboard.press("Enter")
    idle(page, timeout=60)
    summary = page.get_by_text("8 users: ", exact=False).first
    summary.wait_for()
    assert "__U_ROLE" not in summary.inner_text() and " through " in summary.inner_text()
    assert page.get_by_test_id("stGraphVizChart").count() == 0  # on demand only
    page.get_by_text("Draw the graph").first.click()
    idle(page, timeout=60)
    svg = page.get_by_test_id("stGraphVizChart").locator("svg").first
    svg.wait_for()
    texts = svg.locator("text").evaluate_all(
        "els => els.map(e => [e.textContent, e.getBoundingClientRect().height])")
    names = [t for t, _ in texts]
    assert not [t for t in names if t.endswith("__U_ROLE")]  # folded into their users
    assert "SCHEMA RAW.STRIPE" in names
    if width == 1440:  # readable at desktop width: every label drawn at 11 px or more
        small = [(t, round(h, 1)) for t, h in texts if h < 11]
        assert small == [], small
    strokes = set(svg.locator("path").evaluate_all("els => els.map(e => e.getAttribute('stroke'))"))
    assert strokes & {"#b42318", "#c4320a", "#175cd3"}, strokes  # edges coloured by privilege kind
    svg.scroll_into_view_if_needed()
    page.screenshot(path=str(DOCS / f"screenshot-infrastructure{WIDTHS[width]}.png"))
