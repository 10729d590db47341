"""No traceback in the browser: an unexpected error shows an id, and the server's log has the traceback."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import ui
from portal.errors import error_details
from tests.portal_support import open_address

ROOT = Path(__file__).resolve().parents[1]
ERROR = re.compile(r"Something went wrong — error id ([0-9A-F]{8})\b")


def error_id(at: AppTest) -> str:
    found = [m.group(1) for e in at.error for m in [ERROR.search(e.value)] if m]
    assert len(found) == 1, [e.value for e in at.error]
    return found[0]


def logged(caplog, eid: str) -> logging.LogRecord:
    records = [r for r in caplog.records if r.name == "snowtower.portal" and eid in r.getMessage()]
    assert len(records) == 1
    return records[0]


def raising_page():
    import streamlit as st

    from portal import errors

    def page():
        st.title("Before the fault")
        raise RuntimeError("secret detail: /srv/snowtower/token=abc")

    errors.guard(page)


def test_a_page_that_raises_shows_an_id_and_logs_the_traceback(caplog):
    caplog.set_level(logging.ERROR, logger="snowtower")
    at = AppTest.from_function(raising_page, default_timeout=30).run()
    assert not at.exception  # nothing reaches Streamlit's own traceback view
    eid = error_id(at)
    shown = "\n".join(str(e.value) for e in [*at.error, *at.markdown, *at.title])
    assert "secret detail" not in shown and "Traceback" not in shown and "RuntimeError" not in shown
    record = logged(caplog, eid)
    assert record.exc_info and record.exc_info[0] is RuntimeError
    assert "secret detail" in record.getMessage()


def test_the_portal_lists_every_settings_problem_instead_of_a_traceback(tmp_path, monkeypatch):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "settings.toml").write_text('[snowtower]\nrequired_approvals = "many"\nrequired_approval = 2\n')
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(workspace))
    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "ghp_never_shown")
    monkeypatch.setenv("SNOWTOWER_CURRENCY", "dollars")
    at = AppTest.from_file(str(ROOT / "portal" / "app.py"), default_timeout=30).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["SnowTower's settings need fixing"]
    where = f"{workspace / 'settings.toml'} [snowtower]"
    assert [t.value for t in at.text] == [
        f"required_approval: unknown setting; did you mean required_approvals? (from {where})",
        f"required_approvals: wrong type: Input should be a valid integer, unable to parse string as an integer (from {where})",
        "currency: must be a three-letter ISO 4217 code such as USD or EUR, not 'dollars' "
        "(from environment variable SNOWTOWER_CURRENCY)"]
    shown = "\n".join(str(e.value) for e in [*at.error, *at.markdown, *at.text, *at.caption])
    assert "Traceback" not in shown and "ghp_never_shown" not in shown
    assert not at.text_input  # no sign-in form: nothing else of the portal runs


def test_a_callback_that_raises_shows_its_id_on_the_next_run(tmp_path, monkeypatch, caplog, people):
    """The recipe form's callbacks run before the script; their faults are shown by the page's guard."""
    caplog.set_level(logging.ERROR, logger="snowtower")
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "workspace"))
    ui._services.clear()
    from app.operations.shared import preview as preview_module

    class Broken:
        def __init__(self, *args, **kwargs):
            pass

        def execute(self):
            raise OSError("disk full")

    monkeypatch.setattr("portal.recipe_form.PreviewRequest", Broken)
    at = AppTest.from_file(str(ROOT / "portal" / "app.py"), default_timeout=30)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "requester"
    at.run()
    at = open_address(at, "grant_role")
    at = next(b for b in at.button if b.label == "Preview").click().run()
    assert not at.exception
    assert logged(caplog, error_id(at)).exc_info[0] is OSError
    assert preview_module  # the real operation stays in place for other tests


@pytest.mark.parametrize(("mode", "shown"), [("demo", "full"), ("production", "none")])
def test_streamlit_error_details_are_off_outside_the_demo(mode, shown):
    assert error_details(mode) == shown


@pytest.mark.parametrize(("settings", "shown"), [("", "full"), ('mode = "production"\n', "none")])
def test_serve_starts_streamlit_with_error_details_for_its_mode(tmp_path, monkeypatch, settings, shown):
    from portal import cli

    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "settings.toml").write_text("[snowtower]\n" + settings)
    from app.paths import EXAMPLE_CONFIG
    from core.workspace import ensure_demo_workspace

    ensure_demo_workspace(workspace, EXAMPLE_CONFIG)  # its git repository (a production workspace starts from one)
    started = []
    monkeypatch.setattr(cli.os, "execvpe", lambda exe, argv, env: started.append(argv))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["serve", "--workspace", str(workspace)]) == 0
    argv = started[0]
    assert argv[argv.index("--client.showErrorDetails") + 1] == shown
