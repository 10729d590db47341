"""The portal's host adapter: Streamlit's secrets and signed-in viewer behind app.host's ports.

- `streamlit_secrets()`: st.secrets (a mapping with .get; reading a table raises when there is no
  secrets.toml: app's callers take that as no secret); None when Streamlit is not loaded in this process;
- `served_secrets()`: st.secrets as a dict when this process runs the portal (a Streamlit runtime or
  script run exists); None otherwise; {} when it has no secrets file;
- `streamlit_user()`: the claims of the viewer signed in to this Streamlit session (st.user); {} outside
  Streamlit, without a script run, or signed out.
Each looks Streamlit up only when it is already loaded (`"streamlit" in sys.modules`): importing this
module never imports Streamlit, so a command that imports the portal's package stays without it.
`install()` makes STREAMLIT_HOST the process's host (app.host.install); portal.auth calls it on import.
"""
from __future__ import annotations

import sys

from app.host import Host
from app.host import install as install_host


def streamlit_secrets():
    """st.secrets when Streamlit runs this process, else None."""
    if "streamlit" not in sys.modules:
        return None
    import streamlit as st

    return st.secrets


def served_secrets() -> dict | None:
    """The secrets the portal's pages read, as a dict, when this process is the portal's own; else None."""
    if "streamlit" not in sys.modules:
        return None
    try:
        from streamlit import runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        if runtime.exists() or get_script_run_ctx(suppress_warning=True) is not None:
            import streamlit as st  # the portal's own process: exactly what its pages read

            return st.secrets.to_dict()
    except Exception:  # no secrets file at all
        return {}
    return None


def streamlit_user() -> dict:
    """The claims of the viewer signed in to this Streamlit session (st.user); {} outside Streamlit or signed out."""
    if "streamlit" not in sys.modules:
        return {}
    try:
        import streamlit as st

        user = st.user.to_dict()
    except Exception:  # no script run context (a job), or no user info
        return {}
    return dict(user) if user else {}


STREAMLIT_HOST = Host(secrets=streamlit_secrets, served_secrets=served_secrets, user=streamlit_user)


def install() -> None:
    """Make Streamlit this process's host (app.host): its secrets and st.user."""
    install_host(STREAMLIT_HOST)
