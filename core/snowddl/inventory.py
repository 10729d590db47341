"""What a SnowDDL config holds, as plain rows: its users, warehouses, resource monitors, databases
and business roles. The cost and infrastructure pages and the cost projection of a warehouse request
read it; it needs SnowDDL's blueprints only (nothing of the demo's stand-in, so it runs in Streamlit
in Snowflake, where duckdb is not installed)."""
from __future__ import annotations

import functools

from snowddl.blueprint import (BusinessRoleBlueprint, DatabaseBlueprint, ResourceMonitorBlueprint, TechnicalRoleBlueprint,
                               UserBlueprint, WarehouseBlueprint)
from snowddl.blueprint.ident import AbstractIdentWithPrefix


def _name(ident) -> str:
    return str(ident) if ident is not None else ""


def describe(config) -> dict:
    """The rows of a config (core.snowddl.config_loader.LoadedConfig whose `snowddl` is parsed):
    {"users": [{name, type, email, display_name, first_name, last_name, disabled, has_key, has_password,
    warehouse, roles}], "warehouses": [{name, size (XSMALL ...), auto_suspend (seconds or None),
    max_clusters, monitor, used_by (warehouse_references), config_name (the name without the env prefix, as the
    YAML and a recipe's fields spell it)}], "monitors": [{name, credit_quota (credits), frequency}], "databases": [name],
    "business_roles": [name]}; names as SnowDDL spells them with the env prefix, sorted by name.
    A config SnowDDL could not parse (`snowddl` None) holds nothing."""
    s = config.snowddl
    if s is None:
        return {"users": [], "warehouses": [], "monitors": [], "databases": [], "business_roles": []}
    users = []
    for bp in s.get_blueprints_by_type(UserBlueprint).values():
        users.append({"name": _name(bp.full_name), "type": (bp.type or "PERSON").upper(), "email": bp.email,
                      "display_name": bp.display_name, "first_name": bp.first_name, "last_name": bp.last_name,
                      "disabled": bool(bp.disabled), "has_key": bool(bp.rsa_public_key),
                      "has_password": bool(bp.password), "warehouse": _name(bp.default_warehouse),
                      "roles": [_name(r) for r in bp.business_roles]})
    warehouses = []
    prefix = str(getattr(s, "env_prefix", "") or "").upper()
    for bp in s.get_blueprints_by_type(WarehouseBlueprint).values():
        warehouses.append({"name": _name(bp.full_name), "config_name": _name(bp.full_name).removeprefix(prefix),
                           "size": str(bp.size or "XSMALL").upper(),
                           "auto_suspend": bp.auto_suspend, "max_clusters": bp.max_cluster_count,
                           "monitor": _name(bp.resource_monitor),
                           "used_by": warehouse_references(config, _name(bp.full_name))})
    monitors = [{"name": _name(bp.full_name), "credit_quota": bp.credit_quota, "frequency": bp.frequency.upper()}
                for bp in s.get_blueprints_by_type(ResourceMonitorBlueprint).values()]
    databases = [_name(bp.full_name) for bp in s.get_blueprints_by_type(DatabaseBlueprint).values()]
    roles = [_name(bp.full_name) for bp in s.get_blueprints_by_type(BusinessRoleBlueprint).values()]
    return {"users": sorted(users, key=lambda u: u["name"]), "warehouses": sorted(warehouses, key=lambda w: w["name"]),
            "monitors": monitors, "databases": sorted(databases), "business_roles": sorted(roles)}


@functools.cache
def _warehouse_fields(cls) -> tuple[str, ...]:
    """The fields of a blueprint class that may name a warehouse (`warehouse`, `owner_warehouse_usage` ...)."""
    return tuple(k for k in getattr(cls, "model_fields", {}) if "warehouse" in k)


def warehouse_references(config, name: str) -> list[str]:
    """What in a config (LoadedConfig, SnowDDL's parsed blueprints) still names warehouse `name` (as SnowDDL spells it,
    env prefix included), one phrase each, sorted: "user PRAMAN (default_warehouse)", "business role ANALYST__B_ROLE
    (warehouse_usage)", "technical role X__T_ROLE (grant USAGE on WAREHOUSE <pattern>)", and any other blueprint with a
    warehouse field, single or a list (a task's or dynamic table's `warehouse`, a database's or schema's
    `owner_warehouse_usage` ...). [] when nothing does or the config was not parsed.

    `name` may also be given as LoadedConfig.warehouses lists it, without the env prefix (what a recipe's field
    holds): when the config has an env prefix and <prefix><name> is one of its warehouses, that one is meant.

    Technical-role grant patterns are matched the way SnowDDL's resolver matches them (IdentPattern.is_match_ident on
    the warehouse's blueprint: the name without the env prefix; '|' joins sub-patterns, '!' excludes)."""
    s = config.snowddl
    if s is None:
        return []
    want = str(name).upper()
    prefix = str(getattr(s, "env_prefix", "") or "").upper()
    if prefix and any(_name(bp.full_name).upper() == prefix + want for bp in s.get_blueprints_by_type(WarehouseBlueprint).values()):
        want = prefix + want
    out = []
    for bp in s.get_blueprints_by_type(UserBlueprint).values():
        if _name(bp.default_warehouse).upper() == want:
            out.append(f"user {_name(bp.full_name)} (default_warehouse)")
    for bp in s.get_blueprints_by_type(BusinessRoleBlueprint).values():
        for key in ("warehouse_usage", "warehouse_monitor"):
            if any(_name(w).upper() == want for w in getattr(bp, key) or []):
                out.append(f"business role {_name(bp.full_name).removesuffix('__B_ROLE')} ({key})")
    idents = [bp.full_name for bp in s.get_blueprints_by_type(WarehouseBlueprint).values()
              if _name(bp.full_name).upper() == want]
    for bp in s.get_blueprints_by_type(TechnicalRoleBlueprint).values():
        for g in bp.grant_patterns or []:  # future grants are on schema objects, never warehouses
            if str(getattr(g.on, "name", g.on)).upper() == "WAREHOUSE" and any(g.pattern.is_match_ident(i) for i in idents):
                out.append(f"technical role {_name(bp.full_name).removesuffix('__T_ROLE')} (grant {g.privilege} on WAREHOUSE {g.pattern})")
    for cls, bps in s.blueprints.items():
        if cls in (UserBlueprint, BusinessRoleBlueprint, TechnicalRoleBlueprint, WarehouseBlueprint):
            continue
        kind = cls.__name__.removesuffix("Blueprint")
        keys = _warehouse_fields(cls)
        if not keys:
            continue
        for bp in bps.values():
            for key in keys:
                value = getattr(bp, key, None)
                # only identifiers: user_task_managed_initial_warehouse_size is a size word, not a name
                values = value if isinstance(value, (list, tuple)) else [value]
                if any(isinstance(v, AbstractIdentWithPrefix) and _name(v).upper() == want for v in values):
                    out.append(f"{kind} {_name(bp.full_name)} ({key})")
    return sorted(set(out))
