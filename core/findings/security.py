"""The security page's figures and the CIS checks, from the query layer's answers (core/snowflake/sql).

`security_report(source, as_of, start, end, config)` asks `user_auth`, `login_methods`,
`login_failures_daily` and `admin_roles_to_roles` once each and derives everything from them: MFA
coverage, per-user authentication health scores with their reasons, the CIS checks that ACCOUNT_USAGE
answers (the others are listed as not checked, never as passed), and findings whose fix is a config
change (a stale user managed by SnowDDL: offboard-user).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.findings import Finding, Fix, fixes_note
from core.snowflake.queries import ask

IDLE_DAYS = 90
PASSWORD_MAX_AGE_DAYS = 365
ADMIN_MIN, ADMIN_MAX = 2, 10  # CIS 1.10: at least 2 and at most 10 users hold ACCOUNTADMIN or SECURITYADMIN
CIS_110_ROLES = ("ACCOUNTADMIN", "SECURITYADMIN")
# USERS.TYPE: PERSON (NULL is read as PERSON), SERVICE and LEGACY_SERVICE (programs SnowTower's customers run),
# SNOWFLAKE_SERVICE (users Snowflake makes for Snowpark Container Services: neither people nor ours to fix).
PERSON_TYPES = ("PERSON",)
SERVICE_TYPES = ("SERVICE", "LEGACY_SERVICE")


@dataclass
class CisCheck:
    """One CIS Snowflake Foundations check. status: "pass" | "fail" | "not checked" | "monitor" (a
    monitoring recommendation, section 2: it asks for a watch on events, so SnowTower shows what it saw
    instead of scoring the account); evidence: the rows that fail it, or the events seen for "monitor";
    remediation: what to do."""
    id: str
    title: str
    status: str
    remediation: str
    evidence: pd.DataFrame = field(default_factory=pd.DataFrame)
    reason: str = ""  # why it is not checked


# Checks that need account-level SHOW commands or views the query layer does not read.
NOT_CHECKED = [
    ("1.1", "SSO is configured for the account", "needs SHOW SECURITY INTEGRATIONS"),
    ("1.2", "SCIM is configured for user provisioning", "needs SHOW SECURITY INTEGRATIONS"),
    ("1.3", "Snowflake password is unset for SSO users", "needs SSO to be known (SHOW SECURITY INTEGRATIONS)"),
    ("1.5", "Minimum password length of 14 characters", "needs PASSWORD_POLICIES and POLICY_REFERENCES, not read yet"),
    ("1.7", "Key pairs are rotated every 180 days", "ACCOUNT_USAGE does not record when a key was set"),
    ("1.9", "Idle session timeout of at most 15 minutes for admin roles", "needs SESSION_POLICIES, not read yet"),
    ("1.14-1.17", "Tasks and procedures not owned by or run as admin roles", "needs SHOW TASKS / SHOW PROCEDURES"),
    ("3.1", "An account-level network policy allows only trusted IPs", "needs SHOW PARAMETERS / SHOW NETWORK POLICIES"),
    ("4.x", "Account parameters (data retention, periodic rekeying, ...)", "needs SHOW PARAMETERS IN ACCOUNT"),
]


def _reasons(row, network_policy_users: set[str]) -> tuple[int, list[str]]:
    """Score 0-100 (100: nothing to improve) and the reasons it lost points."""
    score, reasons = 100, []

    def lose(points: int, reason: str) -> None:
        nonlocal score
        score -= points
        reasons.append(f"{reason} (-{points})")

    service = row.TYPE in SERVICE_TYPES
    if service:
        if row.HAS_PASSWORD:
            lose(40, "service user with a password")
        if not row.HAS_RSA_PUBLIC_KEY:
            lose(30, "no key pair")
        if row.NAME not in network_policy_users:
            lose(10, "no network policy")
    else:
        if row.HAS_PASSWORD and not row.HAS_MFA:
            lose(30, "password without MFA")
        if not row.HAS_RSA_PUBLIC_KEY and not row.HAS_MFA:
            lose(10, "no key pair or MFA")
        if row.ADMIN_ROLES and not row.HAS_MFA:
            lose(20, f"holds {row.ADMIN_ROLES} without MFA")
    if row.HAS_PASSWORD and pd.notna(row.PASSWORD_AGE_DAYS) and row.PASSWORD_AGE_DAYS > PASSWORD_MAX_AGE_DAYS:
        lose(10, f"password {int(row.PASSWORD_AGE_DAYS)} days old")
    if pd.isna(row.DAYS_SINCE_LOGIN):
        if row.DAYS_SINCE_CREATED > IDLE_DAYS:
            lose(20, "never logged in")
    elif row.DAYS_SINCE_LOGIN > IDLE_DAYS:
        lose(20, f"idle {int(row.DAYS_SINCE_LOGIN)} days")
    return max(score, 0), reasons


def health(users: pd.DataFrame, network_policy_users: set[str]) -> pd.DataFrame:
    """Per enabled user (not SNOWFLAKE_SERVICE users, which Snowflake manages): NAME, TYPE, SCORE (0-100),
    REASONS ("; "-joined), lowest score first."""
    live = users[~users["DISABLED"] & users["TYPE"].isin(PERSON_TYPES + SERVICE_TYPES)]
    rows = []
    for row in live.itertuples(index=False):
        score, reasons = _reasons(row, network_policy_users)
        rows.append({"NAME": row.NAME, "TYPE": row.TYPE, "SCORE": score, "REASONS": "; ".join(reasons) or "nothing to improve"})
    return pd.DataFrame(rows, columns=["NAME", "TYPE", "SCORE", "REASONS"]).sort_values(["SCORE", "NAME"]).reset_index(drop=True)


def idle(users: pd.DataFrame) -> pd.DataFrame:
    """Enabled users whose last login is more than IDLE_DAYS ago (or who never logged in and are older)."""
    live = users[~users["DISABLED"]]
    never = live["DAYS_SINCE_LOGIN"].isna() & (live["DAYS_SINCE_CREATED"] > IDLE_DAYS)
    return live[(live["DAYS_SINCE_LOGIN"] > IDLE_DAYS) | never][["NAME", "TYPE", "LAST_SUCCESS_LOGIN", "DAYS_SINCE_LOGIN"]].reset_index(drop=True)


def cis_checks(users: pd.DataFrame, methods: pd.DataFrame, admin_to_roles: pd.DataFrame) -> list[CisCheck]:
    """The CIS checks ACCOUNT_USAGE answers, then the ones it does not (status "not checked")."""
    live = users[~users["DISABLED"]]
    person = live[live["TYPE"].isin(PERSON_TYPES)]
    service = live[live["TYPE"].isin(SERVICE_TYPES)]
    account_admins = live[live["ADMIN_ROLES"].str.contains("ACCOUNTADMIN")]
    held = live["ADMIN_ROLES"].str.split(", ").apply(lambda roles: bool(set(roles) & set(CIS_110_ROLES)))
    admins_110 = live[held]
    cols = ["NAME", "TYPE", "HAS_PASSWORD", "HAS_MFA", "HAS_RSA_PUBLIC_KEY"]
    password_no_mfa = methods[(methods["FIRST_AUTHENTICATION_FACTOR"] == "PASSWORD")
                              & (methods["SECOND_AUTHENTICATION_FACTOR"] == "NONE") & (methods["LOGINS"] > 0)]
    password_no_mfa = password_no_mfa[password_no_mfa["USER_NAME"].isin(person["NAME"])]

    def check(cid, title, evidence, remediation):
        return CisCheck(cid, title, "fail" if len(evidence) else "pass", remediation, evidence.reset_index(drop=True))

    out = [
        check("1.4", "MFA is on for every human user with a password",
              person[person["HAS_PASSWORD"] & ~person["HAS_MFA"]][cols],
              "Enrol these users in MFA, or remove their password and use a key pair or SSO."),
        check("1.6", "Service users authenticate with a key pair, not a password",
              service[service["HAS_PASSWORD"] | ~service["HAS_RSA_PUBLIC_KEY"]][cols],
              "ALTER USER ... UNSET PASSWORD and set RSA_PUBLIC_KEY (remove-password / rotate-key requests)."),
        check("1.8", f"Users idle for {IDLE_DAYS} days are disabled", idle(users),
              "Disable these users (an offboard-user request for users SnowDDL manages)."),
    ]
    count = len(admins_110)
    out.append(CisCheck("1.10", f"Between {ADMIN_MIN} and {ADMIN_MAX} users hold ACCOUNTADMIN or SECURITYADMIN",
                        "pass" if ADMIN_MIN <= count <= ADMIN_MAX else "fail",
                        f"Keep at least two and at most ten users with ACCOUNTADMIN or SECURITYADMIN ({count} now; roles "
                        "granted straight to users, from GRANTS_TO_USERS).",
                        admins_110[["NAME", "TYPE", "ADMIN_ROLES"]].reset_index(drop=True)
                        if not ADMIN_MIN <= count <= ADMIN_MAX else pd.DataFrame()))
    out += [
        check("1.11", "Users with ACCOUNTADMIN have an email address",
              account_admins[account_admins["EMAIL"].isna() & account_admins["TYPE"].isin(PERSON_TYPES)][["NAME", "TYPE", "ADMIN_ROLES"]],
              "Set an EMAIL on every person holding ACCOUNTADMIN, so Snowflake can reach them."),
        check("1.12", "No user has ACCOUNTADMIN or SECURITYADMIN as default role",
              live[live["DEFAULT_ROLE"].isin(["ACCOUNTADMIN", "SECURITYADMIN"])][["NAME", "DEFAULT_ROLE"]],
              "ALTER USER ... SET DEFAULT_ROLE to a role of least privilege."),
        check("1.13", "ACCOUNTADMIN and SECURITYADMIN are not granted to custom roles", admin_to_roles,
              "REVOKE ROLE ACCOUNTADMIN / SECURITYADMIN FROM ROLE ...; grant admin roles to people directly."),
    ]
    seen = password_no_mfa[["USER_NAME", "FIRST_AUTHENTICATION_FACTOR", "SECOND_AUTHENTICATION_FACTOR", "LOGINS"]]
    out.append(CisCheck("2.x", "Monitoring: people logging in with a password and no second factor", "monitor",
                        "Section 2 recommends watching these events (an alert on LOGIN_HISTORY), not a setting: review "
                        "them; require MFA (an authentication policy) or SSO for these people.", seen.reset_index(drop=True)))
    out += [CisCheck(cid, title, "not checked", "", reason=reason) for cid, title, reason in NOT_CHECKED]
    return out


def account_findings(users: pd.DataFrame, config_users: set[str]) -> list[Finding]:
    """Findings from the account whose fix is a config change: idle users that SnowDDL manages
    (offboard-user). Idle users outside the config get a finding without a fix."""
    out = []
    for row in idle(users).itertuples(index=False):
        days = "never logged in" if pd.isna(row.DAYS_SINCE_LOGIN) else f"last logged in {int(row.DAYS_SINCE_LOGIN)} days ago"
        finding = Finding("STALE_USER", "high", "user", row.NAME, f"{row.NAME} {days} and is still enabled.", "user")
        if row.NAME in config_users:
            finding = Finding(finding.code, finding.severity, finding.object_type, finding.object, finding.message,
                              finding.file, Fix("offboard-user", {"name": row.NAME, "justification": fixes_note(finding)}))
        out.append(finding)
    return out


@dataclass
class SecurityReport:
    users: pd.DataFrame  # user_auth
    methods: pd.DataFrame  # login_methods
    failures: pd.DataFrame  # login_failures_daily
    health: pd.DataFrame
    checks: list[CisCheck]
    findings: list[Finding]

    @property
    def mfa_coverage(self) -> tuple[int, int]:
        """(enabled PERSON users with MFA, enabled PERSON users); SNOWFLAKE_SERVICE users are not people."""
        person = self.users[~self.users["DISABLED"] & (self.users["TYPE"] == "PERSON")]
        return int(person["HAS_MFA"].sum()), len(person)


def flags(values: pd.Series, name: str = "") -> pd.Series:
    """A BOOLEAN column as Python booleans (NULL: False). Raises QueryError when a value is not a boolean:
    a VARIANT column (USERS.DISABLED, EXT_AUTHN_DUO) reaches pandas as JSON text such as "false", which
    `astype(bool)` would turn into True; such columns are cast in SQL (`::BOOLEAN`)."""
    from core.snowflake.queries import QueryError

    odd = [v for v in values.dropna().unique() if not isinstance(v, (bool, np.bool_))]
    if odd:
        raise QueryError(f"column {name} holds {odd[0]!r}, not a boolean: cast it in SQL")
    return values.fillna(False).astype(bool)


def security_report(source, as_of: dt.datetime, start: dt.datetime, end: dt.datetime,
                    network_policy_users: set[str], config_users: set[str]) -> SecurityReport:
    """Everything the security page shows. as_of: the moment ages are counted to; [start, end): the login
    window (UTC). Raises QueryError when the account cannot be read."""
    users = ask(source, "user_auth", as_of=as_of)
    for col in ("DISABLED", "HAS_PASSWORD", "HAS_RSA_PUBLIC_KEY", "HAS_MFA"):
        users[col] = flags(users[col], col)
    users["ADMIN_ROLES"] = users["ADMIN_ROLES"].fillna("")
    methods = ask(source, "login_methods", start_time=start, end_time=end)
    failures = ask(source, "login_failures_daily", start_time=start, end_time=end)
    admin_to_roles = ask(source, "admin_roles_to_roles")
    return SecurityReport(users, methods, failures, health(users, network_policy_users),
                          cis_checks(users, methods, admin_to_roles), account_findings(users, config_users))


def network_policy_users(loaded) -> set[str]:
    """Users the config gives a network policy (SnowDDL's own policy references), names as in the account."""
    from snowddl.blueprint import NetworkPolicyBlueprint

    if loaded.snowddl is None:
        return set()
    return {str(ref.object_name.name) for bp in loaded.snowddl.get_blueprints_by_type(NetworkPolicyBlueprint).values()
            for ref in bp.references if str(ref.object_type.name) == "USER"}


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: timestamps ISO 8601, NaN/NaT as null."""
    import json

    return json.loads(frame.to_json(orient="records", date_format="iso")) if len(frame) else []


def report_dict(report: SecurityReport, hygiene_findings: list[Finding], start: dt.datetime, end: dt.datetime) -> dict:
    """What `snowtower security --format json` prints: the security page's figures in one document.

    Keys: window {start, end} (UTC, end exclusive); findings (from the account: stale users), hygiene (from
    the config), cis [{id, title, status, remediation, reason, evidence}], health [{NAME, TYPE, SCORE,
    REASONS}], mfa_coverage {with_mfa, people}, service_users_with_password [names], failed_logins
    [{USER_NAME, REASON, FAILURES}], and `clean`: True when there is no finding, no hygiene finding and no
    failing CIS check (a "monitor" check never makes it unclean)."""
    live = report.users[~report.users["DISABLED"]]
    with_mfa, people = report.mfa_coverage
    failures = (report.failures.groupby(["USER_NAME", "REASON"], as_index=False)["FAILURES"].sum()
                .sort_values(["FAILURES", "USER_NAME"], ascending=[False, True]) if len(report.failures)
                else pd.DataFrame(columns=["USER_NAME", "REASON", "FAILURES"]))
    cis = [{"id": c.id, "title": c.title, "status": c.status, "remediation": c.remediation, "reason": c.reason,
            "evidence": _records(c.evidence)} for c in report.checks]
    clean = not report.findings and not hygiene_findings and not any(c.status == "fail" for c in report.checks)
    return {"window": {"start": start.isoformat(), "end": end.isoformat()}, "clean": clean,
            "findings": [f.to_dict() for f in report.findings], "hygiene": [f.to_dict() for f in hygiene_findings],
            "cis": cis, "health": _records(report.health), "mfa_coverage": {"with_mfa": with_mfa, "people": people},
            "service_users_with_password": sorted(live.loc[live["TYPE"].isin(SERVICE_TYPES) & live["HAS_PASSWORD"], "NAME"]),
            "failed_logins": _records(failures)}
