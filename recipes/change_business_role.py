"""The change-business-role recipe: add or remove a business role's schemas, warehouses or technical roles (stored as
intent: items added and removed)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import fields
from core.snowddl.edit import add_list_items, remove_list_items, set_fields
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.business_role_model import (ADD, LIST_KEYS, REMOVE, ROLE_FILE, BusinessRoleRequest, as_written,
                                         current_role, role_lists, role_request_dict)
from recipes.common import duplicate_note, edit, entry, existing, list_key, refuse_unknown


@dataclass(frozen=True)
class ChangeBusinessRoleRequest(BusinessRoleRequest):
    """A change: the role picked; its lists (BusinessRoleRequest) are None and its intent is in `edits`."""
    name: str = form("Role", required=True, kind="select", choices="business_roles")


INTENT_KEYS = tuple(f"{k}{suffix}" for k in LIST_KEYS for suffix in (ADD, REMOVE))


def parse_change(raw: dict[str, Any], base: Snapshot) -> ChangeBusinessRoleRequest:
    """A form gives whole lists (what the role should hold); a stored request gives intent
    (`KEY_add`, `KEY_remove`). Either way the request keeps only the intent, against `base`: items
    to add that it lacks, items to remove that it has."""
    c = Collector()
    name = existing(c, "name", raw.get("name"), base.config.business_roles, "a business role", base)
    lists = role_lists(c, raw, base, only_given=True)
    intent = {k: role_lists(c, {key: raw[f"{key}{k}"] for key in LIST_KEYS if f"{key}{k}" in raw}, base, only_given=True)
              for k in (ADD, REMOVE)}
    comment = (c.check(fields.free_text, "comment", raw.get("comment"), max_len=300) or "") if "comment" in raw else None
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, {k: v for k, v in raw.items() if k not in INTENT_KEYS}, CHANGE_BUSINESS_ROLE.fields)
    edits: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    if name and not c.errors:
        now = current_role(base, name)
        for key in LIST_KEYS:
            want, add, drop = lists[key], intent[ADD][key] or [], intent[REMOVE][key] or []
            if want is not None:
                add, drop = add + [x for x in want if x not in now[key]], drop + [x for x in now[key] if x not in want]
            added = tuple(dict.fromkeys(x for x in add if x not in now[key]))
            removed = tuple(dict.fromkeys(x for x in drop if x in now[key] and x not in added))
            if added or removed:
                edits.append((key, added, removed))
        if not edits and not (comment is not None and comment != now["comment"]):
            c.add("name", f"nothing to change: {name} already has exactly this access.")
    c.raise_if_any()
    unlisted: dict[str, Any] = dict.fromkeys(LIST_KEYS)
    return ChangeBusinessRoleRequest(name=checked(name), **unlisted, comment=comment, justification=checked(why), edits=tuple(edits))


def build_change(base: Snapshot, req: BusinessRoleRequest) -> ChangeSet:
    rel = base.file("business_role")
    text = base.text(rel) or ""
    now = current_role(base, req.name)
    role = entry(base, rel, req.name) or {}
    notes = []
    for key, asked_added, asked_removed in req.edits:
        removed = [x for x in asked_removed if x in now[key]]
        added = [x for x in asked_added if x not in now[key]]
        spelled = list_key(role, key)  # tech_roles stays tech_roles: never a second key of the same meaning
        # Added first, then removed: a list whose every item is replaced never empties, so its key
        # stays where it was (and keeps its style and comment).
        if added:
            text = edit(key, rel, add_list_items, text, req.name, spelled, as_written(base, key, added))
        if removed:
            text = edit(key, rel, remove_list_items, text, req.name, spelled, removed)
        if removed:
            notes.append(f"{key} -{', -'.join(removed)}")
        if added:
            notes.append(f"{key} +{', +'.join(added)}")
    if req.comment is not None and req.comment != now["comment"]:
        text = edit("comment", rel, set_fields, text, req.name, {"comment": req.comment or None})
        notes.append("comment")
    return ChangeSet(f"Change business role {req.name}", {rel: text},
                     f"Changes {req.name}: " + "; ".join(notes) + ". Every user holding the role gets the new access."
                     + duplicate_note(base, rel, req.name))


def form_values(base: Snapshot, request: dict) -> dict:
    """A stored change request as a form shows it: the role's current lists with its intent applied."""
    name = str(request.get("name") or "")
    out: dict[str, Any] = {"name": name, "justification": request.get("justification", "")}
    now = current_role(base, name.upper()) if name else {k: [] for k in LIST_KEYS}
    for key in LIST_KEYS:
        drop = set(request.get(f"{key}{REMOVE}") or [])
        out[key] = [x for x in now[key] if x not in drop] + [x for x in request.get(f"{key}{ADD}") or [] if x not in now[key]]
    out["comment"] = request["comment"] if "comment" in request else now.get("comment", "")
    return out


CHANGE_BUSINESS_ROLE: Recipe[BusinessRoleRequest] = Recipe(
    "change-business-role", "Change a business role", ChangeBusinessRoleRequest, parse_change, build_change, role_request_dict,
    current=current_role, form_values=form_values,
    description="Add or remove schemas, warehouses or technical roles of a business role",
    page="change_business_role", touches=(ROLE_FILE,),
    intro="Pick a role: the form starts from its current access. Only the lines you change appear in the diff; every user "
          "holding the role gets the new access.",
    outside=("name",),
)
