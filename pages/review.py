"""Review queue: approvers decide on others' requests; admins merge approved ones."""
import streamlit as st

from core.changes.base import ChangeError
from core.changes.model import Status
from core.plaintext import inline_code, md_escape
from portal import account, ui, widgets
from app.operations import ApproveRequest, MergeRequest, RejectRequest, RequestChanges
from app.operations.guards import approvals, is_requester

services, actor = ui.services(), ui.require_page("review")

st.title("Review queue")
flash = st.session_state.pop("review.flash", None)
if flash:
    st.success(flash)

queue = services.changes.list(statuses=[Status.OPEN, Status.CHANGES_REQUESTED, Status.APPROVED])
if not queue:
    st.info("Nothing is waiting for review.")
    st.stop()

labels = {cr.id: f"{cr.ref} {cr.title} · {cr.requester} · {cr.status.label}" for cr in queue}
chosen = st.selectbox("Request", list(labels), format_func=labels.get, key="review.selected")
cr = services.changes.get(chosen)

st.subheader(f"{cr.ref} {md_escape(cr.title)}")
st.markdown(f"{ui.status_badge(cr.status)} requested by **{md_escape(cr.requester)}** on {ui.when(cr.created_at)} · branch {inline_code(cr.branch)}")
have = approvals(services, cr)
st.caption(f"Approvals: {len(have)} of {services.settings.required_approvals} needed" + (f" ({md_escape(', '.join(have))})" if have else ""))

st.markdown("**Justification**")
with st.container(border=True):
    st.text(cr.justification)  # as typed: never Markdown or HTML
account.show_request_cost(cr.recipe, cr.request, cr.base_sha)
details, change, history = st.tabs(["Request", "Change", "History"])
with details:
    st.json({k: v for k, v in cr.request.items() if k not in ("rsa_public_key", "rsa_public_key_2")}, expanded=True)
with change:
    widgets.validation_view(cr.validation)
    widgets.diff_view(services.changes.diff(cr))
    widgets.plan_view(services.plan(cr.base_sha, cr.head_sha))
with history:
    widgets.timeline(services.changes.events(cr))


def act(make, done: str, request_id: int, head_sha: str) -> None:
    """A button's callback: runs before the next run of this script, with the id and head commit of
    the request that was on screen when the button was drawn, never what the selection is now; and the
    viewer as the users file says now, never the roles they had when the button was drawn."""
    comment = st.session_state.get(f"review.comment.{request_id}", "")
    # Why: a callback runs before the entry script reads the roles again: act with the roles of now.
    now = ui.viewer_now()
    if now is None:
        st.session_state["review.error"] = ui.NO_LONGER_ALLOWED
        return
    try:
        make(now, request_id, head_sha, comment).execute()
    except ChangeError as exc:
        st.session_state["review.error"] = str(exc)
        return
    st.session_state["review.flash"] = done


error = st.session_state.pop("review.error", None)
if error:
    st.error(md_escape(error, starts_line=True))
own = is_requester(services, actor, cr)  # under any name they go by
if own:
    st.warning("This is your own request: another approver must review it.")
st.text_area("Comment for the requester", key=f"review.comment.{cr.id}", placeholder="Required to ask for changes or reject")
# Every button's key and callback carry the request on screen (id and head commit): if it leaves the
# queue or changes before the click is handled, the operation says so and acts on nothing else.
on_screen = (cr.id, cr.head_sha)
cols = st.columns(4)
cols[0].button("Approve", type="primary", disabled=own or cr.status == Status.APPROVED, key=f"review.approve.{cr.id}",
               on_click=act, args=(lambda a, i, h, c: ApproveRequest(services, a, i, c, h), f"{cr.ref} approved.", *on_screen))
cols[1].button("Request changes", disabled=own, key=f"review.changes.{cr.id}",
               on_click=act, args=(lambda a, i, h, c: RequestChanges(services, a, i, c, h), f"Changes requested on {cr.ref}.", *on_screen))
cols[2].button("Reject", disabled=own, key=f"review.reject.{cr.id}",
               on_click=act, args=(lambda a, i, h, c: RejectRequest(services, a, i, c, h), f"{cr.ref} rejected.", *on_screen))
if actor.can("admin"):
    ready = cr.status == Status.APPROVED
    deployed = " and deployed" if services.settings.mode == "demo" else "; the merge-deploy workflow deploys it"
    cols[3].button("Merge and deploy", type="primary", disabled=not ready, key=f"review.merge.{cr.id}",
                   help=None if ready else "Needs approval first", on_click=act,
                   args=(lambda a, i, h, c: MergeRequest(services, a, i, h),
                         f"{cr.ref} merged into {services.settings.base_branch}{deployed}.", *on_screen))
