"""My requests: each request the viewer made, its timeline, the PR, and edit-and-resubmit when sent back."""
import streamlit as st

from core.changes.model import Status
from core.plaintext import inline_code, md_escape
from portal import ui, widgets
from portal.recipe_form import start_resubmit
from recipes import RECIPES

services, actor = ui.services(), ui.viewer()

st.title("My requests")
requests = services.changes.list(requester=actor.username)
if not requests:
    st.info("You have not asked for anything yet.")
    st.page_link(ui.page("home"), label="See what you can ask for", icon=":material/home:")

_HIDDEN = {"rsa_public_key", "rsa_public_key_2", "justification"}

for cr in requests:
    with st.container(border=True):
        st.markdown(f"**{cr.ref} {md_escape(cr.title)}** {ui.status_badge(cr.status)}")
        recipe = RECIPES.get(cr.recipe)
        st.caption(f"{recipe.title if recipe else cr.recipe} · submitted {ui.when(cr.created_at)} · branch {inline_code(cr.branch)}")
        if cr.url:
            st.markdown(f"[Open the pull request]({cr.url})")
        if cr.request.get("until"):
            st.markdown(f":orange-badge[time-bound] access until **{md_escape(cr.request['until'])}**")
        events = services.changes.events(cr)
        if cr.status == Status.CHANGES_REQUESTED:
            asked = next((e for e in reversed(events) if e.action == "changes_requested"), None)
            st.warning(f"**{md_escape(asked.actor) if asked else 'A reviewer'}** asked for changes:", icon=":material/rate_review:")
            if asked and asked.detail:
                st.text(asked.detail)  # the reviewer's words, as typed
            if recipe and recipe.page:
                if st.button("Edit and resubmit", key=f"my_requests.edit.{cr.id}", type="primary"):
                    start_resubmit(cr, asked.detail if asked else "")
        widgets.timeline(events)
        with st.expander("Request and change"):
            st.json({k: v for k, v in cr.request.items() if k not in _HIDDEN}, expanded=False)
            widgets.diff_view(services.changes.diff(cr))
