"""Risk flags of warehouses: warehouse_size (added or resized above a threshold size), warehouse_clusters
and warehouse_type (the cost multipliers: more clusters, Snowpark-optimized) and warehouse_removed; and
Snowflake's sizes in order (SIZES, size_rank)."""
from __future__ import annotations

from snowddl.blueprint import WarehouseBlueprint

from core.risk.flags import RiskFlag
from core.risk.places import _blueprints, _Places


# Snowflake's warehouse sizes, smallest first, under every spelling SnowDDL and Snowflake accept.
SIZES = ("XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE", "XXLARGE", "XXXLARGE", "X4LARGE", "X5LARGE", "X6LARGE")
_SIZE_ALIASES = {"X2LARGE": "XXLARGE", "2XLARGE": "XXLARGE", "X3LARGE": "XXXLARGE", "3XLARGE": "XXXLARGE",
                 "4XLARGE": "X4LARGE", "5XLARGE": "X5LARGE", "6XLARGE": "X6LARGE"}


def size_rank(size: str) -> int:
    """The rank of a warehouse size in SIZES ("X-Large", "xlarge", "2X-Large" all accepted); ValueError
    naming the sizes for anything else."""
    key = str(size or "").upper().replace("-", "").replace("_", "")
    key = _SIZE_ALIASES.get(key, key)
    if key not in SIZES:
        raise ValueError(f"unknown warehouse size {size!r}: one of {', '.join(SIZES)}")
    return SIZES.index(key)


def _warehouse_flags(base, head, places: _Places, threshold: str) -> list[RiskFlag]:
    limit = size_rank(threshold)
    old = _blueprints(base, WarehouseBlueprint)
    out = []
    for name, bp in _blueprints(head, WarehouseBlueprint).items():
        if not bp.size:
            continue
        before = old.get(name)
        try:
            rank = size_rank(bp.size)
        except ValueError:  # a size SnowDDL accepted but this list does not know: said, never skipped
            rank = len(SIZES)
        if rank > limit and (before is None or before.size != bp.size):
            entry = places.name(bp.full_name)
            rel, line, text = places.at("warehouse", entry, ["size"])
            out.append(RiskFlag("warehouse_size", "medium",
                                f"warehouse {entry} is {bp.size}, above the {threshold.upper()} threshold", rel, line, text))
    return out + _warehouse_multiplier_flags(old, head, places)


# Why: a warehouse's credits per hour are its size's rate times the clusters running, and 1.5 times that
# for a Snowpark-optimized warehouse (Snowflake's credit table): a small size can still cost a lot.
SNOWPARK_OPTIMIZED = "SNOWPARK-OPTIMIZED"


def _warehouse_removed_flags(base, head, base_places: _Places) -> list[RiskFlag]:
    new = _blueprints(head, WarehouseBlueprint)
    out = []
    for name, bp in _blueprints(base, WarehouseBlueprint).items():
        if name not in new:
            entry = base_places.name(bp.full_name)
            rel, line, text = base_places.at("warehouse", entry)
            out.append(RiskFlag("warehouse_removed", "high",
                                f"removes warehouse {entry}: SnowDDL drops it (an unsafe action, applied only with "
                                "--apply-unsafe); a dropped warehouse cannot be undropped", rel, line, text))
    return out


def _warehouse_multiplier_flags(old: dict, head, places: _Places) -> list[RiskFlag]:
    """Warehouses whose cost multipliers go up: more clusters allowed (max_cluster_count above 1, or
    raised), or a new Snowpark-optimized type; each on the line of its key."""
    out = []
    for name, bp in _blueprints(head, WarehouseBlueprint).items():
        before = old.get(name)
        entry = places.name(bp.full_name)
        clusters = int(bp.max_cluster_count or 1)
        if clusters > 1 and clusters > int(getattr(before, "max_cluster_count", 1) or 1):
            rel, line, text = places.at("warehouse", entry, ["max_cluster_count"])
            out.append(RiskFlag("warehouse_clusters", "medium",
                                f"warehouse {entry} may run {clusters} clusters at once: up to {clusters} times the "
                                f"credits of one", rel, line, text))
        kind = str(bp.type or "").upper()
        if kind == SNOWPARK_OPTIMIZED and str(getattr(before, "type", "") or "").upper() != kind:
            rel, line, text = places.at("warehouse", entry, ["type"])
            out.append(RiskFlag("warehouse_type", "medium",
                                f"warehouse {entry} is Snowpark-optimized: 1.5 times the credits of a standard "
                                f"warehouse of its size", rel, line, text))
    return out
