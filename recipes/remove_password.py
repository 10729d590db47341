"""The remove-password recipe: a user logs in with their key pair only."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import fields
from core.snowddl.edit import set_fields
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.common import JUSTIFICATION, USER_FILE, duplicate_note, edit, existing_user, refuse_unknown


@dataclass(frozen=True)
class RemovePasswordRequest:
    name: str = form("User", "The user whose password is removed: they log in with their key pair.", required=True,
        kind="select", choices="users")
    justification: str = JUSTIFICATION


def parse_remove_password(raw: dict[str, Any], base: Snapshot) -> RemovePasswordRequest:
    c = Collector()
    name, user = existing_user(c, raw, base)
    if name and "password" not in user:
        c.add("name", f"{name} has no password in the configuration.")
    elif name and not (user.get("rsa_public_key") or user.get("rsa_public_key_2")):
        # Why: without a key the user could not log in at all; add a key first (rotate-key).
        c.add("name", f"{name} has no RSA key: removing the password would lock them out; add a key first.")
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, REMOVE_PASSWORD.fields)
    c.raise_if_any()
    return RemovePasswordRequest(checked(name), checked(why))


def build_remove_password(base: Snapshot, req: RemovePasswordRequest) -> ChangeSet:
    rel = base.file("user")
    text = edit("name", rel, set_fields, base.text(rel) or "", req.name, {"password": None})
    return ChangeSet(f"Remove the password of {req.name}", {rel: text},
                     f"Removes the password of {req.name}; they log in with their key pair only."
                     + duplicate_note(base, rel, req.name))


REMOVE_PASSWORD: Recipe[RemovePasswordRequest] = Recipe(
    "remove-password", "Remove a password", RemovePasswordRequest, parse_remove_password, build_remove_password,
    description="Make a user log in with their key pair only", page="remove_password", touches=(USER_FILE,),
    intro="Removes the password from the user in user.yaml. The user must have an RSA key: they log in with it only.",
)
