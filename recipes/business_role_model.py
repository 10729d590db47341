"""What the two business-role recipes (new-business-role, change-business-role) share: the business role file, its
list keys and their fields (on the typed request), its stored form (with a change's intent keys), a role's current lists."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.snowddl import yaml_reader
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import Collector, form
from recipes.common import JUSTIFICATION, entry, list_key, names, schema_patterns, written

ROLE_FILE = "business_role.yaml"
LIST_KEYS = ("schema_read", "schema_write", "schema_owner", "warehouse_usage", "technical_roles")


@dataclass(frozen=True)
class BusinessRoleRequest:
    """The request of both business-role recipes; each declares `name` (and new-business-role `comment`) as its form
    shows it (NewBusinessRoleRequest, ChangeBusinessRoleRequest)."""
    name: str
    # The lists (LIST_KEYS). A new role: key -> items. A change: key -> None (never whole lists: see `edits`).
    schema_read: tuple[str, ...] | None = form("Read schemas", "SELECT on DATABASE.SCHEMA or every schema of DATABASE.*",
        is_list=True, kind="multiselect", choices="schema_patterns")
    schema_write: tuple[str, ...] | None = form("Write schemas", "INSERT / UPDATE / DELETE (pair with read)", is_list=True,
        kind="multiselect", choices="schema_patterns")
    schema_owner: tuple[str, ...] | None = form("Owned schemas", "Create and drop objects", is_list=True, kind="multiselect",
        choices="schema_patterns")
    warehouse_usage: tuple[str, ...] | None = form("Warehouses", "The first is the default warehouse of the role's users.",
        is_list=True, kind="multiselect", choices="warehouses")
    technical_roles: tuple[str, ...] | None = form("Technical roles", "Fine-grained bundles from technical_role.yaml",
        is_list=True, kind="multiselect", choices="technical_roles")
    comment: str | None = form("Comment")
    justification: str = JUSTIFICATION
    # A change, as intent: (key, items added, items removed). Rebuilt on a newer base, it adds and removes
    # exactly these, so an item another request removed meanwhile never comes back.
    edits: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()

    @property
    def lists(self) -> tuple[tuple[str, tuple[str, ...] | None], ...]:
        """(key, items or None) for each of LIST_KEYS, in their order."""
        return tuple((key, getattr(self, key)) for key in LIST_KEYS)

    def get(self, key: str):
        return dict(self.lists).get(key)


def role_lists(c: Collector, raw: dict, base: Snapshot, only_given: bool) -> dict[str, list[str] | None]:
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


# The root file each list's items are keys of: items are written as that file writes them.
_ITEM_KIND = {"warehouse_usage": "warehouse", "technical_roles": "technical_role"}


def as_written(base: Snapshot, key: str, items) -> list[str]:
    kind = _ITEM_KIND.get(key)
    return [written(base, kind, i) for i in items] if kind else list(items)


def spelling(text: str, key: str) -> str:
    """The spelling of `key` the file's roles use (tech_roles in a repository that writes the old name)."""
    for spelled in yaml_reader.KEY_ALIASES.get(key, (key,)):
        if re.search(rf"^\s+{spelled}\s*:", text, re.M):
            return spelled
    return key


ADD, REMOVE = "_add", "_remove"  # intent keys of a stored change request: schema_read_add, warehouse_usage_remove, ...


def role_request_dict(req: BusinessRoleRequest) -> dict:
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


def current_role(base: Snapshot, name: str) -> dict:
    role = entry(base, base.file("business_role"), name) or {}
    out: dict[str, Any] = {k: [str(x).upper() for x in role.get(list_key(role, k)) or []] for k in LIST_KEYS}
    out["comment"] = str(role.get("comment") or "")
    return out
