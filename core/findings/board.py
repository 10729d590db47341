"""One findings list, as Snowflake's Trust Center keeps one (https://docs.snowflake.com/en/user-guide/trust-center/overview):
every finding from the CIS checks, the authentication health scores, sign-in history, stale users and
config hygiene, each with a severity (critical, high, medium, low), its evidence and, when a recipe fixes
it, its Fix. Pure: the state (open, resolved, accepted) and first/last seen live in app.findings_state.

`findings_board(report, attempts, hygiene_findings)` -> [Finding], most severe first, one per key.
"""
from __future__ import annotations

from dataclasses import replace

import pandas as pd

from core.findings import SEVERITY_ORDER, SOURCES, Finding
from core.findings.signin import signin_findings

HEALTH_FLOOR = 50  # a user scoring below this gets a finding of its own when nothing else names them
ADMIN = ("ACCOUNTADMIN", "SECURITYADMIN")
# The CIS checks that become findings per user (1.8, idle users, is the stale-user finding), with severity.
CIS_PER_USER = {"1.4": ("PASSWORD_WITHOUT_MFA", "high", "signs in with a password and has no MFA (CIS 1.4)"),
                "1.6": ("SERVICE_USER_PASSWORD", "high", "is a service user with a password or without a key pair (CIS 1.6)"),
                "1.11": ("ADMIN_WITHOUT_EMAIL", "medium", "holds ACCOUNTADMIN and has no e-mail address (CIS 1.11)"),
                "1.12": ("ADMIN_DEFAULT_ROLE", "medium", "has an admin role as default role (CIS 1.12)")}


def _user_of(row: dict) -> str:
    return str(row.get("NAME") or row.get("USER_NAME") or row.get("GRANTEE_NAME") or "")


def findings_board(report, attempts: pd.DataFrame, hygiene_findings: list[Finding]) -> list[Finding]:
    """The findings list of a SecurityReport (core.findings.security), the `login_attempts` rows and the
    config's hygiene findings: most severe first (then sign-in, account, config; code; object)."""
    users = report.users[~report.users["DISABLED"]]
    admins = set(users.loc[users["ADMIN_ROLES"].str.contains("|".join(ADMIN)), "NAME"])
    scores = {r.NAME: (r.SCORE, r.REASONS) for r in report.health.itertuples(index=False)}
    logins = report.methods
    out: list[Finding] = []

    def health_line(name: str) -> tuple[str, ...]:
        if name not in scores:
            return ()
        score, reasons = scores[name]
        return (f"health score {score}: {reasons}",)

    failing: dict[str, dict[str, dict]] = {}
    for check in report.checks:
        if check.status != "fail" or check.id not in CIS_PER_USER:
            continue
        for row in check.evidence.to_dict("records"):
            failing.setdefault(_user_of(row), {})[check.id] = row
    for name, checks in sorted(failing.items()):
        row = users[users["NAME"] == name]
        roles = str(row["ADMIN_ROLES"].iloc[0]) if len(row) else ""
        if "1.4" in checks and name in admins:
            # Why: an admin role behind a password alone is the account's worst exposure (issue: Security hid it).
            used = logins[(logins["USER_NAME"] == name) & (logins["FIRST_AUTHENTICATION_FACTOR"] == "PASSWORD")
                          & (logins["SECOND_AUTHENTICATION_FACTOR"] == "NONE")]
            no_email = "1.11" in checks
            evidence: tuple[str, ...] = (f"holds {roles}", "has a password and no MFA (CIS 1.4)",
                        f"{int(used['LOGINS'].sum())} sign-ins with a password and no second factor in the window")
            evidence += ("no e-mail address (CIS 1.11)",) if no_email else ()
            out.append(Finding("ADMIN_WITHOUT_MFA", "critical", "user", name,
                               f"{name} holds {roles} and signs in with a password, without MFA"
                               + (" and without an e-mail address." if no_email else "."),
                               source="account", evidence=evidence + health_line(name)))
            checks = {k: v for k, v in checks.items() if k not in ("1.4", "1.11")}
        for cid in sorted(checks):
            code, severity, what = CIS_PER_USER[cid]
            out.append(Finding(code, severity, "user", name, f"{name} {what}.", source="account",
                               evidence=health_line(name)))
    for check in report.checks:
        if check.status == "fail" and check.id not in CIS_PER_USER and check.id != "1.8":
            names = ", ".join(sorted({_user_of(r) or str(next(iter(r.values()), "")) for r in check.evidence.to_dict("records")}))
            out.append(Finding(f"CIS_{check.id.replace('.', '_')}", "high" if check.id == "1.13" else "medium", "account",
                               check.id, f"CIS {check.id} fails: {check.title}.", source="account",
                               evidence=((f"rows: {names}",) if names else ()) + (f"remediation: {check.remediation}",)))
    for finding in report.findings:  # stale users (CIS 1.8), with their Fix when SnowDDL manages them
        out.append(replace(finding, source="account", evidence=finding.evidence or (
            "CIS 1.8: users idle for 90 days are disabled",) + health_line(finding.object)))
    named = {f.object for f in out if f.object_type == "user"}
    for name, (score, reasons) in sorted(scores.items()):
        if score < HEALTH_FLOOR and name not in named:
            out.append(Finding("LOW_AUTH_HEALTH", "medium", "user", name,
                               f"{name} has an authentication health score of {score}.", source="account",
                               evidence=(f"health score {score}: {reasons}",)))
    out += signin_findings(attempts, admins)
    out += [replace(f, source="config") for f in hygiene_findings]
    seen, unique = set(), []
    for f in sorted(out, key=lambda f: (SEVERITY_ORDER[f.severity], SOURCES.index(f.source), f.code, f.object)):
        if f.key not in seen:
            seen.add(f.key)
            unique.append(f)
    return unique
