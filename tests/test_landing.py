"""Where a signed-in run lands: the page the visitor's address asked for, even when the first run of a reload
is cut short by a rerun for Home (the page the browser still shows) or for no page.
A clean-clone CI run saw a reload of /my-requests land on Home that way."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from portal import ui
from tests.portal_support import open_address

ROOT = Path(__file__).resolve().parents[1]
WANTED_KEY = "snowtower.wanted_page"  # portal/app.py's (the entry script is not importable: it runs)


def signed_in_app(tmp_path, monkeypatch, wanted: str) -> AppTest:
    """The entry script, its session signed in as the demo's requester, remembering that the address asked for
    `wanted` (as the first run of a reload of that address does)."""
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "workspace"))
    ui._services.clear()
    at = AppTest.from_file(str(ROOT / "portal" / "app.py"), default_timeout=30)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "requester"
    at.session_state[WANTED_KEY] = wanted
    return at


def naming_no_page(at: AppTest) -> AppTest:
    """The next run as one a component's value starts before the browser knows its page: it names none."""
    at._page_hash = ""
    at._finished_page_script_hash = ""
    return at.run()


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def test_a_reload_cut_short_on_its_page_still_lands_there(tmp_path, monkeypatch):
    real_form = ui._recipe_form
    calls = []

    def cut_short_once(key: str) -> None:
        import streamlit as st

        calls.append(key)
        if len(calls) == 1:
            st.stop()  # the run ends before the page has (a rerun request stops a run the same way)
        real_form(key)

    monkeypatch.setattr(ui, "_recipe_form", cut_short_once)
    at = naming_no_page(signed_in_app(tmp_path, monkeypatch, "grant-role"))
    assert not at.exception
    assert calls == ["grant_role"] and at.session_state[WANTED_KEY] == "grant-role"  # kept: the run never ended
    at = naming_no_page(at)
    assert not at.exception
    assert calls == ["grant_role", "grant_role"]
    assert titles(at) == ["Grant business roles"]  # not Home, where this run fell back to
    assert WANTED_KEY not in at.session_state  # reached: the next run that names no page is not sent back
    at = naming_no_page(at)
    assert titles(at) != ["Grant business roles"]


def test_a_page_the_viewer_chose_wins_over_the_remembered_one(tmp_path, monkeypatch):
    at = naming_no_page(signed_in_app(tmp_path, monkeypatch, "grant-role"))
    assert titles(at) == ["Grant business roles"]
    at.session_state[WANTED_KEY] = "grant-role"  # as if that run had been cut short
    at = open_address(at, "my_requests")  # the viewer clicks My requests
    assert not at.exception
    assert titles(at) == ["My requests"]
    assert WANTED_KEY not in at.session_state
    assert titles(naming_no_page(at)) != ["Grant business roles"]


def test_a_rerun_tagged_with_home_before_the_wanted_page_ran_still_lands_there(tmp_path, monkeypatch):
    """A reload's first run is Streamlit's default page (Home); the switch to the wanted page can be cut short
    by a rerun the browser sends meanwhile for the page it still shows: Home, by its own address."""
    at = naming_no_page(signed_in_app(tmp_path, monkeypatch, "grant-role"))
    assert titles(at) == ["Grant business roles"]
    at.session_state[WANTED_KEY] = "grant-role"  # as if that run had been cut short
    at = open_address(at, "home")
    assert not at.exception
    assert titles(at) == ["Grant business roles"]
    assert WANTED_KEY not in at.session_state
    assert titles(open_address(at, "home")) != ["Grant business roles"]  # then Home is Home
