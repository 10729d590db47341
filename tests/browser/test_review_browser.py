"""The review detail in a real browser, with a new database's plan (over 200 statements): the page stays
short (it was 11,000 px), the decision buttons come before the plan, each risk flag shows its line, and
approving turns the button into "Approved by you" on the same screen. Screenshot: test-artifacts/."""
from __future__ import annotations

import pytest

from core.changes.model import Actor
from tests.browser.test_demo_flow import SHOTS, demo, go, idle, shot, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
MAX_PAGE_HEIGHT = 3500  # px at 1400 wide; the flat plan made 11,000


def _services(workspace):
    from app.services import build_services
    from app.settings import load_settings

    return build_services(load_settings(workspace))


def _layout(page) -> dict:
    """Where things are on the page at 1400 px wide, in a window tall enough that nothing scrolls
    (Streamlit scrolls inside its main area, so the window's own scroll height says nothing): "height",
    the bottom of the last element (the History expander); "approve" and "plan", the top of the Approve
    button and of the plan's heading. A screenshot of the whole page is taken in the same window."""
    page.set_viewport_size({"width": 1400, "height": 12000})
    idle(page)

    def top(locator):
        return round(locator.bounding_box()["y"])

    history = page.get_by_test_id("stExpander").filter(has_text="History")
    # Tables draw after the script has finished: wait until the page stops growing.
    heights: list[float] = []
    while len(heights) < 4 or len(set(heights[-4:])) > 1:
        page.wait_for_timeout(250)
        heights.append(history.bounding_box()["y"])
        assert len(heights) < 120, heights
    box = history.bounding_box()
    out = {"height": round(box["y"] + box["height"]),
           "approve": top(page.get_by_role("button", name="Approve", exact=True)),
           "plan": top(page.get_by_text("SnowDDL plan", exact=False).first)}
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "review-detail-new-database.png"), clip={"x": 0, "y": 0, "width": 1400, "height": out["height"] + 40})
    page.set_viewport_size({"width": 1400, "height": 1000})
    idle(page)
    return out


def test_a_new_database_request_fits_one_screen_and_decides_before_the_plan(demo, browser):  # noqa: F811
    from app.operations import PreviewRequest, SubmitRequest
    from recipes import RECIPES

    url, workspace = demo
    services = _services(workspace)
    raw = {"name": "pricing_db", "schemas": "raw,models", "business_roles": "READ,WRITE,OWNER", "size": "XLARGE",
           "credit_quota": 100, "justification": "The pricing data product, <b>urgent</b>."}
    preview = PreviewRequest(services, RECIPES["new-database"], raw).execute()
    assert preview.ok, preview.field_errors
    requester = Actor("requester", "Riley Requester", "", ("requester",))
    cr = SubmitRequest(services, requester, RECIPES["new-database"], raw, preview.base_sha).execute()
    plan = services.plan(cr.base_sha, cr.head_sha)
    assert len(plan.statements) > 200

    page = sign_in(browser, url, "approver")
    go(page, "Review queue")
    page.get_by_role("heading", name=f"{cr.ref} ").first.wait_for()
    page.get_by_text(f"{len(plan.statements)} statement(s) on").wait_for()
    main = page.get_by_test_id("stMain")
    main.get_by_text("The pricing data product, <b>urgent</b>.").wait_for()  # the justification as typed
    layout = _layout(page)
    print(f"review detail: {len(plan.statements)} statements, page height {layout['height']} px, "
          f"Approve at {layout['approve']} px, plan at {layout['plan']} px")
    assert layout["height"] < MAX_PAGE_HEIGHT, layout
    assert layout["approve"] < layout["plan"]  # the decision is reachable without scrolling past the plan
    approve = page.get_by_role("button", name="Approve", exact=True)

    # The warehouse above the threshold is flagged with its line.
    flags = main.get_by_test_id("stDataFrame").filter(has_text="Level")
    assert flags.count() == 1

    approve.click()
    idle(page)
    page.get_by_text(f"{cr.ref} approved.").wait_for()
    done = page.get_by_role("button", name="Approved by you")
    done.wait_for()
    assert done.is_disabled()
    shot(page, "review-detail-approved")
