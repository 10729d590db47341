"""Security: who logs in how, who is idle or over-privileged, the CIS checks, config hygiene, and one
click from a finding to the request that fixes it (admins)."""
import datetime as dt

import pandas as pd
import streamlit as st

from app.findings_list import findings_list
from app.findings_state import MAX_ACCEPT_DAYS, MAX_REASON, StateError, states_for
from app.operations.accept_finding import AcceptFinding
from core.changes.base import ChangeError
from core.findings import SEVERITIES
from core.findings.hygiene import hygiene
from core.findings.security import PERSON_TYPES, SERVICE_TYPES
from core.plaintext import md_escape
from core.snowflake.cost import data_through
from core.snowflake.queries import QueryError
from portal import account, charts, recipe_form, ui, widgets

services, actor = ui.services(), ui.viewer()
# Why: who logs in how, failed logins and admin holders are for the platform's admins only.
if not actor.can("admin"):
    st.error("The security page is for admins.")
    st.stop()

st.title("Security")
config = services.snapshot().config


def table(frame, name: str, **kwargs) -> None:
    widgets.table(frame, name, "security", **kwargs)


def evidence_and_accept(finding) -> None:
    """The evidence (account text: plain) and, for an open finding, the admin's accept form."""
    state = states.get(finding.key)
    with st.expander("Evidence" + (" and accept" if state is not None and state.state == "open" else "")):
        for line in finding.evidence or (finding.message,):
            st.text(line)
        if state is None or state.state != "open" or not states_persistent:
            return
        today = services.clock().date()
        with st.form(f"security.accept.{finding.key}", border=False):
            reason = st.text_input("Reason to accept the risk", max_chars=MAX_REASON,
                                   placeholder="e.g. break-glass account, password kept in the safe")
            until = st.date_input("Accepted until", value=today + dt.timedelta(days=30),
                                  min_value=today + dt.timedelta(days=1), max_value=today + dt.timedelta(days=MAX_ACCEPT_DAYS))
            if st.form_submit_button("Accept", icon=":material/task_alt:"):
                try:
                    AcceptFinding(services, actor, finding.key, reason, until).execute()
                except ChangeError as exc:
                    st.error(md_escape(exc), icon=":material/block:")
                else:
                    st.rerun()


def findings_rows(findings, key: str) -> None:
    if not findings:
        st.success("No findings.", icon=":material/verified_user:")
    for i, finding in enumerate(findings):
        widgets.finding_row(finding, f"security.fix.{key}.{i}", recipe_form.start_fix, states.get(finding.key),
                            evidence_and_accept)


found, states, states_persistent = None, {}, False
try:
    with st.spinner("Reading the account's users and logins ..."):
        src = account.source()
        through = data_through(src)
        if through is not None:
            found = findings_list(services, src)
except (QueryError, StateError) as exc:
    st.error(f"The account cannot be read: {md_escape(exc)}. Config hygiene below needs no account.", icon=":material/error:")
report = found.report if found is not None else None
if found is not None:
    states, states_persistent = found.states, states_for(services).persistent
    urgent = found.open(("critical", "high"))
    counts = {sev: len(found.open((sev,))) for sev in SEVERITIES}
    accepted = sum(1 for s in states.values() if s.state == "accepted")
    widgets.severity_counts(counts, f"open findings{f', {accepted} accepted' if accepted else ''}")
    st.subheader("Needs attention now")
    if urgent:
        findings_rows(urgent, "urgent")
    else:
        st.success("No open critical or high finding.", icon=":material/verified_user:")

if report is not None:
    users, live = report.users, report.users[~report.users["DISABLED"]]
    with_mfa, persons = report.mfa_coverage
    service_pw = live[live["TYPE"].isin(SERVICE_TYPES) & live["HAS_PASSWORD"]]
    idle = next(c for c in report.checks if c.id == "1.8").evidence
    admins = live[live["ADMIN_ROLES"] != ""]
    # Why: service users can have neither MFA nor an email (key pairs instead), as CIS 1.11 says: people only.
    weak_admins = admins[admins["TYPE"].isin(PERSON_TYPES) & (~admins["HAS_MFA"] | admins["EMAIL"].isna())]
    worst = {}
    for f in found.open():
        worst.setdefault(f.code, f.severity)  # most severe first

    def level(*codes) -> str | None:
        hits = [worst[c] for c in codes if c in worst]
        return min(hits, key=SEVERITIES.index) if hits else None
    signin = min((f.severity for f in found.open() if f.source == "sign-in"), key=SEVERITIES.index, default=None)
    m = st.columns(5)
    figures = [
        (m[0], "MFA coverage (people)", f"{with_mfa / persons:.0%}" if persons else "-",
         f"{with_mfa} of {persons} enabled PERSON users have MFA", level("ADMIN_WITHOUT_MFA", "PASSWORD_WITHOUT_MFA")),
        (m[1], "Service users with a password", len(service_pw), None, level("SERVICE_USER_PASSWORD", "LEGACY_SERVICE_USER_PASSWORD")),
        (m[2], f"Idle {90} days", len(idle), "Enabled users without a login in 90 days", level("STALE_USER")),
        (m[3], "Admin-role holders", len(admins), f"{len(weak_admins)} of them people without MFA or email",
         level("ADMIN_WITHOUT_MFA", "ADMIN_WITHOUT_EMAIL", "ADMIN_ROLE_GRANT")),
        (m[4], "Failed logins (90 days)", int(report.failures["FAILURES"].sum()), None, signin),
    ]
    for col, label, value, helptext, severity in figures:
        col.metric(label, value, help=helptext, border=True)
        if severity:
            widgets.severity_badge(col, severity)
        else:
            col.badge("ok", color="green", icon=":material/check:")
    st.caption(f"{through.caption()}; logins from LOGIN_HISTORY (up to 2 hours late), users from USERS · "
               f"{'demo account (local stand-in)' if services.settings.mode == 'demo' else 'SNOWFLAKE.ACCOUNT_USAGE'}")

tabs = st.tabs(["All findings", "Authentication", "Logins", "Health scores", "CIS checks"])
with tabs[0]:
    st.caption("One list, as Snowflake's Trust Center keeps one: CIS checks, health scores, sign-in history, stale "
               "users and config hygiene (also `snowtower security`). Open: the evidence is there now; resolved: "
               "gone since; accepted: an admin accepted the risk until a date. Fix opens the request that fixes a "
               "finding, filled in and previewed; it goes through the usual review.")
    if found is not None:
        rest = [f for f in found.findings if f not in urgent]
        findings_rows(rest, "all")
        if found.hygiene_error:
            st.error(f"The configuration cannot be read: {md_escape(found.hygiene_error)}")
        gone = states_for(services).resolved()[:50]
        if gone:
            st.markdown(f"**Resolved** ({len(gone)})")
            table(pd.DataFrame([{"FINDING": k, "FIRST_SEEN": f, "RESOLVED": r} for k, f, r in gone]), "resolved_findings")
    else:
        st.subheader("Config hygiene")
        try:
            findings_rows(hygiene(config), "hygiene")
        except ValueError as exc:
            st.error(f"The configuration cannot be read: {md_escape(exc)}")
if report is not None:
    with tabs[1]:
        left, right = st.columns(2)
        left.altair_chart(charts.auth_methods(report.methods), width="stretch")
        with right:
            st.markdown("**Service users with a password**")
            table(service_pw[["NAME", "HAS_RSA_PUBLIC_KEY", "PASSWORD_AGE_DAYS", "LAST_SUCCESS_LOGIN"]].reset_index(drop=True),
                  "service_users_with_password")
            st.markdown("**Admin-role holders**")
            table(admins[["NAME", "TYPE", "ADMIN_ROLES", "HAS_MFA", "EMAIL"]].reset_index(drop=True), "admin_role_holders")
            st.markdown(f"**People without MFA or email** ({len(weak_admins)})")
            table(weak_admins[["NAME", "TYPE", "ADMIN_ROLES", "HAS_MFA", "EMAIL"]].reset_index(drop=True), "admins_without_mfa_or_email")
        st.markdown(f"**Idle for 90 days** ({len(idle)})")
        table(idle, "idle_users")
        table(report.methods, "logins_by_method")
    with tabs[2]:
        if report.failures.empty:
            st.info("No failed logins in the last 90 days.")
        else:
            st.altair_chart(charts.login_failures(report.failures), width="stretch")
        st.caption("User names are as typed at the login: some name no user.")
        table(report.failures, "login_failures")
    with tabs[3]:
        st.caption("100 is nothing to improve; each reason says what it cost. Key pair, MFA, password age, last "
                   "login and (for service users) a network policy count.")
        table(report.health, "auth_health", column_config={
            "SCORE": st.column_config.ProgressColumn("SCORE", min_value=0, max_value=100, format="%d")})
    with tabs[4]:
        st.caption("CIS Snowflake Foundations checks that ACCOUNT_USAGE answers; the others are listed as not checked. "
                   "Section 2 asks for monitoring, not a setting: its rows are what was seen, to review.")
        for check in report.checks:
            icon = {"pass": ":material/check_circle:", "fail": ":material/cancel:", "not checked": ":material/help:",
                    "monitor": ":material/visibility:"}[check.status]
            with st.expander(f"{check.id} {check.title}: {check.status.upper()}", icon=icon, expanded=check.status == "fail"):
                if check.status == "not checked":
                    st.text(f"Not checked: {check.reason}.")
                    continue
                if check.status == "fail" or (check.status == "monitor" and not check.evidence.empty):
                    table(check.evidence, f"cis_{check.id}")
                st.text(f"Remediation: {check.remediation}")

# Right-sizing (access reviews): grants none of whose own objects was used for access_unused_days days, one
# click from a filled-in revoke request (app.usage; docs/access-reviews.md).
st.subheader("Unused grants")
st.caption(f"Business roles whose own objects (those no other role of the user gives) nobody read or wrote in "
           f"{services.settings.access_unused_days} days, from ACCESS_HISTORY (up to 3 hours behind).")
try:
    from app.usage import unused_findings

    findings_rows(unused_findings(services), "unused")
except QueryError as exc:
    st.warning(md_escape(f"Usage not read: {exc}", starts_line=True), icon=":material/warning:")
