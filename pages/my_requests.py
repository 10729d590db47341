"""My requests: each request the viewer made, its timeline, the PR, edit-and-resubmit when sent back, and withdraw
while it is open (asked twice: a click and a confirmation)."""
import streamlit as st

from core.changes.base import ChangeError
from core.changes.model import Status
from core.plaintext import inline_code, md_escape
from portal import errors, ui, widgets
from portal.recipe_form import start_resubmit
from app.operations import WithdrawRequest
from recipes import RECIPES

services, actor = ui.services(), ui.viewer()


@errors.guarded_callback
def withdraw(request_id: int, ref: str) -> None:
    """Confirm button's callback: the id of the request on screen when it was drawn, the viewer as now."""
    now = ui.viewer_now()
    st.session_state.pop(f"my_requests.confirm.{request_id}", None)
    if now is None:
        st.session_state["my_requests.error"] = ui.NO_LONGER_ALLOWED
        return
    try:
        WithdrawRequest(services, now, request_id, st.session_state.get(f"my_requests.reason.{request_id}", "")).execute()
    except ChangeError as exc:
        st.session_state["my_requests.error"] = str(exc)
    else:
        st.session_state["my_requests.flash"] = f"{ref} was withdrawn; reviewers no longer see it in their queue."


st.title("My requests")
flash = st.session_state.pop("my_requests.flash", None)
if flash:
    st.success(flash, icon=":material/undo:")
error = st.session_state.pop("my_requests.error", None)
if error:
    st.error(md_escape(error, starts_line=True), icon=":material/error:")
requests = services.changes.list(requester=actor.username)
wanted = st.query_params.get("status")  # from Home's count: "open" (not resolved yet) or one status
if wanted and requests:
    shown = [cr for cr in requests if (not cr.status.resolved if wanted == "open" else cr.status.value == wanted)]
    if st.toggle(f"Only {'open' if wanted == 'open' else wanted.replace('_', ' ')} requests ({len(shown)} of {len(requests)})",
                 value=True, key="my_requests.only"):
        requests = shown
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
        if not cr.status.resolved:  # only an open request can be taken back (the operation checks again)
            confirm = f"my_requests.confirm.{cr.id}"
            if not st.session_state.get(confirm):
                st.button("Withdraw", key=f"my_requests.withdraw.{cr.id}", icon=":material/undo:",
                          on_click=lambda key=confirm: st.session_state.__setitem__(key, True))
            else:
                st.text_input("Why is it no longer needed? (optional)", key=f"my_requests.reason.{cr.id}", max_chars=2000)
                yes, no = st.columns(2)
                yes.button(f"Withdraw {cr.ref}", key=f"my_requests.confirm_withdraw.{cr.id}", type="primary",
                           on_click=withdraw, args=(cr.id, cr.ref))
                no.button("Keep it", key=f"my_requests.keep.{cr.id}",
                          on_click=lambda key=confirm: st.session_state.pop(key, None))
        widgets.timeline(events)
        with st.expander("Request and change"):
            st.json({k: v for k, v in cr.request.items() if k not in _HIDDEN}, expanded=False)
            widgets.diff_view(services.changes.diff(cr))
