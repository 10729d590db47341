"""Business roles: a new one composed of schema access, warehouse usage and technical roles; change one."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core import fields
from core.snowddl import read
from core.snowddl.edit import add_entry, add_list_items, remove_list_items, set_fields
from core.snowddl.snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Field, Recipe, checked
from recipes.common import (JUSTIFICATION, duplicate_note, edit, entry, existing, list_key, names, new_key, new_name,
                            refuse_unknown, schema_patterns, written)

ROLE_FILE = "business_role.yaml"
LIST_KEYS = ("schema_read", "schema_write", "schema_owner", "warehouse_usage", "technical_roles")

_LISTS = (
    Field("schema_read", "Read schemas", "SELECT on DATABASE.SCHEMA or every schema of DATABASE.*", is_list=True,
          kind="multiselect", choices="schema_patterns"),
    Field("schema_write", "Write schemas", "INSERT / UPDATE / DELETE (pair with read)", is_list=True,
          kind="multiselect", choices="schema_patterns"),
    Field("schema_owner", "Owned schemas", "Create and drop objects", is_list=True, kind="multiselect", choices="schema_patterns"),
    Field("warehouse_usage", "Warehouses", "The first is the default warehouse of the role's users.", is_list=True,
          kind="multiselect", choices="warehouses"),
    Field("technical_roles", "Technical roles", "Fine-grained bundles from technical_role.yaml", is_list=True,
          kind="multiselect", choices="technical_roles"),
)


@dataclass(frozen=True)
class BusinessRoleRequest:
    name: str
    justification: str
    # A new role: key -> items. A change: key -> None (never whole lists: see `edits`).
    lists: tuple[tuple[str, tuple[str, ...] | None], ...]
    comment: str | None = None
    # A change, as intent: (key, items added, items removed). Rebuilt on a newer base, it adds and removes
    # exactly these, so an item another request removed meanwhile never comes back.
    edits: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()

    def get(self, key: str):
        return dict(self.lists).get(key)


NEW_FIELDS = (
    Field("name", "Role name", "The business role's key, e.g. MARKETING_ANALYST (becomes MARKETING_ANALYST__B_ROLE).", required=True,
          placeholder="PRICING_ANALYST"),
    *_LISTS,
    Field("comment", "Comment", "What the role is for"),
    JUSTIFICATION,
)
CHANGE_FIELDS = (
    Field("name", "Role", required=True, kind="select", choices="business_roles"),
    *_LISTS,
    Field("comment", "Comment"),
    JUSTIFICATION,
)


def _lists(c: Collector, raw: dict, base: Snapshot, only_given: bool) -> dict[str, list[str] | None]:
    out: dict[str, list[str] | None] = {}
    for key in LIST_KEYS:
        if only_given and key not in raw:
            out[key] = None
            continue
        if key.startswith("schema_"):
            out[key] = schema_patterns(c, key, raw.get(key), base)
        elif key == "warehouse_usage":
            out[key] = names(c, key, raw.get(key), base.config.warehouses, "a warehouse", base)
        else:
            out[key] = names(c, key, raw.get(key), base.config.technical_roles, "a technical role", base)
    return out


def parse_new(raw: dict[str, Any], base: Snapshot) -> BusinessRoleRequest:
    c = Collector()
    name = new_name(c, "name", raw.get("name"), base.config.business_roles, "business role")
    lists = _lists(c, raw, base, only_given=False)
    if not any(lists.values()) and not any(e.field in LIST_KEYS for e in c.errors):
        c.add("schema_read", "a role needs some access: pick schemas, warehouses or technical roles.")
    comment = c.check(fields.free_text, "comment", raw.get("comment"), max_len=300)
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, NEW_FIELDS)
    c.raise_if_any()
    return BusinessRoleRequest(checked(name), checked(why), tuple((k, tuple(checked(v))) for k, v in lists.items()), comment)


# The root file each list's items are keys of: items are written as that file writes them.
_ITEM_KIND = {"warehouse_usage": "warehouse", "technical_roles": "technical_role"}


def _as_written(base: Snapshot, key: str, items) -> list[str]:
    kind = _ITEM_KIND.get(key)
    return [written(base, kind, i) for i in items] if kind else list(items)


def _spelling(text: str, key: str) -> str:
    """The spelling of `key` the file's roles use (tech_roles in a repository that writes the old name)."""
    for spelled in read.KEY_ALIASES.get(key, (key,)):
        if re.search(rf"^\s+{spelled}\s*:", text, re.M):
            return spelled
    return key


def build_new(base: Snapshot, req: BusinessRoleRequest) -> ChangeSet:
    rel = base.file("business_role")
    body: dict[str, Any] = {_spelling(base.text(rel) or "", k): _as_written(base, k, v) for k, v in req.lists if v}
    if req.comment:
        body["comment"] = req.comment
    text = edit("name", rel, add_entry, base.text(rel) or "", new_key(base, "business_role", req.name), body)
    parts = [f"{k} {', '.join(v)}" for k, v in req.lists if v]
    return ChangeSet(f"New business role {req.name}", {rel: text},
                     f"Adds business role {req.name}: " + "; ".join(parts) + ".")


def _to_dict(req: BusinessRoleRequest) -> dict:
    out: dict[str, Any] = {"name": req.name}
    for k, v in req.lists:
        if v is not None:
            out[k] = list(v)
    for key, added, removed in req.edits:
        if added:
            out[f"{key}{ADD}"] = list(added)
        if removed:
            out[f"{key}{REMOVE}"] = list(removed)
    if req.comment is not None:
        out["comment"] = req.comment
    out["justification"] = req.justification
    return out


NEW_BUSINESS_ROLE: Recipe[BusinessRoleRequest] = Recipe(
    "new-business-role", "New business role", NEW_FIELDS, parse_new, build_new, _to_dict,
    description="A job function: schema read / write / owner, warehouses and technical roles", page="business_role", touches=(ROLE_FILE,),
    intro="A business role bundles access for a job function: read / write / own schemas (DB.SCHEMA or DB.*), use "
          "warehouses (the first is the default) and include technical roles. Users then get it with one grant.",
)


def current(base: Snapshot, name: str) -> dict:
    role = entry(base, base.file("business_role"), name) or {}
    out: dict[str, Any] = {k: [str(x).upper() for x in role.get(list_key(role, k)) or []] for k in LIST_KEYS}
    out["comment"] = str(role.get("comment") or "")
    return out


ADD, REMOVE = "_add", "_remove"  # intent keys of a stored change request: schema_read_add, warehouse_usage_remove, ...
INTENT_KEYS = tuple(f"{k}{suffix}" for k in LIST_KEYS for suffix in (ADD, REMOVE))


def parse_change(raw: dict[str, Any], base: Snapshot) -> BusinessRoleRequest:
    """A form gives whole lists (what the role should hold); a stored request gives intent
    (`KEY_add`, `KEY_remove`). Either way the request keeps only the intent, against `base`: items
    to add that it lacks, items to remove that it has."""
    c = Collector()
    name = existing(c, "name", raw.get("name"), base.config.business_roles, "a business role", base)
    lists = _lists(c, raw, base, only_given=True)
    intent = {k: _lists(c, {key: raw[f"{key}{k}"] for key in LIST_KEYS if f"{key}{k}" in raw}, base, only_given=True)
              for k in (ADD, REMOVE)}
    comment = (c.check(fields.free_text, "comment", raw.get("comment"), max_len=300) or "") if "comment" in raw else None
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, {k: v for k, v in raw.items() if k not in INTENT_KEYS}, CHANGE_FIELDS)
    edits: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    if name and not c.errors:
        now = current(base, name)
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
    return BusinessRoleRequest(checked(name), checked(why), tuple((k, None) for k in LIST_KEYS), comment, tuple(edits))


def build_change(base: Snapshot, req: BusinessRoleRequest) -> ChangeSet:
    rel = base.file("business_role")
    text = base.text(rel) or ""
    now = current(base, req.name)
    role = entry(base, rel, req.name) or {}
    notes = []
    for key, asked_added, asked_removed in req.edits:
        removed = [x for x in asked_removed if x in now[key]]
        added = [x for x in asked_added if x not in now[key]]
        spelled = list_key(role, key)  # tech_roles stays tech_roles: never a second key of the same meaning
        # Added first, then removed: a list whose every item is replaced never empties, so its key
        # stays where it was (and keeps its style and comment).
        if added:
            text = edit(key, rel, add_list_items, text, req.name, spelled, _as_written(base, key, added))
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
    now = current(base, name.upper()) if name else {k: [] for k in LIST_KEYS}
    for key in LIST_KEYS:
        drop = set(request.get(f"{key}{REMOVE}") or [])
        out[key] = [x for x in now[key] if x not in drop] + [x for x in request.get(f"{key}{ADD}") or [] if x not in now[key]]
    out["comment"] = request["comment"] if "comment" in request else now.get("comment", "")
    return out


CHANGE_BUSINESS_ROLE: Recipe[BusinessRoleRequest] = Recipe(
    "change-business-role", "Change a business role", CHANGE_FIELDS, parse_change, build_change, _to_dict,
    current=current, form_values=form_values,
    description="Add or remove schemas, warehouses or technical roles of a business role",
    page="change_business_role", touches=(ROLE_FILE,),
    intro="Pick a role: the form starts from its current access. Only the lines you change appear in the diff; every user "
          "holding the role gets the new access.",
    outside=("name",),
)
