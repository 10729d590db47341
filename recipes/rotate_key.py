"""The rotate-key recipe: rotate a user's RSA key without downtime: add the new key as rsa_public_key_2, then promote
it (recipes.promote_key)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import fields
from core.keys import parse_public_key
from core.snowddl.edit import set_fields
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.common import JUSTIFICATION, duplicate_note, edit, entry, existing, refuse_unknown

USER_FILE = "user.yaml"


@dataclass(frozen=True)
class RotateRequest:
    name: str = form("User", required=True, kind="select", choices="users")
    rsa_public_key_2: str = form("New RSA public key", "The new key (PEM or base64 body). It is added next to the "
        "current one; once clients use it, promote it.", required=True, kind="key")
    justification: str = JUSTIFICATION
    key_fingerprint: str = ""


def user_edit(base: Snapshot, field_name: str, name: str, values: dict) -> tuple[str, str]:
    """(file, new text) of the user file SnowDDL reads, with `values` set on `name`."""
    rel = base.file("user")
    return rel, edit(field_name, rel, set_fields, base.text(rel) or "", name, values)


def parse_rotate(raw: dict[str, Any], base: Snapshot) -> RotateRequest:
    c = Collector()
    name = existing(c, "name", raw.get("name"), base.config.users, "a user", base)
    key = c.check(parse_public_key, "rsa_public_key_2", raw.get("rsa_public_key_2"))
    if name and key:
        user = entry(base, base.file("user"), name) or {}
        if key.body in (user.get("rsa_public_key"), user.get("rsa_public_key_2")):
            c.add("rsa_public_key_2", f"is already a key of {name}; a rotation needs a new key.")
        elif user.get("rsa_public_key_2"):
            c.add("name", f"{name} already has a second key waiting; promote it first.")
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, ROTATE_KEY.fields)
    c.raise_if_any()
    return RotateRequest(checked(name), key.body, checked(why), key.fingerprint)


def build_rotate(base: Snapshot, req: RotateRequest) -> ChangeSet:
    rel, text = user_edit(base, "rsa_public_key_2", req.name, {"rsa_public_key_2": req.rsa_public_key_2})
    return ChangeSet(f"Rotate the RSA key of {req.name} (step 1: add)", {rel: text},
                     f"Adds RSA key {req.key_fingerprint} to {req.name} as rsa_public_key_2; the current key keeps "
                     "working until the new one is promoted." + duplicate_note(base, rel, req.name))


ROTATE_KEY: Recipe[RotateRequest] = Recipe(
    "rotate-key", "Rotate an RSA key", RotateRequest, parse_rotate, build_rotate,
    description="Add a new RSA key next to the current one (step 1 of a rotation)", page="rotate_key", touches=(USER_FILE,),
)
