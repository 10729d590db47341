"""The revoke-role recipe: take business roles away from a user."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import expiry, fields
from core.snowddl.edit import remove_list_items
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.common import (JUSTIFICATION, USER_FILE, duplicate_note, edit, existing_user, expiry_edit, names,
                            refuse_unknown, roles_of)


@dataclass(frozen=True)
class RevokeRequest:
    name: str = form("User", required=True, kind="select", choices="users")
    business_roles: tuple[str, ...] = form("Business roles to revoke", "Roles the user has today.", is_list=True, required=True,
        kind="multiselect", choices="business_roles")
    justification: str = JUSTIFICATION


def parse_revoke(raw: dict[str, Any], base: Snapshot) -> RevokeRequest:
    c = Collector()
    name, user = existing_user(c, raw, base)
    roles = names(c, "business_roles", raw.get("business_roles"), base.config.business_roles, "a business role", base)
    if name and roles:
        missing = [r for r in roles if r not in roles_of(user)]
        if missing:
            c.add("business_roles", f"{name} does not have {', '.join(missing)}.")
    if not roles and not any(e.field == "business_roles" for e in c.errors):
        c.add("business_roles", "must not be empty: pick at least one.")
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, REVOKE_ROLE.fields)
    c.raise_if_any()
    return RevokeRequest(checked(name), tuple(roles), checked(why))


def build_revoke(base: Snapshot, req: RevokeRequest) -> ChangeSet:
    rel = base.file("user")
    text = edit("business_roles", rel, remove_list_items, base.text(rel) or "", req.name, "business_roles", list(req.business_roles))
    files = {rel: text, **expiry_edit(base, "business_roles", remove=[(req.name.upper(), r) for r in req.business_roles])}
    roles = ", ".join(req.business_roles)
    return ChangeSet(f"Revoke {roles} from {req.name}", files,
                     f"Removes business role(s) {roles} from {req.name}." + duplicate_note(base, rel, req.name))


REVOKE_ROLE: Recipe[RevokeRequest] = Recipe(
    "revoke-role", "Revoke business roles", RevokeRequest, parse_revoke, build_revoke,
    description="Take business roles away from a user", page="revoke_role", touches=(USER_FILE, expiry.EXPIRY_FILE),
)
