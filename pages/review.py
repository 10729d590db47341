"""Review queue: approvers decide on others' requests; admins merge approved ones. The page leads with the
decision: a row (or, on a phone, a card) opens a request; its summary sentence, the access change, risk,
cost and status come first, then the decision bar (which stays in view while the detail scrolls), then
the flags, the diff without git's noise, the request as typed, and the plan (folded)."""
import pandas as pd
import streamlit as st

from core.changes.base import ChangeError
from core.changes.model import Status
from core.plaintext import inline_code, md_escape
from core.risk import level_of
from portal import account, ui, widgets
from app.operations import ApproveRequest, MergeRequest, RejectRequest, RequestChanges
from app.operations.shared.guards import is_requester
from app.review import decisions, next_request, person, queue, risks, summary
from recipes import recipe_named

services, actor = ui.services(), ui.require_page("review")
RISK_COLORS = {"high": "red", "medium": "orange", "none": "green", "unknown": "gray", "": "gray"}
SELECTED = "review.selected"  # the id of the request on screen (set by a row, a card, a link or Next)
SHOWN = "review.shown"  # the ids of the table's rows as last drawn, in order: a selection event names a row

# Phone width: the table's columns would hide status, approvals and risk off-screen; below 640 px the
# requests are cards instead (both are drawn; CSS shows one). The decision bar stays in view wherever the
# page is scrolled: sticky to the top (below the app's 3.75rem header) once scrolled past, and to the bottom
# of the window before it is reached. What sticks is the bar's layout wrapper: Streamlit wraps the keyed
# container in an element of its own height, and a sticky element cannot leave its parent (the bar itself,
# made sticky, never moved). Its background is the app's own, in either theme: the bar and each of its
# ancestors inherit the app's background colour (a fixed white made it a white box with white text in the
# dark theme, and the theme's colours are not CSS variables one could name).
st.html("""<style>
@media (max-width: 640px) { .st-key-review_list_table { display: none; } }
@media (min-width: 641px) { .st-key-review_list_cards { display: none; } }
[data-testid="stLayoutWrapper"]:has(> .st-key-review-decision), .st-key-review-decision {
  position: sticky; top: 3.75rem; bottom: 0; z-index: 99; }
[data-testid="stApp"] :has(.st-key-review-decision), .st-key-review-decision { background-color: inherit; }
</style>""")

st.title("Review queue")
flash = st.session_state.pop("review.flash", None)
if flash:
    st.success(flash)
error = st.session_state.pop("review.error", None)
if error:
    st.error(md_escape(error, starts_line=True))

# Links carry a filter (Home's counts): ?status=approved, ?request=12. Read once, then the page's own.
params, linked = st.query_params, False
if "request" in params:
    try:
        st.session_state[SELECTED], linked = int(params["request"]), True
    except ValueError:
        pass
    del params["request"]
status_filter = params.get("status") if params.get("status") in {s.value for s in Status} else None

view = st.segmented_control("Show", ["Open", "Closed"], default="Open", key="review.view") or "Open"
rows = queue(services, actor, closed=view == "Closed")
if status_filter:
    rows = [r for r in rows if r.status == Status(status_filter).label]
    st.caption(f"Showing requests that are {Status(status_filter).label} (from a link).")
# Names from the config the newest request was made on (already read for its risk flags: no extra read).
names_from = services.snapshot(rows[0].base_sha) if rows and rows[0].base_sha else None
names = {u: person(services, u, names_from) for u in {r.requester for r in rows}}
frame = pd.DataFrame([{
    "Urgent": "URGENT" if r.urgent else "", "Request": r.ref, "Title": r.title, "Status": r.status, "Approvals": f"{r.approvals} of {r.needed}", "Risk": r.risk,
    "Requester": names[r.requester], "Kind": r.kind, "Age (h)": r.age_hours, "Validation": r.validation, "id": r.id,
} for r in rows])

with st.expander("Filter and sort", expanded=False):
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
chosen = st.session_state.get(SELECTED)
if chosen not in ids:
    if chosen is not None and chosen == st.session_state.get("review.acted"):
        ids.append(chosen)  # the request just decided on stays on screen, in its new state
    elif linked and services.changes.get(chosen) is not None:
        pass  # a request opened by a link (Home, a notification) is shown even where the filters hide it
    else:
        chosen = ids[0] if ids else None
st.session_state[SELECTED] = chosen


def pick_row() -> None:
    """The table's selection event: the row clicked, as drawn on the last run (SHOWN), becomes the request
    on screen. Runs before the script, so the detail below shows the row just clicked."""
    rows_now = st.session_state.get("review.table", {}).get("selection", {}).get("rows", [])
    shown = st.session_state.get(SHOWN) or []
    if rows_now and rows_now[0] < len(shown):
        st.session_state[SELECTED] = shown[rows_now[0]]


def pick(request_id: int) -> None:
    st.session_state[SELECTED] = request_id


if frame.empty:
    st.info("Nothing is waiting for review." if view == "Open" and not rows else "No request matches.")
else:
    st.session_state[SHOWN] = ids[:len(frame)]
    with st.container(key="review_list_table"):
        st.dataframe(frame.drop(columns="id"), hide_index=True, width="stretch", height=min(36 + 35 * len(frame), 260),
                     key="review.table", on_select=pick_row, selection_mode="single-row",
                     column_config={"Title": st.column_config.TextColumn(width="large")})
        st.caption("Click a row to open the request.")
    with st.container(key="review_list_cards"):
        by_id = {r.id: r for r in rows}
        for i in ids[:len(frame)][:30]:
            r = by_id[i]
            with st.container(border=True):
                st.button(("URGENT · " if r.urgent else "") + f"{r.ref} {md_escape(r.title)}", key=f"review.card.{i}", on_click=pick, args=(i,),
                          type="primary" if i == chosen else "secondary", width="stretch")
                st.markdown(f":{ui.STATUS_COLORS[Status(next(s for s in Status if s.label == r.status))]}-badge[{r.status}] "
                            f":{RISK_COLORS.get(r.risk, 'gray')}-badge[risk: {r.risk or 'n/a'}] "
                            f":gray-badge[approvals {r.approvals} of {r.needed}]")
                st.caption(f"{md_escape(names[r.requester])} · {r.age_hours} h ago")
        if len(frame) > 30:
            st.caption(f"The first 30 of {len(frame)}: narrow them with Filter and sort.")
if chosen is None:
    st.stop()
cr = services.changes.get(chosen)


# -- the request: the decision first -------------------------------------------------------------------
have, last = decisions(services, cr, actor)  # one read of the reviews
need = services.settings.required_approvals
try:
    flags, risk_error = risks(services, cr, actor), None
except ValueError as exc:  # a threshold setting that is no warehouse size
    flags, risk_error = [], str(exc)
level = level_of(flags) if not risk_error else "unknown"
st.divider()
st.subheader(f"{cr.ref} {md_escape(cr.title)}")
if getattr(recipe_named(cr.recipe), "urgent", False):
    st.markdown(":red-badge[:material/priority_high: urgent] A deployment failed: this request reverts the change "
                "that caused it. Review it like any other; it needs the usual approvals.")
st.markdown(md_escape(summary(services, cr), starts_line=True))
chips = [ui.status_badge(cr.status), f":{RISK_COLORS[level]}-badge[risk: {level}]",
         f":gray-badge[approvals {len(have)} of {need}]",
         ":green-badge[validation passed]" if cr.validation.get("valid") else ":red-badge[validation failed]"]
chips += [c for c in (widgets.duration_badge(cr.recipe, cr.request), account.request_cost_badge(cr.recipe, cr.request, cr.base_sha)) if c]
st.markdown(" ".join(chips))
at_base = services.snapshot(cr.base_sha)
st.markdown(f"Requested by **{md_escape(person(services, cr.requester, at_base))}** on {ui.when(cr.created_at)}"
            + (f" · approved by {md_escape(', '.join(person(services, a, at_base) for a in have))}" if have else ""))

# -- the access change: what each person gains and loses, before anything else -----------------------------
widgets.access_change(services=services, cr=cr, key=f"review.access.{cr.id}")


# -- the decision bar ------------------------------------------------------------------------------------
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
    st.session_state.setdefault("review.decided", set()).add(request_id)


plan = services.plan(cr.base_sha, cr.head_sha)
with st.container(key="review-decision", border=True):
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
        confirm_key = f"review.unsafe.{cr.id}.{cr.head_sha}"
        ready = cr.status == Status.APPROVED
        if actor.can("admin") and plan.unsafe_count:
            st.checkbox(f"I have read the {plan.unsafe_count} unsafe statement(s) in the plan below and want them deployed",
                        key=confirm_key, disabled=not ready)
        with st.container(horizontal=True):
            st.button("Approved by you" if approved else "Approve", type="primary", disabled=own or approved,
                      icon=":material/check:" if approved else None, key=f"review.approve.{cr.id}", on_click=act,
                      args=(lambda a, i, h, c: ApproveRequest(services, a, i, c, h), f"{cr.ref} approved.", *on_screen))
            st.button("Changes requested" if asked else "Request changes", disabled=own or asked, key=f"review.changes.{cr.id}",
                      on_click=act, args=(lambda a, i, h, c: RequestChanges(services, a, i, c, h), f"Changes requested on {cr.ref}.", *on_screen))
            st.button("Reject", disabled=own, key=f"review.reject.{cr.id}",
                      on_click=act, args=(lambda a, i, h, c: RejectRequest(services, a, i, c, h), f"{cr.ref} rejected.", *on_screen))
            if actor.can("admin"):
                confirmed = not plan.unsafe_count or bool(st.session_state.get(confirm_key))
                deployed = " and deployed" if services.mode.is_demo else "; the merge-deploy workflow deploys it"
                why = None if ready and confirmed else "Needs approval first" if not ready else "Confirm the unsafe statements first"
                st.button("Merge and deploy", type="primary", disabled=not (ready and confirmed), key=f"review.merge.{cr.id}",
                          help=why, on_click=act,
                          args=(lambda a, i, h, c: MergeRequest(services, a, i, h, confirm_unsafe=bool(st.session_state.get(confirm_key))),
                                f"{cr.ref} merged into {services.settings.base_branch}{deployed}.", *on_screen))
    if st.session_state.get("review.acted") == cr.id:
        decided = set(st.session_state.get("review.decided") or set())
        decided |= {r.id for r in rows if r.requester == actor.username}
        upcoming = next_request([r for r in rows if r.id in ids], cr.id, decided)
        if upcoming:
            st.button(f"Next request: {upcoming.ref} {md_escape(upcoming.title)}", key="review.next", on_click=pick,
                      args=(upcoming.id,), icon=":material/arrow_forward:")
        else:
            st.caption("No other request is waiting for your decision.")

# -- what the decision rests on ------------------------------------------------------------------------------
st.markdown("**Risk flags**")
if risk_error:
    st.error(f"Risk flags could not be computed: {md_escape(risk_error)}")
elif not flags:
    st.success("No risk flag.", icon=":material/verified_user:")
else:
    st.dataframe(pd.DataFrame([{"Level": f.level, "Risk": f.message, "Where": f.where, "Line": f.text} for f in flags]),
                 hide_index=True, width="stretch", height=min(36 + 35 * len(flags), 250), key="review.flags",
                 column_config={"Level": st.column_config.TextColumn(width="small"), "Risk": st.column_config.TextColumn(width="large")})

st.markdown("**The change**")
widgets.readable_diff_view(services.changes.diff(cr), key=f"review.diff.{cr.id}")

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

# -- the plan, folded; the details; the history ----------------------------------------------------------------
widgets.plan_view(plan, key=f"review.plan.{cr.id}", notes=False)
with st.expander("Details"):
    st.markdown(f"Branch {inline_code(cr.branch)} · base {inline_code(cr.base_sha[:8])} · head {inline_code(cr.head_sha[:8])}"
                + (f" · files {', '.join(inline_code(f) for f in cr.files)}" if cr.files else ""))
    if plan.not_previewed:
        st.caption(widgets.not_previewed_note(plan))
with st.expander("History"):
    widgets.timeline(services.changes.events(cr))
