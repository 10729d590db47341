"""The new-business-role recipe: a job function composed of schema access, warehouse usage and technical roles."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import fields
from core.snowddl.edit import add_entry
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.business_role_model import (LIST_KEYS, ROLE_FILE, BusinessRoleRequest, as_written,
                                         role_lists, role_request_dict, spelling)
from recipes.common import edit, new_key, new_name, refuse_unknown


@dataclass(frozen=True)
class NewBusinessRoleRequest(BusinessRoleRequest):
    """A new role: its name and comment as the form shows them; its lists (BusinessRoleRequest) hold every item."""
    name: str = form("Role name", "The business role's key, e.g. MARKETING_ANALYST (becomes MARKETING_ANALYST__B_ROLE).",
        required=True, placeholder="PRICING_ANALYST")
    comment: str | None = form("Comment", "What the role is for")


def parse_new(raw: dict[str, Any], base: Snapshot) -> NewBusinessRoleRequest:
    c = Collector()
    name = new_name(c, "name", raw.get("name"), base.config.business_roles, "business role")
    lists = role_lists(c, raw, base, only_given=False)
    if not any(lists.values()) and not any(e.field in LIST_KEYS for e in c.errors):
        c.add("schema_read", "a role needs some access: pick schemas, warehouses or technical roles.")
    comment = c.check(fields.free_text, "comment", raw.get("comment"), max_len=300)
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, NEW_BUSINESS_ROLE.fields)
    c.raise_if_any()
    items: dict[str, Any] = {k: tuple(checked(v)) for k, v in lists.items()}
    return NewBusinessRoleRequest(name=checked(name), **items, comment=comment, justification=checked(why))


def build_new(base: Snapshot, req: BusinessRoleRequest) -> ChangeSet:
    rel = base.file("business_role")
    body: dict[str, Any] = {spelling(base.text(rel) or "", k): as_written(base, k, v) for k, v in req.lists if v}
    if req.comment:
        body["comment"] = req.comment
    text = edit("name", rel, add_entry, base.text(rel) or "", new_key(base, "business_role", req.name), body)
    parts = [f"{k} {', '.join(v)}" for k, v in req.lists if v]
    return ChangeSet(f"New business role {req.name}", {rel: text},
                     f"Adds business role {req.name}: " + "; ".join(parts) + ".")


NEW_BUSINESS_ROLE: Recipe[BusinessRoleRequest] = Recipe(
    "new-business-role", "New business role", NewBusinessRoleRequest, parse_new, build_new, role_request_dict,
    description="A job function: schema read / write / owner, warehouses and technical roles", page="business_role", touches=(ROLE_FILE,),
    intro="A business role bundles access for a job function: read / write / own schemas (DB.SCHEMA or DB.*), use "
          "warehouses (the first is the default) and include technical roles. Users then get it with one grant.",
)
