"""Warehouses: a new one, or resize / change auto-suspend of one (with the credits-per-hour difference)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core import fields
from core.snowddl.edit import add_entry, set_fields
from core.snowddl.snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Field, Recipe, checked
from recipes.common import (CREDITS_PER_HOUR, JUSTIFICATION, SIZE_LABELS, credits_note, duplicate_note, edit, entry,
                            existing, integer, new_key, new_name, refuse_unknown, size, written)

WAREHOUSE_FILE = "warehouse.yaml"
MAX_AUTO_SUSPEND = 86400  # a day; 0 would never suspend, which the portal does not offer
SIZE_FIELD = Field("size", "Size", "Credits per hour per cluster: X-Small 1, Small 2, Medium 4, Large 8, X-Large 16, 2X-Large 32 ...",
                   required=True, kind="select", choices="sizes")


@dataclass(frozen=True)
class NewWarehouseRequest:
    name: str
    size: str
    auto_suspend: int
    justification: str
    min_cluster_count: int | None = None
    max_cluster_count: int | None = None
    resource_monitor: str | None = None
    comment: str | None = None


NEW_FIELDS = (
    Field("name", "Warehouse name", "e.g. MARKETING_WH", required=True, placeholder="MARKETING_WH"),
    SIZE_FIELD,
    Field("auto_suspend", "Auto-suspend (seconds)", "Idle seconds before it suspends (60 or more).", required=True, kind="int",
          default=60),
    Field("min_cluster_count", "Min clusters", "Multi-cluster (Enterprise edition); leave empty for one.", kind="int"),
    Field("max_cluster_count", "Max clusters", kind="int"),
    Field("resource_monitor", "Resource monitor", "A credit budget from resource_monitor.yaml.", kind="select", choices="resource_monitors"),
    Field("comment", "Comment", "Which workload runs here"),
    JUSTIFICATION,
)


def _clusters(c: Collector, raw: dict) -> tuple[int | None, int | None]:
    lo = integer(c, "min_cluster_count", raw.get("min_cluster_count"), 1, 10)
    hi = integer(c, "max_cluster_count", raw.get("max_cluster_count"), 1, 10)
    if lo and hi and lo > hi:
        c.add("max_cluster_count", "must not be smaller than min_cluster_count.")
    return lo, hi


def parse_new(raw: dict[str, Any], base: Snapshot) -> NewWarehouseRequest:
    c = Collector()
    name = new_name(c, "name", raw.get("name"), base.config.warehouses, "warehouse")
    wh_size = size(c, "size", raw.get("size"))
    suspend = integer(c, "auto_suspend", raw.get("auto_suspend", 60), 60, MAX_AUTO_SUSPEND, required=True)
    lo, hi = _clusters(c, raw)
    monitor = None
    if raw.get("resource_monitor"):
        monitor = existing(c, "resource_monitor", raw.get("resource_monitor"), base.config.resource_monitors, "a resource monitor", base)
    comment = c.check(fields.free_text, "comment", raw.get("comment"), max_len=300)
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, NEW_FIELDS)
    c.raise_if_any()
    return NewWarehouseRequest(checked(name), checked(wh_size), checked(suspend), checked(why), lo, hi, monitor, comment)


def build_new(base: Snapshot, req: NewWarehouseRequest) -> ChangeSet:
    body: dict[str, Any] = {"size": req.size, "auto_suspend": req.auto_suspend}
    if req.min_cluster_count:
        body["min_cluster_count"] = req.min_cluster_count
    if req.max_cluster_count:
        body["max_cluster_count"] = req.max_cluster_count
    if req.resource_monitor:
        body["resource_monitor"] = written(base, "resource_monitor", req.resource_monitor)
    if req.comment:
        body["comment"] = req.comment
    rel = base.file("warehouse")
    text = edit("name", rel, add_entry, base.text(rel) or "", new_key(base, "warehouse", req.name), body)
    most = CREDITS_PER_HOUR[req.size] * (req.max_cluster_count or 1)
    return ChangeSet(f"New warehouse {req.name}", {rel: text},
                     f"Adds warehouse {req.name}: {credits_note(req.size)}, auto-suspend after {req.auto_suspend} s"
                     + (f", up to {most} credits/hour with {req.max_cluster_count} clusters" if (req.max_cluster_count or 1) > 1 else "")
                     + (f", budget {req.resource_monitor}" if req.resource_monitor else ", no resource monitor") + ".")


NEW_WAREHOUSE: Recipe[NewWarehouseRequest] = Recipe(
    "new-warehouse", "New warehouse", NEW_FIELDS, parse_new, build_new,
    description="A warehouse for a workload, with size, auto-suspend and a budget", page="warehouse", touches=(WAREHOUSE_FILE,),
    intro="A warehouse per workload keeps credits attributable. Size sets credits per hour (X-Small 1, Small 2, Medium 4, "
          "Large 8, X-Large 16, 2X-Large 32 ...); auto-suspend stops paying when idle.",
)


# -- change -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChangeWarehouseRequest:
    name: str
    justification: str
    size: str | None = None  # None: unchanged
    auto_suspend: int | None = None
    old_size: str | None = None
    old_auto_suspend: int | None = None
    clusters: int = 1
    resource_monitor: str | None = None  # None: unchanged
    old_resource_monitor: str | None = None


CHANGE_FIELDS = (
    Field("name", "Warehouse", required=True, kind="select", choices="warehouses"),
    Field("size", "Size", SIZE_FIELD.help, kind="select", choices="sizes"),
    Field("auto_suspend", "Auto-suspend (seconds)", kind="int"),
    Field("resource_monitor", "Resource monitor", "A credit budget from resource_monitor.yaml.", kind="select",
          choices="resource_monitors"),
    JUSTIFICATION,
)


def current(base: Snapshot, name: str) -> dict:
    wh = entry(base, base.file("warehouse"), name) or {}
    return {"size": str(wh.get("size") or "").upper().replace("-", ""), "auto_suspend": wh.get("auto_suspend", 60),
            "resource_monitor": str(wh.get("resource_monitor") or "").upper() or None}


def parse_change(raw: dict[str, Any], base: Snapshot) -> ChangeWarehouseRequest:
    c = Collector()
    name = existing(c, "name", raw.get("name"), base.config.warehouses, "a warehouse", base)
    new_size = size(c, "size", raw.get("size"), required=False)
    suspend = integer(c, "auto_suspend", raw.get("auto_suspend"), 60, MAX_AUTO_SUSPEND)
    monitor = None
    if raw.get("resource_monitor"):
        monitor = existing(c, "resource_monitor", raw.get("resource_monitor"), base.config.resource_monitors, "a resource monitor")
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, CHANGE_FIELDS)
    old_size = old_suspend = old_monitor = None
    clusters = 1
    if name and not c.errors:
        wh = entry(base, base.file("warehouse"), name) or {}
        now = current(base, name)
        old_size = now["size"] if now["size"] in CREDITS_PER_HOUR else None
        old_suspend = now["auto_suspend"] if isinstance(now["auto_suspend"], int) else None
        clusters = count if isinstance(count := wh.get("max_cluster_count"), int) else 1
        if new_size == old_size:
            new_size = None
        if suspend == old_suspend:
            suspend = None
        old_monitor = now["resource_monitor"]
        if monitor == old_monitor:
            monitor = None
        if new_size is None and suspend is None and monitor is None:
            c.add("size", f"nothing to change: {name} already has this size, auto-suspend and resource monitor.")
    c.raise_if_any()
    return ChangeWarehouseRequest(checked(name), checked(why), new_size, suspend, old_size, old_suspend, clusters, monitor, old_monitor)


def credits_difference(old: str | None, new: str | None, clusters: int = 1) -> str:
    """How a resize changes the hourly rate, e.g. 'Small (2 credit(s)/hour) -> Medium (4 ...): +2 credits per running hour'."""
    if not new or not old:
        return f"size {credits_note(new)}" if new else ""
    delta = CREDITS_PER_HOUR[new] - CREDITS_PER_HOUR[old]
    line = f"{credits_note(old)} -> {credits_note(new)}: {delta:+d} credit(s) per running hour per cluster"
    if clusters > 1:
        line += f" (up to {delta * clusters:+d} with {clusters} clusters)"
    return line


def build_change(base: Snapshot, req: ChangeWarehouseRequest) -> ChangeSet:
    values: dict[str, Any] = {}
    notes = []
    if req.size:
        values["size"] = req.size
        notes.append(credits_difference(req.old_size, req.size, req.clusters))
    if req.auto_suspend is not None:
        values["auto_suspend"] = req.auto_suspend
        notes.append(f"auto-suspend {req.old_auto_suspend if req.old_auto_suspend is not None else 'default'} s -> {req.auto_suspend} s")
    if req.resource_monitor:
        values["resource_monitor"] = written(base, "resource_monitor", req.resource_monitor)
        notes.append(f"resource monitor {req.old_resource_monitor or 'none'} -> {req.resource_monitor}")
    rel = base.file("warehouse")
    first = "size" if req.size else "auto_suspend" if req.auto_suspend is not None else "resource_monitor"
    text = edit(first, rel, set_fields, base.text(rel) or "", req.name, values)
    what = ("Resize" if req.size else "Change auto-suspend of" if req.auto_suspend is not None
            else "Set the resource monitor of")
    return ChangeSet(f"{what} warehouse {req.name}" + (f" to {SIZE_LABELS[req.size]}" if req.size else ""),
                     {rel: text}, f"{req.name}: " + "; ".join(notes) + "." + duplicate_note(base, rel, req.name))


def _change_to_dict(req: ChangeWarehouseRequest) -> dict:
    out: dict[str, Any] = {"name": req.name}
    if req.size:
        out["size"] = req.size
    if req.auto_suspend is not None:
        out["auto_suspend"] = req.auto_suspend
    if req.resource_monitor:
        out["resource_monitor"] = req.resource_monitor
    out["justification"] = req.justification
    return out


CHANGE_WAREHOUSE: Recipe[ChangeWarehouseRequest] = Recipe(
    "change-warehouse", "Resize a warehouse", CHANGE_FIELDS, parse_change, build_change, _change_to_dict,
    current=current, description="Resize a warehouse, change its auto-suspend or its resource monitor (see the credits difference)",
    page="change_warehouse", touches=(WAREHOUSE_FILE,),
)


# -- remove -------------------------------------------------------------------------------------

# How SnowDDL applies it: its warehouse resolver drops a warehouse the config no longer has through
# engine.execute_unsafe_ddl, which runs only under `snowddl apply --apply-unsafe` and otherwise only suggests the
# statement (snowddl/resolver/warehouse.py drop_object, snowddl/engine.py); the warehouse-role resolver drops its
# <NAME>__USAGE__W_ROLE and __MONITOR__W_ROLE alike. SnowTower's deployment passes --apply-unsafe only for a change
# that passed the unsafe gate (app/jobs/deploy.py: label apply-unsafe and an approval by someone else).
REMOVE_NOTE = ("SnowDDL drops a warehouse that is no longer in the config (DROP WAREHOUSE, and its two warehouse roles "
               "<NAME>__USAGE__W_ROLE and __MONITOR__W_ROLE): unsafe actions it runs only with --apply-unsafe, which "
               "the deployment passes only once the change passed the unsafe gate (label apply-unsafe and an "
               "approval); until then the drop waits and the warehouse stays. A dropped warehouse cannot be undropped.")
MAX_REFERENCES_SHOWN = 10


@dataclass(frozen=True)
class RemoveWarehouseRequest:
    name: str
    justification: str


REMOVE_FIELDS = (
    Field("name", "Warehouse", "It must be used by nobody in the config: no user's default_warehouse, no role's grant.",
          required=True, kind="select", choices="warehouses"),
    JUSTIFICATION,
)


def parse_remove(raw: dict[str, Any], base: Snapshot) -> RemoveWarehouseRequest:
    from core.snowddl.inventory import warehouse_references

    c = Collector()
    name = existing(c, "name", raw.get("name"), base.config.warehouses, "a warehouse", base)
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, REMOVE_FIELDS)
    if name and not c.errors:
        # Why: SnowDDL refuses a config whose user or role names a warehouse it does not define; removing a
        # warehouse still in use would break the whole config, so what uses it goes first (its own request).
        refs = warehouse_references(base.config, name)
        if refs:
            shown = "; ".join(refs[:MAX_REFERENCES_SHOWN]) + (f"; and {len(refs) - MAX_REFERENCES_SHOWN} more"
                                                              if len(refs) > MAX_REFERENCES_SHOWN else "")
            c.add("name", f"{name} is still used in the config: {shown}. Move those to another warehouse first.")
    c.raise_if_any()
    return RemoveWarehouseRequest(checked(name), checked(why))


def build_remove(base: Snapshot, req: RemoveWarehouseRequest) -> ChangeSet:
    from core.snowddl.edit import remove_entry

    rel = base.file("warehouse")
    text = edit("name", rel, remove_entry, base.text(rel) or "", req.name)
    now = current(base, req.name)
    size_text = credits_note(now["size"]) if now["size"] in CREDITS_PER_HOUR else "unknown size"
    return ChangeSet(f"Remove warehouse {req.name}", {rel: text},
                     f"Removes warehouse {req.name} ({size_text}) from the config. {REMOVE_NOTE}"
                     + duplicate_note(base, rel, req.name))


REMOVE_WAREHOUSE: Recipe[RemoveWarehouseRequest] = Recipe(
    "remove-warehouse", "Remove a warehouse", REMOVE_FIELDS, parse_remove, build_remove, asdict,
    description="Remove a warehouse nobody uses from the config (SnowDDL drops it with --apply-unsafe)",
    page="remove_warehouse", touches=(WAREHOUSE_FILE,),
    intro="Pick a warehouse that no user's default_warehouse and no role's grant names (the form refuses one that is still "
          "used). The preview shows what it cost in its last 30 days of metering, the saving, and that SnowDDL drops it "
          "only with --apply-unsafe.",
    outside=("name",),
)
