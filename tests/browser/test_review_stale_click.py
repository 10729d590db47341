"""Issue 8's review-queue attack in a real browser: an admin has #1 on screen, another session rejects
it, the admin presses Merge. Before the fix the click merged #2, a request the admin never opened."""
from __future__ import annotations

import pytest

from core.changes.model import Actor, Status
from tests.browser.test_demo_flow import demo, go, idle, shot, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def _services(workspace):
    from app.services import build_services
    from app.settings import load_settings

    return build_services(load_settings(workspace))


def _submit(services, name: str, public_pem: str):
    from app.operations import PreviewRequest, SubmitRequest
    from recipes import RECIPES

    raw = {"name": name, "first_name": "Pat", "last_name": "Doe", "email": f"{name}@cascaderidge.example",
           "rsa_public_key": public_pem, "business_roles": ["ANALYST"], "default_warehouse": "ANALYST_WH",
           "justification": "Joins the marketing analytics team."}
    requester = Actor("requester", "Riley Requester", "", ("requester",))
    preview = PreviewRequest(services, RECIPES["new-user"], raw).execute()
    return SubmitRequest(services, requester, RECIPES["new-user"], raw, preview.base_sha).execute()


def click_row(page, index: int) -> None:
    """Click the review table's row `index` (0: the first below the header) in its selection column: the
    table is a canvas, rows have no elements of their own."""
    table = page.locator(".st-key-review_list_table").get_by_test_id("stDataFrame")
    table.wait_for()
    idle(page)
    box = table.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 * (index + 1) + 17)
    idle(page)


def test_a_merge_click_on_a_request_rejected_meanwhile_merges_nothing(demo, browser, public_pem):
    from app.operations import ApproveRequest, RejectRequest

    url, workspace = demo
    services = _services(workspace)  # another process on the same workspace: "another browser"
    approver = Actor("approver", "Avery Approver", "", ("requester", "approver"))
    first = _submit(services, "stale_first", public_pem)
    second = _submit(services, "stale_second", public_pem)
    for cr in (first, second):
        ApproveRequest(services, approver, cr.id).execute()

    page = sign_in(browser, url, "admin")
    go(page, "Review queue")
    click_row(page, 1)  # newest first: the second row is #1
    page.get_by_role("heading", name=f"{first.ref} New person user STALE_FIRST").wait_for()

    RejectRequest(services, approver, first.id, "Duplicate of another request").execute()
    page.get_by_role("button", name="Merge and deploy").click()
    idle(page)
    page.get_by_text(f"{first.ref} is already rejected by approver; nothing was done.").wait_for()
    shot(page, "review-stale-click")
    assert services.changes.get(second.id).status == Status.APPROVED
    assert services.changes.get(first.id).status == Status.REJECTED
