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
        from streamlit.runtime.scriptrunner import get_script_run_ctx
        from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

        calls.append(key)
        if len(calls) == 1:
            # What the browser's rerun for no page does when it reaches the server while this page runs: the
            # request is taken at the next Streamlit call, which ends the run (RerunException), and the rerun
            # begins, on Home.
            get_script_run_ctx().script_requests.request_rerun(RerunData())
            st.empty()
        real_form(key)

    monkeypatch.setattr(ui, "_recipe_form", cut_short_once)
    at = naming_no_page(signed_in_app(tmp_path, monkeypatch, "grant-role"))
    assert not at.exception
    assert calls == ["grant_role", "grant_role"]  # cut short, the rerun on Home, sent on to it again
    assert titles(at) == ["Grant business roles"]  # not Home, where the rerun fell back to
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


def test_a_wanted_page_that_ends_with_st_stop_is_reached_and_home_is_home_after(tmp_path, monkeypatch):
    """Pages end their ordinary runs with st.stop() (the review queue with nothing waiting, a page with nothing to
    show yet): that run on the wanted page has ended, and the viewer's click on Home opens Home, not the wanted
    page again (every click on Home was sent back to the review queue)."""
    at = signed_in_app(tmp_path, monkeypatch, "review")
    at.session_state["username"] = "approver"
    at = naming_no_page(at)
    assert not at.exception
    assert titles(at) == ["Review queue"] and [i.value for i in at.info] == ["Nothing is waiting for review."]
    assert WANTED_KEY not in at.session_state
    at = open_address(at, "home")
    assert not at.exception
    assert titles(at) == ["Welcome, Avery"]


def test_a_wanted_page_that_fails_is_reached_and_home_is_home_after(tmp_path, monkeypatch):
    """A wanted page whose run raised (the error id is shown) has ended too: Home stays reachable."""
    def broken(key: str) -> None:
        raise RuntimeError("a fault in the page")

    monkeypatch.setattr(ui, "_recipe_form", broken)
    at = naming_no_page(signed_in_app(tmp_path, monkeypatch, "grant-role"))
    assert [e.value for e in at.error][0].startswith("Something went wrong")
    assert WANTED_KEY not in at.session_state
    at = open_address(at, "home")
    assert titles(at)[0].startswith("Welcome")
