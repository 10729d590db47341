"""The grant-role recipe: give a user business roles, for good or until a date (core.expiry)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from core import expiry, fields
from core.snowddl.edit import add_list_items
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.common import (JUSTIFICATION, USER_FILE, duplicate_note, edit, entry, existing_user, expiring_grants,
                            expiry_edit, future_date, integer, names, refuse_unknown, roles_of, written)


@dataclass(frozen=True)
class GrantRequest:
    name: str = form("User", "The user who gets the roles.", required=True, kind="select", choices="users")
    business_roles: tuple[str, ...] = form("Business roles", "Roles to add to the user's business_roles.", is_list=True, required=True,
        kind="multiselect", choices="business_roles")
    # YYYY-MM-DD: SnowDDL has no expiry, SnowTower records it (core.expiry) and revokes later
    until: str | None = form("How long", "Time-bound access ends after its last day: SnowTower then opens a request to "
        "revoke the roles. Choose 7, 30 or 90 days, a date, or permanent: nothing is permanent unless chosen.",
        kind="until")
    justification: str = JUSTIFICATION
    # the earlier request this grant renews (the Renew button fills it)
    renews: int | None = form("Renews request", "The earlier request whose access this renews (filled by Renew).",
        kind="int", filled_only=True)


PERMANENT = "permanent"  # the explicit choice of no end date (the form's "Permanent")


def _until(c: Collector, value: Any) -> dt.date | None:
    """The grant's last day, or None for permanent access. Permanent is only what was chosen: the word
    "permanent", or no until at all (the command line without --set until). An empty until (a form on
    which nothing was chosen) is refused: it would silently mean for good."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().casefold() == PERMANENT:
        return None
    if isinstance(value, str) and not value.strip():
        c.add("until", "choose how long: 7, 30 or 90 days, a date, or permanent.")
        return None
    return future_date(c, "until", value)


def parse_grant(raw: dict[str, Any], base: Snapshot) -> GrantRequest:
    c = Collector()
    name, user = existing_user(c, raw, base)
    roles = names(c, "business_roles", raw.get("business_roles"), base.config.business_roles, "a business role", base)
    until = _until(c, raw.get("until"))
    if name and roles:
        has = set(roles_of(user))
        # Why: a role held until a date may be asked for again: a renewal (a new end date) or for good; a
        # role held for good may be given an end date (an access review's "keep until").
        timed = expiring_grants(base)
        already = [r for r in roles if r in has and (name.upper(), r) not in timed and not until]
        if already:
            c.add("business_roles", f"{name} already has {', '.join(already)}.")
    if not roles and not any(e.field == "business_roles" for e in c.errors):
        c.add("business_roles", "must not be empty: pick at least one.")
    renews = integer(c, "renews", raw.get("renews"), 1, 10**9)
    # Why: "renews #N" tells reviewers this access was approved before; it is only said of a role the user
    # holds until a date (the link itself is checked against the request records where it is shown).
    if renews and name and roles and not all((name.upper(), r) in expiring_grants(base) for r in roles):
        c.add("renews", f"only a role {name} holds until a date can be renewed; leave this empty for a new grant.")
    if name and user.get("disabled") is True:
        c.add("name", f"{name} is disabled (offboarded); ask for it to be re-enabled first.")
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, GRANT_ROLE.fields)
    c.raise_if_any()
    return GrantRequest(name=checked(name), business_roles=tuple(roles), until=until.isoformat() if until else None,
                        justification=checked(why), renews=renews)


def build_grant(base: Snapshot, req: GrantRequest) -> ChangeSet:
    rel = base.file("user")
    # Role names as business_role.yaml writes them: SnowDDL finds a role's default warehouse by that spelling.
    has = set(roles_of(entry(base, rel, req.name) or {}))
    new = [r for r in req.business_roles if r not in has]
    files: dict[str, str | None] = {}
    if new:
        as_written = [written(base, "business_role", r) for r in new]
        files[rel] = edit("business_roles", rel, add_list_items, base.text(rel) or "", req.name, "business_roles", as_written)
    user = req.name.upper()
    if req.until:  # the end dates live in SnowTower's expiry file (legacy comments move in with them)
        until = dt.date.fromisoformat(req.until)
        files.update(expiry_edit(base, "until", add=[expiry.Grant(user, r, until, req.justification, req.renews)
                                                     for r in req.business_roles]))
    else:  # for good: a role held until a date loses its end date
        files.update(expiry_edit(base, "until", remove=[(user, r) for r in req.business_roles]))
    roles = ", ".join(req.business_roles)
    kept = [r for r in req.business_roles if r in has]
    # Why: a grant without an end date of a role held until a date makes it permanent; the title says so
    # (a reviewer reading "Renew" would expect a new end date).
    timed = expiring_grants(base) if kept and not req.until else {}
    was = sorted({timed[(user, r)].until.isoformat() for r in kept if (user, r) in timed})
    if not new and not req.until:
        title = f"Keep {roles} of {req.name} for good" + (f" (was until {', '.join(was)})" if was else "")
    elif not new and not any((user, r) in expiring_grants(base) for r in req.business_roles):
        title = f"Keep {roles} of {req.name} until {req.until}"  # held for good until now: it gets an end date
    else:
        title = (f"Renew {roles} of {req.name}" if not new else f"Grant {roles} to {req.name}") + (
            f" until {req.until}" if req.until else "")
    return ChangeSet(
        title=title,
        files=files,
        summary=(f"Adds business role(s) {', '.join(new)} to {req.name}" if new else f"{req.name} keeps {roles}")
        + (f"; {', '.join(kept)} already held until a date" if new and kept else "")
        + (f", time-bound until {req.until} (after that day SnowTower opens a request to revoke it)."
           if req.until else ", for good.")
        + (f" Renews #{req.renews}." if req.renews else "")
        + duplicate_note(base, rel, req.name),
    )


GRANT_ROLE: Recipe[GrantRequest] = Recipe(
    "grant-role", "Grant business roles", GrantRequest, parse_grant, build_grant,
    description="Give a user one or more business roles, for good or until a date", page="grant_role", touches=(USER_FILE, expiry.EXPIRY_FILE),
    intro="Gives a person business roles, for 7, 30 or 90 days, until a date, or permanently: you choose. After the last "
          "day SnowTower opens a request to take the roles back. Asking again for a role held until a date renews it "
          "(a new end date, or permanent). Details (the files changed) are under the preview.",
)
