"""On a browser test's failure, its report carries what the user saw: the visible text of each open page
and the end of the demo server's log. A timeout alone ("waiting for ... to be visible") does not say
whether the page showed an error, the sign-in form or a spinner."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

# expect()'s own default is 5 s: a run on 2 loaded cores (3 test workers, each with a server and a browser)
# takes longer than that to draw; a real wait, not a pause: it returns as soon as the page shows it.
expect.set_options(timeout=60_000)

TEXT_CHARS = 3000  # of each page's visible text
LOG_CHARS = 4000  # of the end of the server's log


def _page_texts(browser) -> list[str]:
    texts = []
    for context in getattr(browser, "contexts", []):
        for page in context.pages:
            try:
                body = page.evaluate("() => (document.querySelector('[data-testid=stMain]') || document.body"
                                     " || {innerText: ''}).innerText")  # the page, not the sidebar
            except Exception as exc:  # a closed or crashed page: say so rather than hide the report
                body = f"(unreadable: {exc})"
            texts.append(f"--- {page.url}\n{body[:TEXT_CHARS]}")
    return texts


def _server_log(served) -> str:
    try:
        _, workspace = served
        logs = sorted(Path(workspace).parent.glob("*.log"))
    except (TypeError, ValueError):
        return ""
    return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-LOG_CHARS:]}" for log in logs)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    browser = item.funcargs.get("browser")
    if browser is not None:
        report.sections.append(("what the browser showed", "\n".join(_page_texts(browser))))
    for value in item.funcargs.values():  # the served demos: (url, workspace)
        if isinstance(value, tuple) and len(value) == 2 and str(value[0]).startswith("http://"):
            report.sections.append(("demo server log", _server_log(value)))


CHROMIUM = os.environ.get("SNOWTOWER_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]

# Streamlit's app root carries the script's state (data-test-script-state: running, notRunning, ...; the
# attribute Streamlit's own browser tests wait on). A run that starts and ends between two polls leaves the
# attribute as it was: this observer counts every change, so a click's run is seen however short it is.
RUNS = """(() => {
  window.__stChanges = 0;
  const watch = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) { setTimeout(watch, 20); return; }
    new MutationObserver(records => { window.__stChanges += records.length; })
      .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  };
  watch();
})()"""


@pytest.fixture(scope="session")
def chromium():
    """One Chromium for all the browser files a worker runs (starting one costs ~1-2 CPU-seconds). The
    tests share nothing through it: each sign-in is a new context (its own cookies, storage and cache, as
    a separate browser profile), and `browser` closes a file's contexts when the file ends."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (./dev test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        new_context = b.new_context

        def counting_context(*args, **kwargs):  # every page of the tests counts the script's runs (RUNS)
            context = new_context(*args, **kwargs)
            context.add_init_script(RUNS)
            return context

        b.new_context = counting_context
        yield b
        b.close()


@pytest.fixture(scope="module")
def browser(chromium):
    """The worker's Chromium for one test file; at the file's end its pages are closed (as closing a
    browser of its own did), before the file's demo server stops."""
    yield chromium
    for context in list(chromium.contexts):
        context.close()
