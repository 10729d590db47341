"""The offboard-user recipe: disable a user and remove their business roles."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import expiry, fields
from core.snowddl.edit import set_fields
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.common import JUSTIFICATION, USER_FILE, duplicate_note, edit, existing_user, expiry_edit, refuse_unknown


@dataclass(frozen=True)
class OffboardRequest:
    name: str = form("User", "The user to disable; their business roles are removed.", required=True, kind="select", choices="users")
    justification: str = JUSTIFICATION


def parse_offboard(raw: dict[str, Any], base: Snapshot) -> OffboardRequest:
    c = Collector()
    name, user = existing_user(c, raw, base)
    if name and user.get("disabled") is True and not user.get("business_roles"):
        c.add("name", f"{name} is already offboarded.")
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, OFFBOARD_USER.fields)
    c.raise_if_any()
    return OffboardRequest(checked(name), checked(why))


def build_offboard(base: Snapshot, req: OffboardRequest) -> ChangeSet:
    rel = base.file("user")
    text = edit("name", rel, set_fields, base.text(rel) or "", req.name, {"disabled": True, "business_roles": None})
    files = {rel: text, **expiry_edit(base, "name", remove=[(req.name.upper(), None)])}
    return ChangeSet(f"Offboard {req.name}", files,
                     f"Disables {req.name} (disabled: true) and removes all of their business roles."
                     + duplicate_note(base, rel, req.name))


OFFBOARD_USER: Recipe[OffboardRequest] = Recipe(
    "offboard-user", "Offboard a user", OffboardRequest, parse_offboard, build_offboard,
    description="Disable a user who leaves and remove their roles", page="offboard_user", touches=(USER_FILE, expiry.EXPIRY_FILE),
    intro="Sets disabled: true on the user and removes all of their business roles. The user stays in user.yaml, so the "
          "history is kept and the account can be re-enabled by another request.",
)
