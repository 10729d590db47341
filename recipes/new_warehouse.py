"""The new-warehouse recipe: a warehouse for a workload, with size, auto-suspend and a budget."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import fields
from core.snowddl.edit import add_entry
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.common import (CREDITS_PER_HOUR, JUSTIFICATION, MAX_AUTO_SUSPEND, SIZE_FIELD, WAREHOUSE_FILE, credits_note,
                            edit, existing, integer, new_key, new_name, refuse_unknown, size, written)


@dataclass(frozen=True)
class NewWarehouseRequest:
    name: str = form("Warehouse name", "e.g. MARKETING_WH", required=True, placeholder="MARKETING_WH")
    size: str = SIZE_FIELD
    auto_suspend: int = form("Auto-suspend (seconds)", "Idle seconds before it suspends (60 or more).", required=True, kind="int",
        default=60)
    min_cluster_count: int | None = form("Min clusters", "Multi-cluster (Enterprise edition); leave empty for one.", kind="int")
    max_cluster_count: int | None = form("Max clusters", kind="int")
    resource_monitor: str | None = form("Resource monitor", "A credit budget from resource_monitor.yaml.", kind="select", choices="resource_monitors")
    comment: str | None = form("Comment", "Which workload runs here")
    justification: str = JUSTIFICATION


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
    refuse_unknown(c, raw, NEW_WAREHOUSE.fields)
    c.raise_if_any()
    return NewWarehouseRequest(name=checked(name), size=checked(wh_size), auto_suspend=checked(suspend), min_cluster_count=lo,
                               max_cluster_count=hi, resource_monitor=monitor, comment=comment, justification=checked(why))


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
    "new-warehouse", "New warehouse", NewWarehouseRequest, parse_new, build_new,
    description="A warehouse for a workload, with size, auto-suspend and a budget", page="warehouse", touches=(WAREHOUSE_FILE,),
    intro="A warehouse per workload keeps credits attributable. Size sets credits per hour (X-Small 1, Small 2, Medium 4, "
          "Large 8, X-Large 16, 2X-Large 32 ...); auto-suspend stops paying when idle.",
)
