"""The whole slice in a real browser: a real `snowtower demo` on a free port, three users clicking.

Needs /usr/bin/chromium (Debian's package; `./dev test` installs it). Screenshots of each step go to
test-artifacts/ for a person to look at.
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.changes.git import GitRepo
from tests import demo_zygote

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts"
# The `browser` fixture (one Chromium per test worker, a file's pages closed at its end) is in conftest.py.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_demo(workspace: Path, log_name: str = "demo.log", fresh: bool = False, **env: str):
    """`snowtower demo` of `workspace` on a free port, with `env` added to its environment, until its
    health endpoint answers (60 s at most): yields (url, workspace); stops it afterwards. Its demo logins are
    hashed at bcrypt's lowest cost (tests/bcrypt_cost.py: `snowtower` with that one change). Its output goes
    to `log_name` beside the workspace. `fresh`: started as a new process, as `./dev demo` starts it, instead of
    forked from the worker's preloaded interpreter (tests/demo_zygote.py), where the server's first script run
    finds Streamlit, pandas, the standard library's modules and ~110 of SnowTower's (those `snowtower demo`
    imports before it execs Streamlit) loaded already: an entry script that cannot import them on its own
    (a lost sys.path entry, `app` shadowed by portal/app.py) fails only in a fresh server."""
    port = _free_port()
    (workspace.parent / log_name).write_text("")
    # Forked from this worker's preloaded interpreter (tests/demo_zygote.py: the same command, started without
    # importing Streamlit, pandas and SnowDDL again).
    argv = ["-m", "tests.bcrypt_cost", "demo", "--workspace", str(workspace), "--port", str(port)]
    if fresh:
        log = open(workspace.parent / log_name, "a")
        proc = subprocess.Popen([sys.executable, *argv], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                env=dict(os.environ, PYTHONUNBUFFERED="1", **env))
        log.close()  # (the server has its own copy)
    else:
        proc = demo_zygote.spawn(argv, dict(os.environ, PYTHONUNBUFFERED="1", **env), ROOT, workspace.parent / log_name)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail("snowtower demo did not become healthy: " + (workspace.parent / log_name).read_text())
    try:
        yield url, workspace
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with served_demo(tmp_path_factory.mktemp("demo-workspace")) as served:
        yield served


# The waits below poll every POLL ms. Playwright's default, every animation frame, keeps the renderer and the
# compositor drawing 60 frames a second while a test waits: about 0.1 CPU-s per second of waiting, against 0.013 s
# at 100 ms (measured on a signed-in Home; the suite is CPU-bound on 2 cores, so that is time).
POLL = 100

_DONE = ("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
         " && !document.querySelector('[data-stale=\"true\"]')"
         " && (document.querySelector('[data-testid=\"stApp\"]') || {getAttribute: () => ''})"
         ".getAttribute('data-test-script-state') !== 'running'")


def idle(page, timeout: float = 30) -> None:
    """Wait until Streamlit has finished running the script (no status widget, no stale elements, the app
    not running). After an action that always starts a run, `act` waits for that run itself."""
    page.wait_for_timeout(300)
    page.wait_for_function(_DONE, timeout=timeout * 1000, polling=POLL)


START = 3  # seconds: how long act() waits for the run a click asked for to be seen starting


def act(page, action, timeout: float = 90) -> None:
    """Do `action()` (a click that starts a run: a button, a page link) and wait until that run has started
    and ended. Unlike idle()'s pause, this waits while the server has not begun the run (on loaded cores it
    begins seconds after the click). A run so short that the app drew its start and end in one frame leaves
    the attribute unchanged: after START seconds without a change, the page is taken as it is, once idle."""
    before = page.evaluate("() => window.__stChanges || 0")
    action()
    try:
        page.wait_for_function(f"() => (window.__stChanges || 0) > {before}", timeout=START * 1000, polling=POLL)
    except PlaywrightTimeout:
        pass
    idle(page, timeout)


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(browser, url: str, username: str, width: int = 1400):
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30000)
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for()
    idle(page)
    signed_in_cookie(page)
    return page


def signed_in_cookie(page, timeout: float = 30) -> None:
    """Wait until the browser holds the sign-in's session cookie, then for the run it starts. The cookie is
    written by a component after the first signed-in run, which then reruns the page it was drawn on: a
    navigation or reload made before that is a visit without the cookie (the sign-in form again) or lands
    back on that page."""
    from app.identity import COOKIE_NAME

    deadline = time.time() + timeout
    while not any(c["name"] == COOKIE_NAME for c in page.context.cookies()):
        if time.time() > deadline:
            raise AssertionError(f"no {COOKIE_NAME} cookie {timeout} s after signing in")
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)
    idle(page)


def go(page, link: str) -> None:
    # Streamlit disables the page links while a run is in progress: let it finish first (slow under load).
    idle(page, timeout=90)
    act(page, lambda: page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click(timeout=90000))


def fill_new_user(page, key_text: str) -> None:
    page.get_by_role("textbox", name="User name").fill("jane_doe")
    page.get_by_role("textbox", name="First name").fill("Jane")
    page.get_by_role("textbox", name="Last name").fill("Doe")
    page.get_by_role("textbox", name="Email").fill("jane.doe@cascaderidge.example")
    page.get_by_role("textbox", name="RSA public key").fill(key_text)
    roles = page.get_by_test_id("stMultiSelect")
    roles.click()
    page.get_by_role("option", name=re.compile(r"^ANALYST(: |$)")).click()  # the role, with its description
    page.keyboard.press("Escape")
    page.get_by_test_id("stSelectbox").filter(has_text="Default warehouse").click()
    page.keyboard.type("ANALYST_WH")  # filter, then pick: robust when the list opens slowly
    page.get_by_role("option", name="ANALYST_WH").click()
    page.get_by_role("textbox", name="Justification").fill("Jane joins the marketing analytics team on Monday.")


def test_request_review_merge_in_the_browser(demo, browser, public_pem, private_pem):
    url, workspace = demo
    repo = GitRepo(workspace / "repo.git")
    main_before = repo.branch_head("main")

    # The requester asks for a new user; a pasted private key is refused first.
    page = sign_in(browser, url, "requester")
    shot(page, "01-home")
    go(page, "New user")
    fill_new_user(page, private_pem)
    page.get_by_role("button", name="Preview").click()
    idle(page)
    page.get_by_text("holds a PRIVATE key").wait_for()
    assert "PRIVATE KEY" not in page.content(), "the private key must not be echoed back"
    assert page.get_by_role("textbox", name="RSA public key").input_value() == ""
    shot(page, "02-private-key-refused")
    assert repo.branch_head("main") == main_before
    assert repo.git("for-each-ref", "refs/heads/snowtower").strip() == ""

    page.get_by_role("textbox", name="RSA public key").fill(public_pem)
    page.get_by_role("button", name="Preview").click()
    idle(page)
    page.get_by_text("SnowDDL validation passed").wait_for()
    page.get_by_text("Details: the files this changes").click()  # files, diff and plan are behind Details
    page.get_by_test_id("stCode").first.get_by_text("+JANE_DOE:").wait_for()
    page.get_by_text("SnowDDL plan").first.wait_for()  # the offline plan of the change
    page.get_by_text("SQL by object").first.click()
    page.get_by_text('CREATE USER "JANE_DOE"', exact=False).first.wait_for()
    shot(page, "03-preview")
    page.get_by_role("button", name="Submit request").click()
    idle(page)
    page.get_by_text("Submitted as #1").wait_for()
    branches = repo.git("for-each-ref", "--format=%(refname:short)", "refs/heads/snowtower").split()
    assert branches == ["snowtower/1-new-person-user-jane-doe"]
    assert repo.git("rev-list", "--count", f"main..{branches[0]}").strip() == "1"

    # The approver finds it in the queue and approves it.
    page = sign_in(browser, url, "approver")
    go(page, "Review queue")
    page.get_by_role("heading", name="#1 New person user JANE_DOE").wait_for()  # opened: the newest request
    idle(page, timeout=90)
    page.get_by_test_id("stCode").first.get_by_text("+JANE_DOE:").wait_for()  # the change comes first
    page.get_by_text("SnowDDL plan").first.wait_for()
    shot(page, "04-review")
    page.get_by_role("button", name="Approve").click()
    idle(page)
    page.get_by_text("#1 approved.").wait_for()

    # The admin merges it: main now holds the new user.
    page = sign_in(browser, url, "admin")
    go(page, "Review queue")
    page.get_by_role("button", name="Merge and deploy").click()
    idle(page)
    page.get_by_text("merged into main and deployed").wait_for()
    shot(page, "05-merged")
    assert "JANE_DOE:" in repo.read_text("main", "snowddl/user.yaml")
    assert repo.branch_head("main") != main_before

    # The requester sees every status change with its time.
    page = sign_in(browser, url, "requester")
    go(page, "My requests")
    page.get_by_text("Deployed", exact=True).first.wait_for()  # the page has switched (slow under load)
    text = page.get_by_test_id("stMain").inner_text()
    for step in ("Submitted", "Approved", "Merged", "Deployed"):
        assert step in text, step
    shot(page, "06-my-requests")

    # Signing out returns to the sign-in form, and the pages are gone with it.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.get_by_test_id("stSidebarNav").count() == 0
    # ... and stays signed out: a reload finds no session cookie to sign back in with.
    page.wait_for_timeout(1000)
    page.reload()
    idle(page, timeout=60)
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.get_by_test_id("stSidebarNav").count() == 0
    assert not [c for c in page.context.cookies() if c["name"] == "snowtower_auth"]
