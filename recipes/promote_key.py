"""The promote-key recipe (step 2 of a key rotation): rsa_public_key_2 becomes the user's only key."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import fields
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.common import JUSTIFICATION, duplicate_note, entry, existing, refuse_unknown
from recipes.rotate_key import USER_FILE, user_edit

@dataclass(frozen=True)
class PromoteRequest:
    name: str = form("User", "A user with a second key (rsa_public_key_2) waiting.", required=True, kind="select", choices="users")
    justification: str = JUSTIFICATION


def parse_promote(raw: dict[str, Any], base: Snapshot) -> PromoteRequest:
    c = Collector()
    name = existing(c, "name", raw.get("name"), base.config.users, "a user", base)
    if name and not (entry(base, base.file("user"), name) or {}).get("rsa_public_key_2"):
        c.add("name", f"{name} has no rsa_public_key_2 to promote; add the new key first (rotate-key).")
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, PROMOTE_KEY.fields)
    c.raise_if_any()
    return PromoteRequest(checked(name), checked(why))


def build_promote(base: Snapshot, req: PromoteRequest) -> ChangeSet:
    new_key = (entry(base, base.file("user"), req.name) or {})["rsa_public_key_2"]
    rel, text = user_edit(base, "name", req.name, {"rsa_public_key": new_key, "rsa_public_key_2": None})
    return ChangeSet(f"Rotate the RSA key of {req.name} (step 2: promote)", {rel: text},
                     f"Makes the second key of {req.name} its only key; the old key stops working."
                     + duplicate_note(base, rel, req.name))


PROMOTE_KEY: Recipe[PromoteRequest] = Recipe(
    "promote-key", "Promote the new RSA key", PromoteRequest, parse_promote, build_promote,
    description="Make rsa_public_key_2 the user's only key (step 2 of a rotation)", page="rotate_key", touches=(USER_FILE,),
)
