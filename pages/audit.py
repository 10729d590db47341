"""Audit log (admins): every operation and sign-in event, refusals included; search, CSV export, and the
hash chain's check (the same as `snowtower audit verify`)."""
import datetime as dt

import streamlit as st

from app.audit import AuditError
from app.audit_export import to_csv, to_json
from app.audit_record import AuditQuery
from core.plaintext import md_escape
from portal import ui

services, actor = ui.services(), ui.require_page("audit")
ACTIONS = ["", "submit", "approve", "request_changes", "reject", "merge", "resubmit", "withdraw", "unlock_login",
           "user_saved", "sign_in", "sign_in_failed", "sign_out", "chain_started"]
SIGN_INS = ("sign_in", "sign_in_failed", "sign_out")
st.title("Audit log")
st.caption("Append-only: SnowTower never updates or deletes a record. Times in UTC; newest first.")
cols = st.columns(4)
person = cols[0].text_input("Person (login)", max_chars=100, key="audit.person").strip()
request = cols[1].text_input("Request number", max_chars=12, key="audit.request").strip().lstrip("#")
action = cols[2].selectbox("Action", ACTIONS, format_func=lambda a: a or "any", key="audit.action")
days = cols[3].date_input("Days (UTC)", value=(), key="audit.days")
# Sign-ins are most of the log and rarely the question: hidden unless asked for (or searched by action).
sign_ins = st.checkbox("Show sign-in events", value=False, key="audit.sign_ins")
intents = st.checkbox("Show records of intent (written before each operation acts)", value=False, key="audit.intents")
if request and not request.isdigit():
    st.error("The request number is digits only, like 12.")
    st.stop()
since = until = None
if isinstance(days, (tuple, list)) and days:
    since, until = days[0], days[-1]
elif isinstance(days, dt.date):
    since = until = days
try:
    records = services.audit.search(AuditQuery(actor=person, request_id=int(request) if request else None,
                                               action=action, since=since, until=until, intents=intents,
                                               sign_ins=sign_ins or action in SIGN_INS))
except AuditError as exc:
    st.error(f"The audit log cannot be read: {md_escape(exc)}", icon=":material/error:")
    st.stop()
st.caption(f"{len(records)} record(s).")
# Plain-text cells only: reasons quote what people typed.
st.dataframe([{"When": r.occurred_at.strftime("%Y-%m-%d %H:%M:%S"), "Who": r.actor, "Role": r.role, "Action": r.action,
               "Request": f"#{r.request_id}" if r.request_id is not None else "", "Outcome": r.outcome,
               "Reason": r.reason, "Commit": r.commit_before[:12],
               # after only where it differs from before: most records change no commit
               "Commit after": r.commit_after[:12] if r.commit_after and r.commit_after != r.commit_before else "",
               "#": r.seq} for r in records], hide_index=True, use_container_width=True)
cols = st.columns(3)
cols[0].download_button("Export CSV (these records)", to_csv(records), file_name="snowtower-audit.csv", mime="text/csv",
                        key="audit.export", disabled=not records)
if cols[1].button("Check the hash chain", key="audit.verify"):
    try:
        report = services.audit.verify()
    except AuditError as exc:
        st.error(f"The audit log cannot be read: {md_escape(exc)}", icon=":material/error:")
    else:
        (st.success if report.ok else st.error)(md_escape(report.message()))
if cols[2].button("Prepare the whole log for auditors (JSON)", key="audit.full"):
    # The whole chain, oldest first: `snowtower audit verify --file` checks it on the auditor's machine.
    st.download_button("Download snowtower-audit.json", to_json(services.audit.records()),
                       file_name="snowtower-audit.json", mime="application/json", key="audit.full_download")
