"""Sign-in attacks from LOGIN_HISTORY (question `login_attempts`: failures per UTC day, user name as typed
and client address, with KNOWN_USER and the first success within 24 hours after the last failure).

Three kinds, each a Finding with source "sign-in", keyed by the day so the same attack is one finding:
- SIGNIN_PASSWORD_SPRAY: on one day, at least SPRAY_MIN_FAILURES failures from at most SPRAY_MAX_ADDRESSES
  addresses that each failed at least ADDRESS_MIN_FAILURES times (many failures across logins, few sources).
  High; critical when a targeted login holds ACCOUNTADMIN or SECURITYADMIN, or one of them then signed in.
- SIGNIN_UNKNOWN_USER: at least UNKNOWN_MIN_FAILURES failures on one day for names that are no user. Medium.
- SIGNIN_SUCCESS_AFTER_FAILURES: a login with at least BURST_MIN_FAILURES failures on one day, then a
  successful sign-in within 24 hours. High; critical for an admin-role holder.

Names come from the account (typed by whoever tried to sign in): evidence is plain text, never markup.
"""
from __future__ import annotations

import pandas as pd

from core.findings import Finding

SPRAY_MIN_FAILURES = 20
SPRAY_MAX_ADDRESSES = 10
ADDRESS_MIN_FAILURES = 5
UNKNOWN_MIN_FAILURES = 5
BURST_MIN_FAILURES = 5
ADMIN = ("ACCOUNTADMIN", "SECURITYADMIN")
MAX_NAMES = 10  # names listed in one evidence line; the rest are counted


def _names(values) -> str:
    names = sorted({str(v) for v in values})
    more = len(names) - MAX_NAMES
    return ", ".join(names[:MAX_NAMES]) + (f" and {more} more" if more > 0 else "")


def _iso(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M UTC") if pd.notna(ts) else ""


def signin_findings(attempts: pd.DataFrame, admins: set[str]) -> list[Finding]:
    """Findings from `attempts` (the `login_attempts` question's rows: DAY, USER_NAME, CLIENT_IP, FAILURES,
    FIRST_FAILURE, LAST_FAILURE, KNOWN_USER, FIRST_SUCCESS_AFTER); `admins`: users holding ACCOUNTADMIN or
    SECURITYADMIN. One finding per kind and UTC day, most recent day first."""
    out: list[Finding] = []
    if attempts.empty:
        return out
    frame = attempts.copy()
    frame["DAY"] = pd.to_datetime(frame["DAY"]).dt.date
    frame["KNOWN_USER"] = frame["KNOWN_USER"].fillna(False).astype(bool)
    for day, rows in sorted(frame.groupby("DAY"), key=lambda kv: kv[0], reverse=True):
        per_address = rows.groupby("CLIENT_IP")["FAILURES"].sum()
        loud = per_address[per_address >= ADDRESS_MIN_FAILURES]
        spray = rows[rows["CLIENT_IP"].isin(loud.index)]
        if int(loud.sum()) >= SPRAY_MIN_FAILURES and 1 <= len(loud) <= SPRAY_MAX_ADDRESSES:
            targets = set(spray["USER_NAME"])
            succeeded = set(spray.loc[spray["FIRST_SUCCESS_AFTER"].notna(), "USER_NAME"])
            critical = bool(targets & admins) or bool(succeeded)
            unknown = set(spray.loc[~spray["KNOWN_USER"], "USER_NAME"])
            evidence: tuple[str, ...] = (f"{int(loud.sum())} failed sign-ins on {day} from {len(loud)} addresses: {_names(loud.index)}",
                        f"logins tried: {_names(targets)}" + (f" ({_names(unknown)} not a user)" if unknown else ""),
                        f"between {_iso(spray['FIRST_FAILURE'].min())} and {_iso(spray['LAST_FAILURE'].max())}")
            if targets & admins:
                evidence += (f"admin-role holders targeted: {_names(targets & admins)}",)
            if succeeded:
                evidence += (f"signed in within 24 hours after: {_names(succeeded)}",)
            out.append(Finding("SIGNIN_PASSWORD_SPRAY", "critical" if critical else "high", "account", str(day),
                               f"Password spray on {day}: {int(loud.sum())} failed sign-ins against {len(targets)} "
                               f"login(s) from {len(loud)} address(es).", source="sign-in", evidence=evidence))
        unknown_rows = rows[~rows["KNOWN_USER"]]
        if int(unknown_rows["FAILURES"].sum()) >= UNKNOWN_MIN_FAILURES:
            out.append(Finding("SIGNIN_UNKNOWN_USER", "medium", "account", str(day),
                               f"{int(unknown_rows['FAILURES'].sum())} failed sign-ins on {day} for "
                               f"{unknown_rows['USER_NAME'].nunique()} name(s) that are no user.", source="sign-in",
                               evidence=(f"names tried: {_names(unknown_rows['USER_NAME'])}",
                                         f"from: {_names(unknown_rows['CLIENT_IP'])}")))
        per_user = rows[rows["KNOWN_USER"]].groupby("USER_NAME").agg(
            FAILURES=("FAILURES", "sum"), SUCCESS=("FIRST_SUCCESS_AFTER", "min"), ADDRESSES=("CLIENT_IP", "nunique"))
        for user, r in per_user[(per_user["FAILURES"] >= BURST_MIN_FAILURES) & per_user["SUCCESS"].notna()].iterrows():
            out.append(Finding("SIGNIN_SUCCESS_AFTER_FAILURES", "critical" if user in admins else "high", "user",
                               str(user), f"{user} signed in at {_iso(r.SUCCESS)} after {int(r.FAILURES)} failed "
                               f"sign-ins on {day}.", source="sign-in",
                               evidence=(f"{int(r.FAILURES)} failures from {int(r.ADDRESSES)} address(es) on {day}",
                                         f"first success after them: {_iso(r.SUCCESS)}")))
    return out
