"""SnowTower's entry script: a frame of sign-in, navigation for the viewer's roles and the sidebar.

Run by `snowtower demo` / `snowtower serve` (or `streamlit run portal/app.py`). Everything below runs
inside errors.guard: an unexpected exception shows an error id, never a traceback.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Streamlit puts the script's folder (portal/) first on the path, where this file would shadow the
# `app` package as module "app": the project's root goes first, and portal/ off the path.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT, ROOT / "portal")]

import streamlit as st  # noqa: E402

from core.plaintext import inline_code, md_escape  # noqa: E402
from core.workspace import Workspace  # noqa: E402
from portal import auth, errors, ui  # noqa: E402
from app.settings import SettingsError, load_settings  # noqa: E402

st.set_page_config(page_title="SnowTower", page_icon=":material/ac_unit:", layout="wide")
st.logo(str(ROOT / "portal" / "assets" / "logo.svg"), size="large")


def only_page(render, title: str, url_path: str) -> None:
    """A navigation of one hidden page: no page of the portal is reachable, none is listed."""
    st.navigation([st.Page(render, title=title, url_path=url_path)], position="hidden").run()


def settings_page(error: SettingsError) -> None:
    """Every problem with the settings, one plain line each (never a traceback, never a secret)."""
    def render() -> None:
        st.title("SnowTower's settings need fixing")
        st.error(f"SnowTower cannot start: {len(error.problems)} setting(s) are missing or wrong.", icon=":material/settings:")
        for problem in error.problems:
            st.text(str(problem))
        st.caption("Fix them in the environment (SNOWTOWER_<NAME>), the secrets ([snowtower]) or the workspace's "
                   "settings.toml ([snowtower]), then reload. `snowtower check` lists the same problems; "
                   "docs/settings.md describes every setting.")
    only_page(render, "Settings", "settings")


def frame() -> None:
    try:
        settings = load_settings()
        st.set_option("client.showErrorDetails", errors.error_details(settings.mode))
        signed_in(settings)
    except SettingsError as exc:  # also a setting found missing while building a backend (SiS signing key)
        st.session_state.pop(ui.VIEWER_KEY, None)
        settings_page(exc)


def signed_in(settings) -> None:
    auth_path = Workspace(settings.workspace).auth_path
    if settings.mode == "demo":
        auth.ensure_demo_logins(auth_path)
    try:
        signed = auth.sign_in(auth_path, auth.lockout_for(settings), settings.mode, ui.audit_log())
    except auth.UsersFileError as exc:
        st.session_state.pop(ui.VIEWER_KEY, None)

        def setup() -> None:
            st.title("SnowTower needs its first users")
            st.text(f"Sign-in is not possible: {exc}")
            st.caption("On the server, in the SnowTower workspace, an operator runs:")
            st.code("snowtower users add LOGIN --role admin --name 'First Last' --email name@company.com", language="bash")
            st.caption("Then reload this page. `snowtower users --help` lists the other user commands.")

        only_page(setup, "Set up", "setup")
        return
    actor = signed.actor
    if actor is None:
        st.session_state.pop(ui.VIEWER_KEY, None)

        def signed_out() -> None:
            with st.columns([1, 2, 1])[1]:
                if signed.message:
                    st.error(signed.message, icon=":material/lock:")
                if settings.mode == "demo":
                    st.info("Demo logins: **requester**, **approver** or **admin**, password **demo**.", icon=":material/info:")
                st.caption("SnowTower: self-service Snowflake access, reviewed as code.")

        only_page(signed_out, "Sign in", "sign-in")
        return
    st.session_state[ui.VIEWER_KEY] = actor
    services = ui.services()

    sections = {
        "": [ui.page("home", default=True)],
        "Request": [ui.page("my_requests")],
        **{title: [ui.page(key) for key in keys] for title, keys in ui.REQUEST_SECTIONS.items()},
    }
    if ui.may_open(actor, "review"):
        sections["Review"] = [ui.page("review")]
    admin = [ui.page(key) for key in ("logins", "cost", "security", "infrastructure", "audit", "status")
             if ui.may_open(actor, key) and ui.offered(key)]
    if admin:
        sections["Admin"] = admin
    # A page the viewer may not open is still at its address, saying so (not a silent jump to Home).
    sections[""] += [ui.absent_page(key) if not ui.offered(key) else ui.denied_page(key)
                     for key in ui.PAGE_ROLES if not ui.may_open(actor, key) or not ui.offered(key)]

    with st.sidebar:
        st.markdown(f"Signed in as **{md_escape(actor.name)}**  \n{inline_code(actor.username)} · {', '.join(actor.roles)}")
        signed.authenticator.logout("Sign out", location="sidebar", key="signout", callback=lambda _: auth.record_signin(
            services.audit, "sign_out", actor.username, actor.roles))
        if services.settings.mode == "demo":
            st.caption(f"Demo workspace: `{services.workspace.root}`")

    st.navigation(sections, expanded=True).run()  # expanded: every request page stays visible


errors.guard(frame, "portal")
