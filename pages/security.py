"""Security: who logs in how, who is idle or over-privileged, the CIS checks, config hygiene, and one
click from a finding to the request that fixes it (admins)."""
import datetime as dt

import streamlit as st

from core.findings.hygiene import hygiene
from core.findings.security import PERSON_TYPES, SERVICE_TYPES, network_policy_users, security_report
from core.plaintext import md_escape
from core.snowflake.cost import data_through, window
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


def findings_list(findings, key: str) -> None:
    if not findings:
        st.success("No findings.", icon=":material/verified_user:")
    for i, finding in enumerate(findings):
        widgets.finding_row(finding, f"security.fix.{key}.{i}", recipe_form.start_fix)


report = None
try:
    with st.spinner("Reading the account's users and logins ..."):
        src = account.source()
        through = data_through(src)
        latest = through.last_day if through else None
        if latest is not None:
            binds = window(latest - dt.timedelta(days=89), latest)
            report = security_report(src, binds["end_time"], binds["start_time"], binds["end_time"],
                                     network_policy_users(config), set(config.users))
except QueryError as exc:
    st.error(f"The account cannot be read: {md_escape(exc)}. Config hygiene below needs no account.", icon=":material/error:")

if report is not None:
    users, live = report.users, report.users[~report.users["DISABLED"]]
    with_mfa, persons = report.mfa_coverage
    service_pw = live[live["TYPE"].isin(SERVICE_TYPES) & live["HAS_PASSWORD"]]
    idle = next(c for c in report.checks if c.id == "1.8").evidence
    admins = live[live["ADMIN_ROLES"] != ""]
    # Why: service users can have neither MFA nor an email (key pairs instead), as CIS 1.11 says: people only.
    weak_admins = admins[admins["TYPE"].isin(PERSON_TYPES) & (~admins["HAS_MFA"] | admins["EMAIL"].isna())]
    m = st.columns(5)
    m[0].metric("MFA coverage (people)", f"{with_mfa / persons:.0%}" if persons else "-",
                help=f"{with_mfa} of {persons} enabled PERSON users have MFA")
    m[1].metric("Service users with a password", len(service_pw))
    m[2].metric(f"Idle {90} days", len(idle), help="Enabled users without a login in 90 days")
    m[3].metric("Admin-role holders", len(admins), help=f"{len(weak_admins)} of them people without MFA or email")
    m[4].metric("Failed logins (90 days)", int(report.failures["FAILURES"].sum()))
    st.caption(f"{through.caption()}; logins from LOGIN_HISTORY (up to 2 hours late), users from USERS · "
               f"{'demo account (local stand-in)' if services.settings.mode == 'demo' else 'SNOWFLAKE.ACCOUNT_USAGE'}")

tabs = st.tabs(["Findings and fixes", "Authentication", "Logins", "Health scores", "CIS checks"])
with tabs[0]:
    st.subheader("Config hygiene")
    st.caption("From the SnowDDL configuration alone (also `snowtower hygiene`). Fix opens the request that fixes "
               "a finding, filled in and previewed; it goes through the usual review.")
    try:
        findings_list(hygiene(config), "hygiene")
    except ValueError as exc:
        st.error(f"The configuration cannot be read: {md_escape(exc)}")
    if report is not None:
        st.subheader("From the account")
        findings_list(report.findings, "account")
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

    findings_list(unused_findings(services), "unused")
except QueryError as exc:
    st.warning(md_escape(f"Usage not read: {exc}", starts_line=True), icon=":material/warning:")
