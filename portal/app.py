"""SnowTower's entry script: a frame of sign-in, navigation for the viewer's roles and the sidebar.

Run by `snowtower demo` / `snowtower serve` (or `streamlit run portal/app.py`).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # streamlit puts the script's folder on the path, not the project's
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from portal import auth, ui  # noqa: E402

st.set_page_config(page_title="SnowTower", page_icon=":material/ac_unit:", layout="wide")
st.logo(str(ROOT / "portal" / "assets" / "logo.svg"), size="large")

services = ui.services()
if services.settings.mode == "demo":
    auth.ensure_demo_logins(services.workspace.auth_path)

actor, authenticator = auth.sign_in(services.workspace.auth_path)
if actor is None:
    st.session_state.pop(ui.VIEWER_KEY, None)

    def signed_out() -> None:
        with st.columns([1, 2, 1])[1]:
            if services.settings.mode == "demo":
                st.info("Demo logins: **requester**, **approver** or **admin**, password **demo**.", icon=":material/info:")
            st.caption("SnowTower: self-service Snowflake access, reviewed as code.")

    # A navigation of one hidden page: no page of the portal is reachable, none is listed.
    st.navigation([st.Page(signed_out, title="Sign in", url_path="sign-in")], position="hidden").run()
    st.stop()
st.session_state[ui.VIEWER_KEY] = actor

sections = {
    "": [ui.page("home", default=True)],
    "Request": [ui.page("my_requests")],
    **{title: [ui.page(key) for key in keys] for title, keys in ui.REQUEST_SECTIONS.items()},
}
if actor.can("approver"):
    sections["Review"] = [ui.page("review")]
if actor.can("admin"):
    sections["Watch"] = [ui.page("cost")]

with st.sidebar:
    st.markdown(f"Signed in as **{actor.name}**  \n`{actor.username}` · {', '.join(actor.roles)}")
    authenticator.logout("Sign out", location="sidebar", key="signout")
    if services.settings.mode == "demo":
        st.caption(f"Demo workspace: `{services.workspace.root}`")

st.navigation(sections, expanded=True).run()  # expanded: every request page stays visible
