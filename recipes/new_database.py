"""New database: its schemas and params, the read / write / owner business roles a team needs, and an
optional dedicated warehouse with a resource monitor."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml

from core import fields
from core.snowddl.edit import add_entry
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.common import (JUSTIFICATION, boolean, bounded_list, credits_note, edit, integer, names,
                            new_key, new_name, refuse_unknown, size, written)

ROLE_KINDS = ("READ", "WRITE", "OWNER")
RESERVED_SCHEMAS = ("PUBLIC", "INFORMATION_SCHEMA")
MAX_SCHEMAS = 50


@dataclass(frozen=True)
class NewDatabaseRequest:
    name: str = form("Database name", "e.g. PROJ_PRICING", required=True, placeholder="PROJ_PRICING")
    schemas: tuple[str, ...] = form("Schemas", "Comma-separated schema names, e.g. RAW, MODELS", is_list=True, required=True,
        placeholder="RAW, MODELS")
    comment: str | None = form("Comment", "What the database holds")
    retention_time: int | None = form("Time Travel retention (days)", "0 to 90; empty for the account default", kind="int",
        placeholder="e.g. 1 (empty: the account default)")
    is_transient: bool | None = form("Transient (no Fail-safe)", kind="bool")
    is_sandbox: bool | None = form("Sandbox (SnowDDL leaves unknown objects alone)", kind="bool")
    # of ROLE_KINDS
    business_roles: tuple[str, ...] = form("Business roles to create", "<DB>_READ reads every schema, <DB>_WRITE also writes, "
        "<DB>_OWNER owns them.", is_list=True, kind="multiselect", choices=ROLE_KINDS)
    warehouse_usage: tuple[str, ...] = form("Existing warehouses for these roles", is_list=True, kind="multiselect",
        choices="warehouses")
    # a dedicated warehouse <DB>_WH of this size
    size: str | None = form("Dedicated warehouse size", "Optional: creates <DB>_WH of this size for the roles.", kind="select",
        choices="sizes")
    # its monthly resource monitor <DB>_MONITOR
    credit_quota: int | None = form("Monthly credit quota", "Optional, with a dedicated warehouse: a resource monitor <DB>_MONITOR "
        "that notifies at 75% and suspends at 100%. Left empty, the warehouse gets no resource monitor.", kind="int",
        placeholder="e.g. 50 (empty: no resource monitor)")
    justification: str = JUSTIFICATION

    @property
    def warehouse(self) -> str | None:
        return f"{self.name}_WH" if self.size else None

    @property
    def monitor(self) -> str | None:
        return f"{self.name}_MONITOR" if self.size and self.credit_quota else None

    def role(self, kind: str) -> str:
        return f"{self.name}_{kind}"


def parse(raw: dict[str, Any], base: Snapshot) -> NewDatabaseRequest:
    c = Collector()
    cfg = base.config
    name = new_name(c, "name", raw.get("name"), cfg.databases, "database")
    schemas: list[str] = []
    for item in bounded_list(c, "schemas", raw.get("schemas"), MAX_SCHEMAS):
        s = c.check(fields.identifier, "schemas", item)
        if s in RESERVED_SCHEMAS:
            c.add("schemas", f"{s} is made by Snowflake itself; pick another name.")
        elif s and len(s) > 200:
            c.add("schemas", "a schema name is longer than 200 characters.")
        elif s and s not in schemas:
            schemas.append(s)
    if not schemas and not any(e.field == "schemas" for e in c.errors):
        c.add("schemas", "must not be empty: name at least one schema.")
    if len(schemas) > MAX_SCHEMAS:
        c.add("schemas", f"at most {MAX_SCHEMAS} schemas per request.")
    kinds: list[str] = []
    for item in bounded_list(c, "business_roles", raw.get("business_roles"), len(ROLE_KINDS) * 4):
        kind = item.strip().upper()
        if kind not in ROLE_KINDS:
            c.add("business_roles", "takes READ, WRITE and/or OWNER.")
        elif kind not in kinds:
            kinds.append(kind)
    comment = c.check(fields.free_text, "comment", raw.get("comment"), max_len=300)
    retention = integer(c, "retention_time", raw.get("retention_time"), 0, 90)
    transient = boolean(c, "is_transient", raw.get("is_transient"))
    sandbox = boolean(c, "is_sandbox", raw.get("is_sandbox"))
    warehouses = names(c, "warehouse_usage", raw.get("warehouse_usage"), cfg.warehouses, "a warehouse", base)
    wh_size = size(c, "size", raw.get("size"), required=False)
    quota = integer(c, "credit_quota", raw.get("credit_quota"), 1, 1_000_000)
    if quota and not raw.get("size"):
        c.add("credit_quota", "needs a dedicated warehouse: pick its size too.")
    if name:
        taken = []
        for kind in kinds:
            if f"{name}_{kind}" in cfg.business_roles:
                taken.append(f"business role {name}_{kind}")
        if wh_size and f"{name}_WH" in cfg.warehouses:
            taken.append(f"warehouse {name}_WH")
        if quota and f"{name}_MONITOR" in cfg.resource_monitors:
            taken.append(f"resource monitor {name}_MONITOR")
        if taken:
            c.add("name", "would create objects that already exist: " + ", ".join(taken) + ".")
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, NEW_DATABASE.fields)
    c.raise_if_any()
    return NewDatabaseRequest(name=checked(name), schemas=tuple(schemas), comment=comment, retention_time=retention,
                              is_transient=transient, is_sandbox=sandbox, business_roles=tuple(kinds),
                              warehouse_usage=tuple(warehouses), size=wh_size, credit_quota=quota if wh_size else None,
                              justification=checked(why))


def _params(values: dict, header: str) -> str:
    body = {k: v for k, v in values.items() if v is not None}
    text = yaml.dump(body, Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True, width=math.inf) if body else ""
    return f"# {header}\n" + text


def _add(base: Snapshot, files: dict, kind: str, key: str, value: dict) -> str:
    """Adds an entry to the file SnowDDL reads for `kind` (warehouse.yml, Business_Role.yaml ...); the key
    as written (lower-case in a lower-case file), which references to it must use."""
    rel = base.file(kind)
    key = new_key(base, kind, key)
    files[rel] = edit("name", rel, add_entry, files.get(rel, base.text(rel) or ""), key, value)
    return key


def _folder_case(base: Snapshot, name: str) -> str:
    """A new folder's name: lower-case when every database folder of the config is (SnowDDL reads
    folder names case-insensitively; the repository's style is kept)."""
    folders = [p.name for p in base.root.iterdir() if p.is_dir() and not p.name.startswith(("__", "."))]
    letters = [f for f in folders if f.lower() != f.upper()]
    return name.lower() if letters and all(f == f.lower() for f in letters) else name


def build(base: Snapshot, req: NewDatabaseRequest) -> ChangeSet:
    files: dict[str, str | None] = {}
    db = _folder_case(base, req.name)
    files[f"{db}/params{base.suffix}"] = _params(
        {"comment": req.comment, "retention_time": req.retention_time, "is_transient": req.is_transient,
         "is_sandbox": req.is_sandbox}, f"{req.name}: requested through SnowTower.")
    for schema in req.schemas:
        files[f"{db}/{_folder_case(base, schema)}/params{base.suffix}"] = _params({}, f"{req.name}.{schema}: requested through SnowTower.")
    monitor = warehouse = None
    if req.monitor:
        monitor = _add(base, files, "resource_monitor", req.monitor,
             {"credit_quota": req.credit_quota, "frequency": "MONTHLY", "triggers": {75: "NOTIFY", 100: "SUSPEND"}})
    if req.warehouse:
        wh: dict[str, Any] = {"size": req.size, "auto_suspend": 60}
        if monitor:
            wh["resource_monitor"] = monitor
        wh["comment"] = f"Dedicated warehouse of {req.name}"
        warehouse = _add(base, files, "warehouse", req.warehouse, wh)
    usage = ([warehouse] if warehouse else []) + [written(base, "warehouse", w) for w in req.warehouse_usage]
    keys = {"READ": ("schema_read",), "WRITE": ("schema_read", "schema_write"), "OWNER": ("schema_owner",)}
    for kind in req.business_roles:
        # Fresh lists for each key: shared objects would come out as YAML anchors (&id001).
        role: dict[str, Any] = {key: [f"{req.name}.*"] for key in keys[kind]}
        if usage:
            role["warehouse_usage"] = list(usage)
        role["comment"] = f"{kind.capitalize()} access to {req.name}"
        _add(base, files, "business_role", req.role(kind), role)
    parts = [f"database {req.name} with schema(s) {', '.join(req.schemas)}"]
    if req.business_roles:
        parts.append("business role(s) " + ", ".join(req.role(k) for k in req.business_roles))
    if req.warehouse:
        parts.append(f"warehouse {req.warehouse} ({credits_note(req.size)})"
                     + (f" with resource monitor {req.monitor} ({req.credit_quota} credits a month)" if req.monitor
                        else ", no resource monitor (no monthly credit quota given)"))
    return ChangeSet(f"New database {req.name}", files, "Adds " + "; ".join(parts) + ".")


NEW_DATABASE: Recipe[NewDatabaseRequest] = Recipe(
    "new-database", "New database", NewDatabaseRequest, parse, build,
    description="A database with schemas, retention, read / write / owner roles and an optional warehouse",
    page="database",
    touches=("{name}/params.yaml", "{name}/*/params.yaml", "business_role.yaml", "warehouse.yaml", "resource_monitor.yaml"),
    intro="Creates <DB>/params.yaml and one <DB>/<SCHEMA>/params.yaml per schema, the READ / WRITE / OWNER business roles "
          "a team needs, and optionally a dedicated warehouse <DB>_WH with a monthly resource monitor.",
)
