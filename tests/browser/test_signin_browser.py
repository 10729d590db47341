"""Sign-in and user text in a real browser: a lock-out that an admin lifts, and a hostile justification
and comment that stay text (no link, image or heading reaches the page)."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_demo_flow import go, idle, served_demo, shot, signed_in_cookie  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ("# Boom heading [click me](https://evil.example/x) ![pixel](https://evil.example/p.png) "
           "<img src=https://evil.example/i.png> :red-badge[APPROVED] www.evil.example")


@pytest.fixture(scope="module")
def demo3(tmp_path_factory):
    """`snowtower demo` whose logins lock after 3 wrong passwords, started as a new process (the one browser file
    whose server is not forked from the preloaded interpreter: served_demo's `fresh`), as `./dev demo` starts it;
    its cold first runs are also the ones a reload's landing must survive."""
    workspace = tmp_path_factory.mktemp("signin-workspace")
    (workspace / "settings.toml").write_text("[snowtower]\nsignin_max_attempts = 3\nsignin_lockout_minutes = 15\n")
    with served_demo(workspace, "signin-demo.log", fresh=True) as served:
        yield served


def attempt(page, username: str, password: str) -> None:
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    idle(page, timeout=60)


def test_a_lock_out_lapses_or_an_admin_lifts_it(demo3, browser):
    from portal import cli

    url, workspace = demo3
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30000)
    page.goto(url)
    idle(page, timeout=60)
    for _ in range(2):
        attempt(page, "requester", "wrong")
        expect(page.get_by_text("Username or password is wrong.")).to_be_visible()
    attempt(page, "requester", "wrong")
    expect(page.get_by_text("locked for 15 minutes")).to_be_visible()
    attempt(page, "requester", "demo")
    expect(page.get_by_text("this login is locked")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    shot(page, "signin-locked")
    assert cli.main(["users", "unlock", "requester", "--workspace", str(workspace)]) == 0
    attempt(page, "requester", "demo")
    expect(page.get_by_text("Signed in as")).to_be_visible()
    context.close()


def test_a_hostile_justification_and_comment_stay_text(demo3, browser, public_pem):
    from core.changes.model import Actor
    from app.operations import PreviewRequest, RequestChanges, SubmitRequest
    from app.services import build_services
    from app.settings import load_settings
    from recipes import RECIPES

    url, workspace = demo3
    services = build_services(load_settings(workspace))
    recipe = RECIPES["grant-role"]
    raw = {"name": "MOKAFOR", "business_roles": ["ANALYST"], "justification": "Needed for pricing.\n" + HOSTILE}
    requester = Actor("requester", "Riley Requester", roles=("requester",))
    cr = SubmitRequest(services, requester, recipe, raw, PreviewRequest(services, recipe, raw).execute().base_sha).execute()
    RequestChanges(services, Actor("admin", "Ada Admin", roles=("requester", "approver", "admin")), cr.id,
                   "Not like this: " + HOSTILE).execute()

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30000)
    page.goto(url)
    idle(page, timeout=60)
    attempt(page, "approver", "demo")
    page.get_by_text("Signed in as").wait_for()
    # The sign-in's cookie component reruns the page it was drawn on once it has loaded (signed_in_cookie): a
    # link clicked before that rerun can be undone by it (this test once clicked straight after signing in).
    signed_in_cookie(page)
    go(page, "Review queue")
    expect(page.get_by_text("[click me](https://evil.example/x)").first).to_be_visible()  # the characters typed
    page.get_by_text("History", exact=True).click()
    idle(page)
    main = page.get_by_test_id("stMain")
    # Justification and comment both show the directive's characters as typed (waited for: under load the
    # History's run can still be drawing when idle() returns).
    expect(main.get_by_text(":red-badge[APPROVED]").nth(1)).to_be_visible()
    shot(page, "plain-text-review")

    assert main.locator("a[href*='evil']").count() == 0
    assert main.locator("img[src*='evil']").count() == 0
    assert main.locator("h1, h2, h3, h4, h5, h6").filter(has_text="Boom").count() == 0
    assert page.get_by_text("APPROVED", exact=True).count() == 0  # no badge made of the word alone
    context.close()


def test_a_deep_link_lands_on_its_page_after_sign_in_and_after_a_reload(demo3, browser):
    url, _ = demo3
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # a fresh browser session
    page = context.new_page()
    page.set_default_timeout(30000)
    page.goto(url + "/review")
    idle(page, timeout=60)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60000)
    attempt(page, "approver", "demo")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible(timeout=30000)
    signed_in_cookie(page)
    page.goto(url + "/my-requests")
    idle(page, timeout=60)
    expect(page.get_by_role("heading", name="My requests")).to_be_visible(timeout=30000)
    page.reload()
    idle(page, timeout=60)
    expect(page.get_by_role("heading", name="My requests")).to_be_visible(timeout=30000)  # a reload stays on the page
    assert page.url.endswith("/my-requests")
    context.close()

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30000)
    page.goto(url + "/logins")  # a page the viewer may not open says so after sign-in
    idle(page, timeout=60)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60000)
    attempt(page, "requester", "demo")
    expect(page.get_by_text("Logins is for admins")).to_be_visible(timeout=30000)
    context.close()
