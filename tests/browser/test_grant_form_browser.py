"""The grant form ("Grant roles") as each of the three demo users at desktop (1,400 px) and phone (390 px)
width, in a real browser against one real `snowtower demo`: nothing makes the page wider than a phone's
screen; the pickers show people's full names and each role's description with what it grants (whole,
wrapped, in "What each role is for" beside the picker, whose list cuts long options off), and no "Select all"; "How long" starts with nothing chosen, so "Permanent" is only ever
chosen on purpose; a date typed from the keyboard (2027/01/31, the form the old picker turned into
7013-02-02) stays in its field, shows in the preview as the request's end date and, submitted, is the end
date in the request's commit; "Permanent" shows as a badge. (test_recipe_pages_browser already submits a
typed date at desktop width; here the phone width, the preview and "Permanent" are walked.)
Screenshots: test-artifacts/grant-*.png; the phone's preview is docs/screenshot-grant-phone.png."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from core.changes.git import GitRepo
from tests.browser.test_demo_flow import SHOTS, demo, idle, sign_in  # noqa: F401 (fixtures)
from tests.browser.test_inbox_phone_browser import OVERFLOW
from tests.browser.test_recipe_pages_browser import branches, choose, fill, main_area, option_named, press

pytestmark = pytest.mark.browser
DOCS = Path(__file__).resolve().parents[2] / "docs"
SIZES = {"desktop": (1400, 900), "phone": (390, 844)}
ROLE = "FINANCE_ANALYST"
WHY = "Owns the month-end revenue reports from next week."
# Who walks the form at which width, for whom, and how long: each grant is for another person (no two are
# the same request); two are submitted (the phone's typed date and "Permanent").
WALKS = [
    ("requester", "desktop", "EVASQUEZ", "date", False),
    ("requester", "phone", "HCHO", "date", True),
    ("approver", "desktop", "NJENSEN", "permanent", False),
    ("approver", "phone", "DPRICE", "date", False),
    ("admin", "desktop", "SROSSI", "date", False),
    ("admin", "phone", "OBRENNAN", "permanent", True),
]
# Widths: of the document, of the main area's content (Streamlit scrolls inside it) and of the window.
WIDTHS = """() => ({document: document.documentElement.scrollWidth,
  main: document.querySelector('[data-testid="stMain"]').scrollWidth, window: window.innerWidth})"""
# The lines inside an element whose words are cut off (an ellipsis, or clipped by their box).
CUT_OFF = """box => [...box.querySelectorAll('li, li *')].filter(e =>
  e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible').map(e => e.innerText)"""


@pytest.fixture(scope="module")
def signed_in(demo, browser):  # noqa: F811
    """One signed-in page per demo user, made on first use (at the width of that walk) and resized for the
    next: a sign-in costs seconds, and the form is opened afresh by its address at each width."""
    pages: dict = {}

    def page_of(username: str, width: int):
        if username not in pages:
            pages[username] = sign_in(browser, demo[0], username, width=width)
        return pages[username]

    yield page_of
    for page in pages.values():
        page.context.close()


@pytest.fixture(scope="module")
def labels(demo):  # noqa: F811
    """The pickers' words from the demo's configuration: {"users": {...}, "roles": {...}}."""
    from app.services import build_services
    from app.settings import load_settings
    from recipes.common import role_labels, user_labels

    snapshot = build_services(load_settings(demo[1])).snapshot()
    return {"users": user_labels(snapshot), "roles": role_labels(snapshot)}


def _narrow(page, width: int, what: str) -> dict:
    """Nothing wider than the window (a phone user would scroll sideways); the widths measured, in px."""
    widths = page.evaluate(WIDTHS)
    assert widths["document"] <= max(width, 400) and widths["main"] <= max(width, 400), f"{what}: {widths}"
    assert page.evaluate(OVERFLOW) == 0, f"{what}: an element reaches past the {width} px window"
    return widths


def _roles_picker(page, labels, label: str) -> None:
    """Open the roles picker: every role with its description and grants, whole; no "Select all"."""
    box = main_area(page).get_by_test_id("stMultiSelect").filter(has_text="Business roles")
    box.locator("input").click()
    listed = page.get_by_role("option", name=option_named(ROLE)).first
    listed.wait_for()
    assert listed.inner_text().strip() == labels["roles"][ROLE], listed.inner_text()
    assert ": " in labels["roles"][ROLE] and "reads" in labels["roles"][ROLE]  # a description and what it grants
    assert page.get_by_role("option", name="Select all").count() == 0
    assert page.get_by_text("Select all", exact=False).count() == 0
    page.screenshot(path=str(SHOTS / f"grant-roles-picker-{label}.png"))
    box.locator("input").fill(ROLE)
    page.get_by_role("option", name=option_named(ROLE)).first.click()
    page.keyboard.press("Escape")
    main_area(page).get_by_role("heading").first.click()  # leave the picker
    idle(page)
    # The list draws an option on one line (cut off with an ellipsis where narrower than its words): beside
    # the picker each role's words are shown whole, wrapped.
    words = main_area(page).get_by_test_id("stExpander").filter(has_text="What each role is for")
    words.get_by_text("What each role is for").click()
    for text in labels["roles"].values():
        words.get_by_text(text, exact=True).wait_for()
    page.screenshot(path=str(SHOTS / f"grant-roles-words-{label}.png"))
    cut = words.evaluate(CUT_OFF)
    assert not cut, f"role descriptions cut off at {label} width: {cut}"
    words.get_by_text("What each role is for").click()  # folded again


def _how_long(page):
    return main_area(page).get_by_test_id("stRadio").filter(has_text="How long")


@pytest.mark.parametrize("username,label,person,until,submit", WALKS,
                         ids=[f"{w[0]}-{w[1]}" for w in WALKS])
def test_the_grant_form_as_each_user_at_desktop_and_phone_width(demo, signed_in, labels, username, label, person, until, submit):  # noqa: F811
    url, workspace = demo
    repo = GitRepo(workspace / "repo.git")
    width, height = SIZES[label]
    page = signed_in(username, width)
    page.set_viewport_size({"width": width, "height": height})
    idle(page, timeout=90)
    page.goto(url + "/grant-role")  # at 390 px the sidebar with the links is folded away
    idle(page, timeout=90)
    main_area(page).get_by_test_id("stForm").wait_for(timeout=90000)
    _narrow(page, width, "the empty form")

    # Nothing is preselected: a grant is permanent only when "Permanent" is clicked.
    _how_long(page).get_by_text("Permanent", exact=True).wait_for()
    assert _how_long(page).get_by_role("radio", checked=True).count() == 0

    choose(page, "User", labels["users"][person])  # the person by full name: "Hannah Cho (HCHO)"
    picker = main_area(page).get_by_test_id("stSelectbox").filter(has_text="User")
    shown = picker.inner_text() + " " + " ".join(i.input_value() for i in picker.locator("input").all())
    assert labels["users"][person] in shown, shown
    _roles_picker(page, labels, label)
    fill(page, "Justification", WHY)

    if username == "requester" and label == "desktop":  # no choice made: refused next to the field
        press(page, "Preview")
        main_area(page).get_by_text("choose how long", exact=False).first.wait_for()
        page.get_by_text("nothing was written").wait_for()
        assert not main_area(page).get_by_role("button", name="Submit request").count()

    preview = main_area(page)
    if until == "date":
        day = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=40 + len(person))
        typed = day.strftime("%Y/%m/%d")
        _how_long(page).get_by_text("A date", exact=True).click()
        box = main_area(page).get_by_role("textbox", name="End date, typed", exact=False)
        box.click()
        page.keyboard.type(typed, delay=20)  # from the keyboard, as a person types it
        main_area(page).get_by_role("heading").first.click()  # blur: the widget commits its value
        idle(page)
        assert box.input_value() == typed  # kept as typed, never rewritten to another year
        press(page, "Preview")
        preview.get_by_text("SnowDDL validation passed").wait_for(timeout=90000)
        preview.get_by_text(f"until {day.isoformat()}", exact=True).wait_for()  # the badge
        assert f"time-bound until {day.isoformat()}" in preview.inner_text()  # the summary sentence
        assert "for good" not in preview.inner_text()
        assert box.input_value() == typed
    else:
        _how_long(page).get_by_text("Permanent", exact=True).click()
        idle(page)
        press(page, "Preview")
        preview.get_by_text("SnowDDL validation passed").wait_for(timeout=90000)
        preview.get_by_text("permanent", exact=True).wait_for()  # the badge
        assert "for good." in preview.inner_text()
    preview.get_by_text(f"{labels['users'][person].split(' (')[0]} will newly be able to", exact=False).first.wait_for()
    idle(page)
    widths = _narrow(page, width, "the previewed form")
    SHOTS.mkdir(exist_ok=True)
    with open(SHOTS / "grant-widths.txt", "a") as out:  # the numbers for docs/performance.md
        out.write(f"{username}@{label}: document {widths['document']} px, main area {widths['main']} px, "
                  f"window {widths['window']} px\n")
    page.screenshot(path=str(SHOTS / f"grant-{username}-{label}.png"), full_page=True)
    if username == "requester" and label == "phone":  # the form at a phone's width, for the docs
        page.screenshot(path=str(DOCS / "screenshot-grant-phone.png"))

    if submit:
        before = set(branches(repo))
        press(page, "Submit request")
        page.get_by_text("Submitted as #").wait_for(timeout=90000)
        [new] = set(branches(repo)) - before
        assert ROLE in yaml.safe_load(repo.read_text(new, "snowddl/user.yaml"))[person]["business_roles"]
        expiry = yaml.safe_load(repo.read_text(new, "snowddl/__snowtower/expiry.yaml") or "") or {}
        if until == "date":  # the typed date survives to the commit
            assert str(expiry[person][ROLE]["until"]) == day.isoformat(), expiry.get(person)
        else:
            assert ROLE not in (expiry.get(person) or {}), expiry.get(person)  # permanent: no end date recorded
