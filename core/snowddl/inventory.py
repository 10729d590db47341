"""What a SnowDDL config holds, as plain rows: its users, warehouses, resource monitors, databases
and business roles. The cost and infrastructure pages and the cost projection of a warehouse request
read it; it needs SnowDDL's blueprints only (nothing of the demo's stand-in, so it runs in Streamlit
in Snowflake, where duckdb is not installed)."""
from __future__ import annotations

from snowddl.blueprint import (BusinessRoleBlueprint, DatabaseBlueprint, ResourceMonitorBlueprint, UserBlueprint,
                               WarehouseBlueprint)


def _name(ident) -> str:
    return str(ident) if ident is not None else ""


def describe(config) -> dict:
    """The rows of a config (core.snowddl.load.LoadedConfig whose `snowddl` is parsed):
    {"users": [{name, type, email, display_name, first_name, last_name, disabled, has_key, has_password,
    warehouse, roles}], "warehouses": [{name, size (XSMALL ...), auto_suspend (seconds or None),
    max_clusters, monitor}], "monitors": [{name, credit_quota (credits), frequency}], "databases": [name],
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
    for bp in s.get_blueprints_by_type(WarehouseBlueprint).values():
        warehouses.append({"name": _name(bp.full_name), "size": str(bp.size or "XSMALL").upper(),
                           "auto_suspend": bp.auto_suspend, "max_clusters": bp.max_cluster_count,
                           "monitor": _name(bp.resource_monitor)})
    monitors = [{"name": _name(bp.full_name), "credit_quota": bp.credit_quota, "frequency": bp.frequency.upper()}
                for bp in s.get_blueprints_by_type(ResourceMonitorBlueprint).values()]
    databases = [_name(bp.full_name) for bp in s.get_blueprints_by_type(DatabaseBlueprint).values()]
    roles = [_name(bp.full_name) for bp in s.get_blueprints_by_type(BusinessRoleBlueprint).values()]
    return {"users": sorted(users, key=lambda u: u["name"]), "warehouses": sorted(warehouses, key=lambda w: w["name"]),
            "monitors": monitors, "databases": sorted(databases), "business_roles": sorted(roles)}
