"""Status (admins): each backend's health, one line each: settings, mode, GitHub or the local repository,
Snowflake and its grants, SnowDDL, the configuration, the audit log."""
import streamlit as st

from app.status import CHECK_SECONDS, checks
from core.plaintext import md_escape
from portal import account, ui

services, actor = ui.services(), ui.require_page("status")
st.title("Status")
st.caption(f"Each check waits at most {CHECK_SECONDS:g} seconds. Nothing here changes anything.")
st.button("Check again", icon=":material/refresh:", key="status.again")
with st.spinner("Checking ..."):
    found = checks(services, account.uncached_source())
broken = [c for c in found if not c.ok]
if broken:
    st.error(f"{len(broken)} problem(s).", icon=":material/error:")
else:
    st.success("Everything answers as it should.", icon=":material/check_circle:")
for check in found:
    # Plain text: a failure quotes what GitHub or Snowflake answered.
    (st.success if check.ok else st.error)(f"**{check.name}**: {md_escape(check.detail)}",
                                           icon=":material/check:" if check.ok else ":material/close:")
