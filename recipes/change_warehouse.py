"""The change-warehouse recipe: resize a warehouse or change its auto-suspend or resource monitor (with the
credits-per-hour difference)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import fields
from core.snowddl.edit import set_fields
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.common import (CREDITS_PER_HOUR, JUSTIFICATION, MAX_AUTO_SUSPEND, SIZE_HELP, SIZE_LABELS, WAREHOUSE_FILE,
                            credits_note, current_warehouse, duplicate_note, edit, entry, existing, integer, refuse_unknown, size, written)


@dataclass(frozen=True)
class ChangeWarehouseRequest:
    name: str = form("Warehouse", required=True, kind="select", choices="warehouses")
    size: str | None = form("Size", SIZE_HELP, kind="select", choices="sizes")  # None: unchanged
    auto_suspend: int | None = form("Auto-suspend (seconds)", kind="int")
    # None: unchanged
    resource_monitor: str | None = form("Resource monitor", "A credit budget from resource_monitor.yaml.", kind="select",
        choices="resource_monitors")
    justification: str = JUSTIFICATION
    old_size: str | None = None
    old_auto_suspend: int | None = None
    clusters: int = 1
    old_resource_monitor: str | None = None


def parse_change(raw: dict[str, Any], base: Snapshot) -> ChangeWarehouseRequest:
    c = Collector()
    name = existing(c, "name", raw.get("name"), base.config.warehouses, "a warehouse", base)
    new_size = size(c, "size", raw.get("size"), required=False)
    suspend = integer(c, "auto_suspend", raw.get("auto_suspend"), 60, MAX_AUTO_SUSPEND)
    monitor = None
    if raw.get("resource_monitor"):
        monitor = existing(c, "resource_monitor", raw.get("resource_monitor"), base.config.resource_monitors, "a resource monitor")
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, CHANGE_WAREHOUSE.fields)
    old_size = old_suspend = old_monitor = None
    clusters = 1
    if name and not c.errors:
        wh = entry(base, base.file("warehouse"), name) or {}
        now = current_warehouse(base, name)
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
    return ChangeWarehouseRequest(name=checked(name), size=new_size, auto_suspend=suspend, resource_monitor=monitor,
                                  justification=checked(why), old_size=old_size, old_auto_suspend=old_suspend,
                                  clusters=clusters, old_resource_monitor=old_monitor)


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
    "change-warehouse", "Resize a warehouse", ChangeWarehouseRequest, parse_change, build_change, _change_to_dict,
    current=current_warehouse, description="Resize a warehouse, change its auto-suspend or its resource monitor (see the credits difference)",
    page="change_warehouse", touches=(WAREHOUSE_FILE,),
)
