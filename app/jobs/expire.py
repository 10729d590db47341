"""Expire: the scheduled job that turns access which ended into reviewed requests.

Two sources, one path: time-bound grants whose end date passed (core.expiry) become one revoke-role
request each, and users with no login for `expiry_stale_days` days (ACCOUNT_USAGE.USERS through the query
layer, or the demo's stand-in) become one offboard-user request each. Every request is opened by
SubmitRequest, the operation people use, as the system actor EXPIRY_ACTOR, so it goes through the same
validation, review rules and audit log. Run it as often as you like: a request is never opened twice
(`_covered` says why, for each kind).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Callable

from core import expiry
from core.changes.approval import latest_decisions
from core.changes.base import ChangeError
from core.changes.model import ChangeRequest, Status
from core.expiry_lookup import granting_request, time_bound_grants
from app.identity import EXPIRY_ACTOR, POLICY_ACTOR
from app.jobs.lock import job_lock
from app.operations.approve import ApproveRequest
from app.operations.submit import SubmitRequest
from app.services import Services
from recipes.base import FieldErrors

LOGGER = logging.getLogger("snowtower.expire")

SERVICE_TYPES = ("SERVICE", "LEGACY_SERVICE")
UNRESOLVED = [Status.OPEN, Status.CHANGES_REQUESTED, Status.APPROVED]
# Days after its end date that a renewal in review holds an ended grant's revoke back (then it is opened).
RENEWAL_GRACE_DAYS = 7


@dataclass
class Proposal:
    """One request the job would open (or opened): revoke a grant that ended, or offboard a stale user."""
    kind: str  # revoke | offboard
    user: str
    role: str | None  # the business role (revoke), None (offboard)
    why: str  # the justification the request carries
    until: dt.date | None = None  # revoke: the grant's last day
    granted_by: int | None = None  # revoke: the merged request that granted it, when found
    opened: ChangeRequest | None = None  # opened by this run
    approved: bool = False  # approved by POLICY_ACTOR (expiry_auto_approve)
    covered_by: str = ""  # why nothing is opened: "#12 (open)", ...
    since: dt.datetime | None = None  # offboard: the last login, which a rejection must postdate to count
    error: str = ""  # why opening it failed (the audit log has the refusal too)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "user": self.user, "role": self.role, "why": self.why,
                "until": self.until.isoformat() if self.until else None, "granted_by": self.granted_by,
                "opened": self.opened.id if self.opened else None, "approved": self.approved,
                "covered_by": self.covered_by or None, "error": self.error or None}


@dataclass
class ExpiryReport:
    today: dt.date
    within: int
    ending: list[expiry.Grant] = field(default_factory=list)  # time-bound grants ending within `within` days, or ended
    proposals: list[Proposal] = field(default_factory=list)
    stale_error: str = ""  # the account could not be read: no stale-user proposals this run

    def to_dict(self) -> dict:
        return {"today": self.today.isoformat(), "within": self.within,
                "ending": [{"user": g.user, "role": g.role, "until": g.until.isoformat(),
                            "days_left": g.days_left(self.today), "reason": g.reason, "renews": g.renews}
                           for g in self.ending],
                "proposals": [p.to_dict() for p in self.proposals], "stale_error": self.stale_error or None}


def _held(snap) -> dict[str, set[str]]:
    """USER -> the business roles user.yaml gives them on `snap` (only users with a time-bound grant matter,
    but the whole file is read once here: a job, not a page)."""
    from core.snowddl.yaml_reader import load

    out = {}
    for name, entry in load(snap.text(snap.file("user")) or "").items():
        roles = entry.get("business_roles") if isinstance(entry, dict) else None
        out[str(name).upper()] = {str(r).upper() for r in roles} if isinstance(roles, list) else set()
    return out


def _utc(stamp) -> dt.datetime:
    """A timestamp from the account (TIMESTAMP_LTZ: in the session's time zone; naive: UTC) in UTC."""
    import pandas as pd

    t = pd.Timestamp(stamp)
    return (t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC")).to_pydatetime()


def _created(cr: ChangeRequest) -> dt.datetime | None:
    try:
        stamp = dt.datetime.fromisoformat(cr.created_at)
    except (TypeError, ValueError):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def _covered(p: Proposal, requests: list[ChangeRequest], since: dt.datetime | None, today: dt.date | None = None,
             rejected: Callable[[ChangeRequest], bool] = lambda cr: True) -> str:
    """Why `p` must not be opened, or "". Never twice:
    - a request in review (anyone's) already revokes the role or offboards the user;
    - a renewal of that role is in review (revoking under it would race the renewal), for at most
      RENEWAL_GRACE_DAYS after the end date: a renewal left in review must not keep ended access for good;
    - the job's own request for the same thing was rejected: reviewers decided, so it is not asked again
      until that changes: for a grant, until a later request (a renewal: request numbers only grow) sets
      a new end date; for a stale user, until they log in again (`since`, the last login). `rejected(cr)`
      says whether a reviewer rejected `cr` in the portal: a pull request closed on GitHub by anyone else
      (a writer, a triager, maybe the person whose access ended) reads as rejected and stops nothing."""
    for cr in requests:
        req = cr.request or {}
        if str(req.get("name", "")).upper() != p.user:
            continue
        roles = {str(r).upper() for r in req.get("business_roles") or []}
        same = (cr.recipe == "offboard-user" or (p.kind == "revoke" and cr.recipe == "revoke-role" and p.role in roles))
        if not cr.status.resolved:
            if same:
                return f"{cr.ref} ({cr.status.label})"
            if (p.kind == "revoke" and cr.recipe == "grant-role" and p.role in roles
                    and (today is None or p.until is None or (today - p.until).days <= RENEWAL_GRACE_DAYS)):
                return f"renewal {cr.ref} ({cr.status.label})"
        elif same and cr.status == Status.REJECTED and cr.requester == EXPIRY_ACTOR.username and rejected(cr):
            if p.kind == "revoke" and (p.granted_by is None or cr.id > p.granted_by):
                return f"{cr.ref} (rejected)"
            if p.kind == "offboard" and (since is None or (_created(cr) or since) >= since):
                return f"{cr.ref} (rejected)"
    return ""


@dataclass
class ExpireAccess:
    """`snowtower expire`: report grants ending within `within` days; with `submit`, open the requests.

    execute() -> ExpiryReport. Each request opened (or refused) writes its own audit record through
    SubmitRequest as EXPIRY_ACTOR; an auto-approval writes one through ApproveRequest as POLICY_ACTOR.
    Raises ValueError for a negative `within` or `stale_days` out of 1..3650; ChangeError when the
    change backend cannot be read."""
    services: Services
    within: int = 0  # days
    submit: bool = False
    stale_days: int | None = None  # default: settings.expiry_stale_days; 0 turns the stale-user check off

    def execute(self) -> ExpiryReport:
        if not self.submit:
            return self._execute()
        # Why: two runs at once (cron and a run by hand) would both list the requests before either opened
        # one, and open each request twice; the second run waits and then finds the first one's requests.
        with job_lock(self.services.workspace.root / "expire.lock"):
            return self._execute()

    def _execute(self) -> ExpiryReport:
        # Why: hostile sizes are bounded before any work; a year of look-ahead is plenty for a report.
        if isinstance(self.within, bool) or not isinstance(self.within, int) or not 0 <= self.within <= 3660:
            raise ValueError("--within must be a whole number of days from 0 to 3660")
        stale_days = self.services.settings.expiry_stale_days if self.stale_days is None else self.stale_days
        if isinstance(stale_days, bool) or not isinstance(stale_days, int) or not 0 <= stale_days <= 3650:
            raise ValueError("the stale-user threshold must be 0 (off) to 3650 days")
        now = self.services.clock()
        today = now.date()
        sha = self.services.changes.base_head()
        grants = time_bound_grants(self.services, sha)
        report = ExpiryReport(today, self.within, ending=expiry.due(grants, today, self.within))
        requests = self.services.changes.list()
        held = _held(self.services.snapshot(sha))
        for g in report.ending:
            # Why: a grant the config does not hold (a hand edit) has nothing to revoke; validate reports it.
            if not g.ended(today) or g.role not in held.get(g.user, ()):
                continue
            by = granting_request(requests, g)
            why = (f"Time-bound access ended: business role {g.role} was granted to {g.user} until "
                   f"{g.until.isoformat()}" + (f" by {by.ref}" if by else "") + ". Opened by the expiry job.")
            report.proposals.append(Proposal("revoke", g.user, g.role, why, g.until, by.id if by else None))
        if stale_days:
            self._stale(report, now, stale_days, sha)
        for p in report.proposals:
            p.covered_by = _covered(p, requests, p.since, today, self._rejected_by_a_reviewer)
        offboarded = {p.user for p in report.proposals if p.kind == "offboard" and not p.covered_by}
        for p in report.proposals:
            if not p.covered_by and p.kind == "revoke" and p.user in offboarded:
                p.covered_by = "offboarding proposed in this run"  # offboarding removes every role anyway
        if self.submit:
            for p in report.proposals:
                if not p.covered_by:
                    self._open(p)
                elif p.kind == "revoke" and self.services.settings.expiry_auto_approve:
                    self._resume_approval(p, requests)
        return report

    def _resume_approval(self, p: Proposal, requests: list[ChangeRequest]) -> None:
        """A run cut off after opening a revoke and before the policy approved it: approve it now, once.
        Only the job's own revoke of this grant, still open, that the policy has not decided on."""
        own = next((cr for cr in requests if cr.recipe == "revoke-role" and cr.requester == EXPIRY_ACTOR.username
                    and cr.status == Status.OPEN and str((cr.request or {}).get("name", "")).upper() == p.user
                    and p.role in {str(r).upper() for r in (cr.request or {}).get("business_roles") or []}), None)
        if own is None or any(r.reviewer == POLICY_ACTOR.username for r in self.services.changes.reviews(own)):
            return
        self._approve(p, own)

    def _rejected_by_a_reviewer(self, cr: ChangeRequest) -> bool:
        # Why: on GitHub a closed pull request reads as rejected whoever closed it; only a rejection the
        # portal recorded (a reviewer's decision, by the one status rule) may stop the job asking again.
        changes = self.services.changes
        return "reject" in latest_decisions(changes.reviews(cr), changes.requester_names(cr)).values()

    def _stale(self, report: ExpiryReport, now: dt.datetime, days: int, sha: str) -> None:
        from core.snowflake.queries import QueryError, ask

        try:
            rows = ask(self.services.snowflake_source(), "stale_users", as_of=now.replace(tzinfo=None), days=days,
                       since=now.replace(tzinfo=None) - dt.timedelta(days=days))
        except (QueryError, ChangeError, OSError, RuntimeError) as exc:
            report.stale_error = f"the account could not be read: {' '.join(str(exc).split())[:300]}"
            LOGGER.warning("stale users skipped: %s", report.stale_error)
            return
        snap = self.services.snapshot(sha)
        users = {u.upper() for u in snap.config.users}
        from core.snowddl.yaml_reader import load_entry

        text = snap.text(snap.file("user")) or ""
        for row in rows.itertuples(index=False):
            name = str(row.NAME).upper()
            if name not in users:
                continue  # not SnowDDL's to offboard (made by hand, or an admin user outside the config)
            found = load_entry(text, name)
            if found and isinstance(found[1], dict) and found[1].get("disabled") is True:
                continue  # offboarded in the config; the deployment will catch up
            # Why: a service user that still runs queries is in use, whatever its logins say (key-pair
            # jobs may not show up as logins); offboarding it would break a pipeline. Service by the
            # account's TYPE or by the config's (the account's may be empty: older users, the view's lag).
            declared = str(found[1].get("type") or "").upper() if found and isinstance(found[1], dict) else ""
            service = str(row.TYPE).upper() in SERVICE_TYPES or declared in SERVICE_TYPES
            if service and row.LAST_QUERY is not None and str(row.LAST_QUERY) not in ("NaT", "None"):
                continue
            last = row.LAST_SUCCESS_LOGIN
            last_text = "never logged in" if last is None or str(last) == "NaT" else f"last login {str(last)[:10]}"
            p = Proposal("offboard", name, None,
                         f"Stale user: no login for {int(row.DAYS_IDLE)} days ({last_text}); the threshold is {days} "
                         "days. Opened by the expiry job.")
            if last_text != "never logged in":
                p.since = _utc(last)
            report.proposals.append(p)

    def _open(self, p: Proposal) -> None:
        from recipes import RECIPES

        if p.kind == "revoke":
            recipe, raw = RECIPES["revoke-role"], {"name": p.user, "business_roles": [p.role], "justification": p.why}
        else:
            recipe, raw = RECIPES["offboard-user"], {"name": p.user, "justification": p.why}
        try:
            p.opened = SubmitRequest(self.services, EXPIRY_ACTOR, recipe, raw, self.services.changes.base_head()).execute()
        except (ChangeError, FieldErrors) as exc:  # recorded as refused by SubmitRequest; the next run retries
            p.error = str(exc)
            return
        # Why: a revoke of access that ended is approved by policy only when the admins turned it on; a
        # stale user's offboarding always needs a person (a login is a weaker signal than an end date).
        if p.kind == "revoke" and self.services.settings.expiry_auto_approve:
            p.opened = self._approve(p, p.opened)

    def _approve(self, p: Proposal, cr: ChangeRequest) -> ChangeRequest:
        """`cr` approved by POLICY_ACTOR (p.approved), or `cr` with p.error saying why not."""
        assert p.until is not None  # a revoke: the grant's last day
        try:
            cr = ApproveRequest(self.services, POLICY_ACTOR, cr.id, "Approved by policy: expiry_auto_approve is on "
                                f"and the access ended on {p.until.isoformat()}.", cr.head_sha).execute()
            p.approved = True
        except ChangeError as exc:
            p.error = f"{cr.ref} not approved: {exc}"
        return cr
