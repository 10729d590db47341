"""The remove-warehouse recipe: a warehouse nobody in the config uses leaves it (SnowDDL drops it with
--apply-unsafe)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import fields
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import ChangeSet, Collector, Recipe, checked, form
from recipes.common import (CREDITS_PER_HOUR, JUSTIFICATION, WAREHOUSE_FILE, credits_note, current_warehouse,
                            duplicate_note, edit, existing, refuse_unknown)


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
    name: str = form("Warehouse", "It must be used by nobody in the config: no user's default_warehouse, no role's grant.",
        required=True, kind="select", choices="warehouses")
    justification: str = JUSTIFICATION


def parse_remove(raw: dict[str, Any], base: Snapshot) -> RemoveWarehouseRequest:
    from core.snowddl.inventory import warehouse_references

    c = Collector()
    name = existing(c, "name", raw.get("name"), base.config.warehouses, "a warehouse", base)
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, REMOVE_WAREHOUSE.fields)
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
    now = current_warehouse(base, req.name)
    size_text = credits_note(now["size"]) if now["size"] in CREDITS_PER_HOUR else "unknown size"
    return ChangeSet(f"Remove warehouse {req.name}", {rel: text},
                     f"Removes warehouse {req.name} ({size_text}) from the config. {REMOVE_NOTE}"
                     + duplicate_note(base, rel, req.name))


REMOVE_WAREHOUSE: Recipe[RemoveWarehouseRequest] = Recipe(
    "remove-warehouse", "Remove a warehouse", RemoveWarehouseRequest, parse_remove, build_remove,
    description="Remove a warehouse nobody uses from the config (SnowDDL drops it with --apply-unsafe)",
    page="remove_warehouse", touches=(WAREHOUSE_FILE,),
    intro="Pick a warehouse that no user's default_warehouse and no role's grant names (the form refuses one that is still "
          "used). The preview shows what it cost in its last 30 days of metering, the saving, and that SnowDDL drops it "
          "only with --apply-unsafe.",
    outside=("name",),
)
