"""Review queue: approvers decide on others' requests; admins merge approved ones. One screen per
request: the change first, then what it risks, the request as typed, the decision, and the plan (folded)."""
import pandas as pd
import streamlit as st

from core.changes.base import ChangeError
from core.changes.model import Status
from core.plaintext import inline_code, md_escape
from core.risk import level_of
from portal import account, ui, widgets
from app.operations import ApproveRequest, MergeRequest, RejectRequest, RequestChanges
from app.operations.guards import is_requester
from app.review import decisions, queue, risks
from recipes import recipe_named

services, actor = ui.services(), ui.require_page("review")
RISK_COLORS = {"high": "red", "medium": "orange", "none": "green", "unknown": "gray"}

st.title("Review queue")
flash = st.session_state.pop("review.flash", None)
if flash:
    st.success(flash)
error = st.session_state.pop("review.error", None)
if error:
    st.error(md_escape(error, starts_line=True))

view = st.segmented_control("Show", ["Open", "Closed"], default="Open", key="review.view") or "Open"
rows = queue(services, actor, closed=view == "Closed")
frame = pd.DataFrame([{
    "Urgent": "URGENT" if r.urgent else "", "Request": r.ref, "Kind": r.kind, "Title": r.title, "Requester": r.requester, "Status": r.status,
    "Age (h)": r.age_hours, "Approvals": f"{r.approvals} of {r.needed}", "Validation": r.validation, "Risk": r.risk,
    "id": r.id,
} for r in rows])

with st.container(horizontal=True):
    search = st.text_input("Search", key="review.search", placeholder="#12, title, requester or kind",
                           max_chars=200)
    kinds = st.multiselect("Kind", sorted({r.kind for r in rows}), key="review.kinds")
    levels = st.multiselect("Risk", ["high", "medium", "none", "unknown"], key="review.risk")
    sort = st.selectbox("Sort by", ["Newest", "Oldest", "Risk", "Requester"], key="review.sort")
if not frame.empty:
    keep = pd.Series(True, index=frame.index)
    if search.strip():
        needle = search.strip().casefold()
        keep &= frame[["Request", "Kind", "Title", "Requester", "Status"]].apply(
            lambda row: any(needle in str(v).casefold() for v in row), axis=1)
    if kinds:
        keep &= frame["Kind"].isin(kinds)
    if levels:
        keep &= frame["Risk"].isin(levels)
    frame = frame[keep]
    # Ties (requests opened in the same hour) go by request number, newest first.
    order = {"Newest": (["Age (h)", "id"], [True, False]), "Oldest": (["Age (h)", "id"], [False, True]),
             "Requester": (["Requester", "id"], [True, False]), "Risk": (["_r", "Age (h)", "id"], [True, True, False])}
    columns, ascending = order[sort]
    frame = (frame.assign(_r=frame["Risk"].map({"high": 0, "medium": 1, "unknown": 2, "none": 3}))
             .sort_values(columns, ascending=ascending, kind="stable").drop(columns="_r"))
    # Urgent requests (reverts of a failed deployment) stay on top whatever the sort.
    frame = frame.sort_values("Urgent", ascending=False, kind="stable")

ids = [int(i) for i in frame["id"]] if not frame.empty else []
acted = st.session_state.get("review.acted")
if acted is not None and acted not in ids and st.session_state.get("review.selected") == acted:
    ids.append(acted)  # the request just decided on stays on screen, in its new state
if frame.empty:
    st.info("Nothing is waiting for review." if view == "Open" and not rows else "No request matches.")
    if not ids:
        st.stop()
else:
    st.dataframe(frame.drop(columns="id"), hide_index=True, width="stretch", height=min(36 + 35 * len(frame), 260),
                 key="review.table")
labels = {r.id: ("URGENT · " if r.urgent else "") + f"{r.ref} {r.title} · {r.requester} · {r.status}" for r in rows}
chosen = st.selectbox("Request", ids, format_func=lambda i: labels.get(i, f"#{i}"), key="review.selected")
cr = services.changes.get(chosen)


# -- the request: change first ------------------------------------------------------------------------
have, last = decisions(services, cr, actor)  # one read of the reviews
need = services.settings.required_approvals
try:
    flags, risk_error = risks(services, cr, actor), None
except ValueError as exc:  # a threshold setting that is no warehouse size
    flags, risk_error = [], str(exc)
level = level_of(flags) if not risk_error else "unknown"
st.subheader(f"{cr.ref} {md_escape(cr.title)}")
if getattr(recipe_named(cr.recipe), "urgent", False):
    st.markdown(":red-badge[:material/priority_high: urgent] A deployment failed: this request reverts the change "
                "that caused it. Review it like any other; it needs the usual approvals.")
st.markdown(f"{ui.status_badge(cr.status)} :{RISK_COLORS[level]}-badge[risk: {level}] requested by "
            f"**{md_escape(cr.requester)}** on {ui.when(cr.created_at)} · approvals {len(have)} of {need}"
            + (f" ({md_escape(', '.join(have))})" if have else "") + f" · branch {inline_code(cr.branch)}")

widgets.access_change(services=services, cr=cr, key=f"review.access.{cr.id}")
st.markdown("**The change**")
widgets.diff_view(services.changes.diff(cr))

st.markdown("**Risk flags**")
if risk_error:
    st.error(f"Risk flags could not be computed: {md_escape(risk_error)}")
elif not flags:
    st.success("No risk flag.", icon=":material/verified_user:")
else:
    st.dataframe(pd.DataFrame([{"Level": f.level, "Risk": f.message, "Where": f.where, "Line": f.text} for f in flags]),
                 hide_index=True, width="stretch", height=min(36 + 35 * len(flags), 250), key="review.flags",
                 column_config={"Level": st.column_config.TextColumn(width="small"), "Risk": st.column_config.TextColumn(width="large")})

left, right = st.columns(2)
with left:
    widgets.validation_view(cr.validation)
    st.markdown("**Justification**")
    with st.container(border=True, height=120):
        st.text(cr.justification)  # as typed: never Markdown or HTML
with right:
    st.markdown("**Request**")
    hidden = ("rsa_public_key", "rsa_public_key_2", "justification")
    fields = [{"Field": k, "Value": ", ".join(map(str, v)) if isinstance(v, list) else str(v)}
              for k, v in cr.request.items() if k not in hidden]
    st.dataframe(pd.DataFrame(fields, columns=["Field", "Value"]), hide_index=True, width="stretch",
                 height=min(38 + 35 * len(fields), 250), key="review.request")
account.show_request_cost(cr.recipe, cr.request, cr.base_sha)
plan = services.plan(cr.base_sha, cr.head_sha)


# -- the decision ----------------------------------------------------------------------------------------
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
        result = make(now, request_id, head_sha, comment).execute()
    except ChangeError as exc:
        st.session_state["review.error"] = str(exc)
        return
    # Where merging deploys (the demo), a merge that stays "merged" is one whose deploy step failed (app.operations.merge).
    if getattr(services.changes, "deploys_on_merge", False) and getattr(result, "status", None) == Status.MERGED:
        st.session_state["review.error"] = (f"{result.ref} was merged but its deployment failed. The admins were told, and "
                                            "an urgent revert request was opened for review unless the configuration "
                                            "changed the same lines since (see the queue).")
        st.session_state["review.acted"] = request_id
        return
    st.session_state["review.flash"] = done
    st.session_state["review.acted"] = request_id


if cr.status.resolved:
    st.info(f"{cr.ref} is {cr.status.label}: nothing left to decide.", icon=":material/task_alt:")
else:
    own = is_requester(services, actor, cr)  # under any name they go by
    if own:
        st.warning("This is your own request: another approver must review it.")
    st.text_area("Comment for the requester", key=f"review.comment.{cr.id}", placeholder="Required to ask for changes or reject",
                 height=68, max_chars=10_000)
    # Every button's key and callback carry the request on screen (id and head commit): if it leaves the
    # queue or changes before the click is handled, the operation says so and acts on nothing else.
    on_screen = (cr.id, cr.head_sha)
    approved = last == "approve"
    asked = last == "request_changes"
    cols = st.columns(4)
    cols[0].button("Approved by you" if approved else "Approve", type="primary", disabled=own or approved,
                   icon=":material/check:" if approved else None, key=f"review.approve.{cr.id}", on_click=act,
                   args=(lambda a, i, h, c: ApproveRequest(services, a, i, c, h), f"{cr.ref} approved.", *on_screen))
    cols[1].button("Changes requested" if asked else "Request changes", disabled=own or asked, key=f"review.changes.{cr.id}",
                   on_click=act, args=(lambda a, i, h, c: RequestChanges(services, a, i, c, h), f"Changes requested on {cr.ref}.", *on_screen))
    cols[2].button("Reject", disabled=own, key=f"review.reject.{cr.id}",
                   on_click=act, args=(lambda a, i, h, c: RejectRequest(services, a, i, c, h), f"{cr.ref} rejected.", *on_screen))
    if actor.can("admin"):
        ready = cr.status == Status.APPROVED
        confirm_key = f"review.unsafe.{cr.id}.{cr.head_sha}"
        if plan.unsafe_count:
            st.checkbox(f"I have read the {plan.unsafe_count} unsafe statement(s) below and want them deployed",
                        key=confirm_key, disabled=not ready)
        confirmed = not plan.unsafe_count or bool(st.session_state.get(confirm_key))
        deployed = " and deployed" if services.settings.mode == "demo" else "; the merge-deploy workflow deploys it"
        why = None if ready and confirmed else "Needs approval first" if not ready else "Confirm the unsafe statements first"
        cols[3].button("Merge and deploy", type="primary", disabled=not (ready and confirmed), key=f"review.merge.{cr.id}",
                       help=why, on_click=act,
                       args=(lambda a, i, h, c: MergeRequest(services, a, i, h, confirm_unsafe=bool(st.session_state.get(confirm_key))),
                             f"{cr.ref} merged into {services.settings.base_branch}{deployed}.", *on_screen))

# -- the plan, folded; the history -------------------------------------------------------------------------
widgets.plan_view(plan, key=f"review.plan.{cr.id}")
with st.expander("History"):
    widgets.timeline(services.changes.events(cr))
