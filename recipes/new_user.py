"""New user: a PERSON (a human, with names and email) or a SERVICE (a program), RSA key-pair auth."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import fields
from core.keys import parse_public_key
from core.snowddl.edit import add_entry
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, form
from recipes.common import bounded_list, edit, existing, new_key, written

USER_FILE = "user.yaml"
USER_TYPES = ("PERSON", "SERVICE")


@dataclass(frozen=True)
class NewUserRequest:
    name: str = form("User name", "The user's key in user.yaml and its Snowflake name, e.g. JANE_SMITH.", required=True,
        placeholder="JANE_SMITH")
    type: str = form("Type", "PERSON for a human, SERVICE for a program (key pair only).", kind="select", choices=USER_TYPES)
    first_name: str | None = form("First name", required=True)
    last_name: str | None = form("Last name", required=True)
    email: str | None = form("Email", required=True, placeholder="jane.smith@company.com")
    # normalised base64 body
    rsa_public_key: str = form("RSA public key", "The contents of rsa_key.pub (PEM) or its base64 body. Never the private key.",
        required=True, kind="key")
    business_roles: tuple[str, ...] = form("Business roles", "One or more business roles from the configuration.", is_list=True,
        required=True, kind="multiselect", choices="business_roles")
    default_warehouse: str | None = form("Default warehouse", kind="select", choices="warehouses")
    comment: str | None = form("Comment", placeholder="Optional, e.g. team or purpose")
    justification: str = form("Justification", "Why this access is needed; reviewers read it.", required=True, kind="textarea")
    key_fingerprint: str = ""


def parse(raw: dict[str, Any], base: Snapshot) -> NewUserRequest:
    c = Collector()
    name = c.check(fields.identifier, "name", raw.get("name"))
    if name and name in set(base.config.users):
        c.add("name", f"user {name} already exists.")
    user_type = str(raw.get("type") or "PERSON").strip().upper()
    if user_type not in USER_TYPES:
        c.add("type", "must be PERSON or SERVICE.")
    person = user_type == "PERSON"
    first = c.check(fields.free_text, "first_name", raw.get("first_name"), required=person, max_len=100)
    last = c.check(fields.free_text, "last_name", raw.get("last_name"), required=person, max_len=100)
    mail = c.check(fields.email, "email", raw.get("email"), required=person)
    if not person:
        for key in ("first_name", "last_name", "email"):
            if raw.get(key):
                c.add(key, "is for PERSON users only; a SERVICE user has no names or email.")
    key = c.check(parse_public_key, "rsa_public_key", raw.get("rsa_public_key"))
    roles: list[str] = []
    for role in bounded_list(c, "business_roles", raw.get("business_roles")):
        ident = existing(c, "business_roles", role, base.config.business_roles, "a business role", base)
        if ident and ident not in roles:
            roles.append(ident)
    if not roles and not any(e.field == "business_roles" for e in c.errors):
        c.add("business_roles", "must not be empty: pick at least one.")
    warehouse = None
    if raw.get("default_warehouse"):
        warehouse = c.check(fields.identifier, "default_warehouse", raw.get("default_warehouse"))
        if warehouse and warehouse not in base.config.warehouses:
            c.add("default_warehouse", f"{warehouse} is not a warehouse of this configuration.")
    comment = c.check(fields.free_text, "comment", raw.get("comment"), max_len=300)
    why = c.check(fields.justification, raw.get("justification"))
    unknown = set(raw) - {f.name for f in NEW_USER.fields}
    for extra in sorted(unknown):
        c.add(extra, "is not a field of this request.")
    c.raise_if_any()
    return NewUserRequest(
        name=name, type=user_type, rsa_public_key=key.body, business_roles=tuple(roles), justification=why,
        first_name=first if person else None, last_name=last if person else None, email=mail if person else None,
        default_warehouse=warehouse, comment=comment, key_fingerprint=key.fingerprint,
    )


def build(base: Snapshot, req: NewUserRequest) -> ChangeSet:
    entry: dict[str, Any] = {"type": req.type}
    if req.type == "PERSON":
        entry.update(first_name=req.first_name, last_name=req.last_name, email=req.email)
    entry["rsa_public_key"] = req.rsa_public_key
    # Names as the config writes them: SnowDDL looks a role's default warehouse up by that spelling.
    entry["business_roles"] = [written(base, "business_role", r) for r in req.business_roles]
    if req.default_warehouse:
        entry["default_warehouse"] = written(base, "warehouse", req.default_warehouse)
    if req.comment:
        entry["comment"] = req.comment
    rel = base.file("user")
    text = edit("name", rel, add_entry, base.text(rel) or "", new_key(base, "user", req.name), entry)
    who = f"{req.first_name} {req.last_name}" if req.type == "PERSON" else "service user"
    return ChangeSet(
        title=f"New {req.type.lower()} user {req.name}",
        files={rel: text},
        summary=f"Adds {who} {req.name} with business roles {', '.join(req.business_roles)}"
        + (f" and default warehouse {req.default_warehouse}" if req.default_warehouse else "")
        + f"; RSA key {req.key_fingerprint}.",
    )


def _person_fields_of_a_service(state: dict) -> set[str]:
    """A SERVICE user's form has no names or email."""
    return {"first_name", "last_name", "email"} if state.get("type") == "SERVICE" else set()


NEW_USER: Recipe[NewUserRequest] = Recipe(
    "new-user", "New user", NewUserRequest, parse, build,
    description="A Snowflake user for a person (names, email) or a program, with an RSA key pair", page="new_user", touches=("user.yaml",),
    intro="A Snowflake user with RSA key-pair authentication. The request becomes a change to user.yaml that an approver reviews.",
    outside=("type",), hidden=_person_fields_of_a_service,
)
