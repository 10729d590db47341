"""Audit log (admins): every operation and sign-in event, refusals included; search and CSV export."""
import datetime as dt

import streamlit as st

from app.audit import AuditError, AuditQuery, to_csv
from core.plaintext import md_escape
from portal import ui

services, actor = ui.services(), ui.require_page("audit")
ACTIONS = ["", "submit", "approve", "request_changes", "reject", "merge", "resubmit", "unlock_login", "user_saved",
           "sign_in", "sign_in_failed", "sign_out"]
st.title("Audit log")
st.caption("Append-only: SnowTower never updates or deletes a record. Times in UTC; newest first.")
cols = st.columns(4)
person = cols[0].text_input("Person (login)", max_chars=100, key="audit.person").strip()
request = cols[1].text_input("Request number", max_chars=12, key="audit.request").strip().lstrip("#")
action = cols[2].selectbox("Action", ACTIONS, format_func=lambda a: a or "any", key="audit.action")
days = cols[3].date_input("Days (UTC)", value=(), key="audit.days")
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
                                               action=action, since=since, until=until))
except AuditError as exc:
    st.error(f"The audit log cannot be read: {md_escape(exc)}", icon=":material/error:")
    st.stop()
st.caption(f"{len(records)} record(s).")
# Plain-text cells only: reasons quote what people typed.
st.dataframe([{"When": r.occurred_at.strftime("%Y-%m-%d %H:%M:%S"), "Who": r.actor, "Role": r.role, "Action": r.action,
               "Request": f"#{r.request_id}" if r.request_id is not None else "", "Outcome": r.outcome,
               "Reason": r.reason, "Commit before": r.commit_before[:12], "Commit after": r.commit_after[:12]}
              for r in records], hide_index=True, use_container_width=True)
st.download_button("Export CSV", to_csv(records), file_name="snowtower-audit.csv", mime="text/csv",
                   key="audit.export", disabled=not records)
