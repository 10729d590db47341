"""Access review: campaigns over the config's grants with usage evidence (admins start and report; each
reviewer decides the items assigned to them: keep, keep until a date, revoke)."""
import datetime as dt
import json

import streamlit as st

from app import campaigns
from core.changes.base import ChangeError
from core.findings import usage
from core.plaintext import md_escape
from core.snowflake.queries import QueryError
from portal import ui

services, actor = ui.services(), ui.require_page("access_review")
is_admin = actor.can("admin")
st.title("Access review")
st.caption("Who holds which business role, and whether they used what only that role gives them (ACCESS_HISTORY, "
           "up to 3 hours behind). Revocations become revoke requests, reviewed and deployed like any other change.")
store = campaigns.store_for(services)
today = services.clock().date()
try:
    listed = store.list()
except QueryError as exc:  # Snowflake tables missing or not granted: the message names the statement to run
    st.error(md_escape(str(exc)))
    st.stop()
flash = st.session_state.pop("access_review.flash", None)  # what the last action did, shown after its rerun
if flash:
    st.success(md_escape(flash))

if is_admin:
    with st.expander("Start an access review", expanded=not listed):
        with st.form("access_review.start"):
            kind = st.selectbox("Scope", ["all", "admin", "database", "role"], format_func={
                "all": "Every grant", "admin": "Admin-level roles only", "database": "One database",
                "role": "One business role"}.get, key="access_review.kind")
            config = services.snapshot().config
            value = st.selectbox("Database or business role (for those scopes)",
                                 [""] + sorted(config.databases) + sorted(config.business_roles), key="access_review.value")
            deadline = st.date_input("Deadline", value=today + dt.timedelta(days=14), min_value=today,
                                     key="access_review.deadline")
            name = st.text_input("Name", max_chars=200, key="access_review.name")
            if st.form_submit_button("Start", type="primary"):
                scope = kind if kind in ("all", "admin") else f"{kind}:{value}"
                try:
                    with st.spinner("Reading the usage evidence ..."):
                        started = campaigns.start(services, actor, scope, deadline, name)
                    st.session_state["access_review.campaign"] = started.id
                    st.session_state["access_review.flash"] = f"Access review #{started.id} started."
                except (ChangeError, QueryError) as exc:
                    st.error(md_escape(str(exc)))
                else:
                    st.rerun()  # the form folds away and the new campaign's items come first

# The campaigns this viewer sees: every one for admins (a campaign is never empty: start refuses an empty
# scope), else those with items assigned to them. Items are read once per run and, for admins, only for
# the campaign shown: reading a campaign's items is the page's largest cost (docs/access-reviews.md, Scale).
_loaded: dict = {}


def items_of(cid: int) -> list:
    if cid not in _loaded:
        _loaded[cid] = store.items(cid)
    return _loaded[cid]


visible = store.list() if is_admin else [
    c for c in store.list() if any(campaigns.may_review(actor, i) for i in items_of(c.id))]
if not visible:
    st.info("No access review has items for you." if not is_admin else "No access review yet.")
    st.stop()

names = {c.id: f"#{c.id} {c.name} ({c.scope}, deadline {c.deadline.isoformat()})" + (" closed" if c.closed_at else "")
         for c in visible}
# A reminder's link names its campaign (?campaign=N): chosen on arrival, when this viewer sees it.
wanted = st.query_params.get("campaign", "")
if wanted.isdigit() and int(wanted) in names and "access_review.campaign" not in st.session_state:
    st.session_state["access_review.campaign"] = int(wanted)
chosen = st.selectbox("Campaign", list(names), key="access_review.campaign", format_func=names.__getitem__)
campaign = next(c for c in visible if c.id == chosen)
items = items_of(campaign.id)
mine = items if is_admin else [i for i in items if campaigns.may_review(actor, i)]
progress = campaigns.progress(campaign, mine, today)
cols = st.columns(4)
cols[0].metric("Items", progress["items"])
cols[1].metric("Decided", progress["decided"])
cols[2].metric("Open", progress["open"])
cols[3].metric("Overdue", progress["overdue"], help=f"Undecided after the deadline, {campaign.deadline.isoformat()}")


def verdict_label(i) -> str:
    """The verdict as the reviewer reads it: "unused 90 days" says for how long."""
    return f"unused {campaign.days} days" if i.verdict == usage.UNUSED else i.verdict


# Plain-text cells only: reasons quote what reviewers typed.
st.dataframe([{"User": i.user, "Business role": i.role, "Verdict": verdict_label(i),
               "Last use": (i.evidence.get("last_use") or "")[:10],
               "Decision": (i.decision or "") + (f" until {i.until}" if i.until else ""), "Reason": i.reason,
               "Request": f"#{i.request_id}" if i.request_id else "", "Evidence": i.evidence.get("reason", ""),
               "Reviewer": i.reviewer_label} for i in mine],  # the evidence's long sentence last
             column_config={"Decision": st.column_config.TextColumn(width="small"),
                            "Reason": st.column_config.TextColumn(width="medium"),
                            "Evidence": st.column_config.TextColumn(width="large")},
             hide_index=True, width="stretch", height=min(len(mine), 20) * 35 + 38)  # up to 20 rows without scrolling

# The requests this review opened, each a link to its review (diff, plan, approvals) for approvers, else to
# My requests. Bounded: a campaign of thousands of revocations lists the newest 50 here (all are in the report).
request_ids = sorted({i.request_id for i in mine if i.request_id}, reverse=True)
if request_ids:
    st.subheader("Requests from this review")
    target = ui.page("review") if actor.can("approver") else ui.page("my_requests")
    for rid in request_ids[:50]:
        try:
            cr = services.changes.get(rid)
        except Exception:  # a request that cannot be read now: said, not raised
            cr = None
        users = sorted({i.user for i in mine if i.request_id == rid})
        label = (f"#{rid} {cr.title} · {cr.status.label}" if cr else f"#{rid} ({', '.join(users)}): cannot be read now")
        st.page_link(target, label=md_escape(label), query_params={"request": str(rid)}, icon=":material/open_in_new:")
    if len(request_ids) > 50:
        st.caption(f"and {len(request_ids) - 50} more: see the report.")

reviewable = [i for i in mine if campaigns.may_review(actor, i) and i.request_id is None]
if campaign.open and reviewable:
    st.subheader("Decide")
    by_id = {i.id: i for i in reviewable}  # a dict: thousands of options are labelled in one pass
    # Labels never change with a decision: Streamlit keeps a picked option by its label, so a label that
    # changed after a decision was shown stale. The decision so far is said below the pick.
    labels = {i.id: f"{i.user}: {i.role} ({verdict_label(i)})" for i in reviewable}
    pick = st.selectbox("Grant", list(by_id), key="access_review.item", format_func=labels.__getitem__)
    item = by_id[pick]
    ev = item.evidence
    st.text(f"{item.user} holds {item.role}. Verdict: {verdict_label(item)}: {ev.get('reason', '')}.")
    st.text("Only through this role, reads: " + (", ".join(ev.get("only_read") or []) or "nothing")
            + "; writes: " + (", ".join(ev.get("only_write") or []) or "nothing"))
    if item.decision:
        st.text(f"Decided so far: {item.decision}" + (f" until {item.until}" if item.until else "")
                + f" by {item.decided_by} on {(item.decided_at or '')[:16].replace('T', ' ')} UTC"
                + (f": {item.reason}" if item.reason else "")
                + ". A new decision replaces it until the requests are opened.")
    if ev.get("shared_with"):
        st.text("Also given by the user's other roles: " + ", ".join(ev["shared_with"]))
    if ev.get("used"):
        st.dataframe([{"Object": u["object"], "Access": u["access"], "Last": u["last"], "Queries": u["queries"]}
                      for u in ev["used"]], hide_index=True)
    with st.form("access_review.decide"):
        decision = st.radio("Decision", campaigns.DECISIONS, horizontal=True, key="access_review.decision")
        # one field per item: a reason typed for one grant never carries over to the next
        reason = st.text_input("Reason", max_chars=campaigns.MAX_REASON, key=f"access_review.reason.{item.id}")
        until = st.date_input("Keep until (for keep until)", value=today + dt.timedelta(days=90),
                              min_value=today + dt.timedelta(days=1), key="access_review.until")
        if st.form_submit_button("Record decision", type="primary"):
            try:
                done = campaigns.decide(services, actor, item.id, decision, reason,
                                        until if decision == campaigns.KEEP_UNTIL else None)
            except ChangeError as exc:
                st.error(md_escape(str(exc)))
            else:
                st.session_state["access_review.flash"] = (
                    f"Recorded: {done.decision}" + (f" until {done.until}" if done.until else "")
                    + f" {done.user}'s {done.role}.")
                st.rerun()

waiting = [i for i in mine if i.decision in (campaigns.REVOKE, campaigns.KEEP_UNTIL) and i.request_id is None
           and (is_admin or i.decided_by == actor.username)]
if waiting:
    users = sorted({i.user for i in waiting})
    st.info(f"{len(waiting)} decision(s) to turn into requests, one per user: {', '.join(users)}.")
    if st.button("Open the requests", key="access_review.requests", type="primary"):
        try:
            opened = campaigns.open_requests(services, actor, campaign.id)
            st.session_state["access_review.flash"] = (
                "Opened " + ", ".join(f"{cr.ref} ({cr.title})" for cr in opened) + ". They wait for approval in the "
                "review queue: open them under Requests from this review.")
        except ChangeError as exc:
            st.error(md_escape(str(exc)))
        else:
            st.rerun()

if is_admin:
    st.subheader("Report")
    if campaign.open and st.button("Close the campaign", key="access_review.close"):
        campaigns.close(services, actor, campaign.id)
        st.rerun()
    # built on demand: with thousands of items the report is the page's largest piece of work
    if st.toggle("Prepare the report (CSV, JSON, printable)", key="access_review.report"):
        data = campaigns.report(services, campaign.id)
        cols = st.columns(2)
        cols[0].download_button("CSV", campaigns.report_csv(data), file_name=f"access-review-{campaign.id}.csv",
                                mime="text/csv", key="access_review.csv")
        cols[1].download_button("JSON", json.dumps(data, indent=2), file_name=f"access-review-{campaign.id}.json",
                                mime="application/json", key="access_review.json")
        st.text("\n".join(campaigns.report_lines(data)))
