"""My requests: each request the viewer made, with its status timeline."""
import streamlit as st

from portal import ui, widgets

services, actor = ui.services(), ui.viewer()

st.title("My requests")
requests = services.changes.list(requester=actor.username)
if not requests:
    st.info("You have not asked for anything yet.")
    st.page_link(ui.page("new_user"), label="Ask for a new user", icon=":material/person_add:")
for cr in requests:
    with st.container(border=True):
        st.markdown(f"**{cr.ref} {cr.title}** {ui.status_badge(cr.status)}")
        st.caption(f"Submitted {ui.when(cr.created_at)} · branch `{cr.branch}`")
        widgets.timeline(services.changes.events(cr))
        with st.expander("Change"):
            widgets.diff_view(services.changes.diff(cr))
