"""The baseline: the account as SnowDDL would leave it after applying a config, as SHOW / DESC rows.

`Baseline.from_config(config, previous=None)` derives it with SnowDDL's own resolvers (roles carry
exactly the grants SnowDDL derives; with `previous`, roles whose sources and look-ups did not change are
the previous baseline's very objects, see core.snowddl.skip_unchanged). Rows are in Snowflake's own
shapes (owner = the admin role, booleans as "true", sizes as "X-Small", trigger lists as "80%,100%",
quoted grant names); `Baseline.answer(sql, engine)` answers the offline engine's read queries from them
and raises core.snowddl.offline_engine.OfflineQueryError for any other query.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from snowddl.blueprint import ObjectType
from snowddl.config import SnowDDLConfig
from snowddl.resolver import (
    DatabaseResolver,
    NetworkPolicyResolver,
    ResourceMonitorResolver,
    SchemaResolver,
    UserResolver,
    WarehouseResolver,
)

from core.snowddl.offline_engine import ADMIN_ROLE, OFFLINE_RESOLVERS, _ROLE_RESOLVERS, OfflineEngine, OfflineQueryError
from core.snowddl.skip_unchanged import _derivations, changes_since

if TYPE_CHECKING:
    from core.snowddl.baseline_cache import Sources

_SIZES = {"XSMALL": "X-Small", "SMALL": "Small", "MEDIUM": "Medium", "LARGE": "Large", "XLARGE": "X-Large",
          "XXLARGE": "2X-Large", "X2LARGE": "2X-Large", "XXXLARGE": "3X-Large", "X3LARGE": "3X-Large",
          "X4LARGE": "4X-Large", "X5LARGE": "5X-Large", "X6LARGE": "6X-Large"}


# -- the baseline: the base config as SHOW / DESC rows -----------------------------------------------

def _q(ident) -> str:
    return f'"{str(ident)}"'


def _unquote(text: str) -> str:
    return ".".join(p.replace('""', '"') for p in re.findall(r'"((?:[^"]|"")*)"', text)) or text


def _like(literal: str) -> re.Pattern:
    """A Snowflake LIKE literal as SnowDDL's formatter writes it ('...' with \\\\_ escapes) -> regex."""
    text = literal.replace("''", "'").replace("\\\\", "\\")
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(re.escape(text[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def _b(value) -> str:
    return "true" if value else "false"


def _param_rows(params: dict, level: str) -> list[dict]:
    rows = []
    for key, value in params.items():
        kind = "BOOLEAN" if isinstance(value, bool) else "NUMBER" if isinstance(value, int) else "STRING"
        rows.append({"key": key, "value": _b(value) if isinstance(value, bool) else str(value), "level": level, "type": kind})
    return rows


_DB_PARAMS = {"external_volume": "EXTERNAL_VOLUME", "catalog": "CATALOG", "catalog_sync": "CATALOG_SYNC",
              "log_level": "LOG_LEVEL", "log_event_level": "LOG_EVENT_LEVEL", "metric_level": "METRIC_LEVEL",
              "trace_level": "TRACE_LEVEL", "quoted_identifiers_ignore_case": "QUOTED_IDENTIFIERS_IGNORE_CASE",
              "event_table": "EVENT_TABLE"}


def _object_params(bp, level: str) -> list[dict]:
    params = {}
    for attr, key in _DB_PARAMS.items():
        value = getattr(bp, attr, None)
        if value is not None:
            params[key] = value if isinstance(value, bool) else str(value)
    return _param_rows(params, level)


@dataclass
class Baseline:
    """The deployed state an offline plan compares against (empty: a fresh account)."""

    monitors: list[dict] = field(default_factory=list)
    warehouses: list[dict] = field(default_factory=list)
    warehouse_params: dict[str, list[dict]] = field(default_factory=dict)
    databases: list[dict] = field(default_factory=list)
    database_params: dict[str, list[dict]] = field(default_factory=dict)
    schemas: dict[str, list[dict]] = field(default_factory=dict)
    schema_params: dict[str, list[dict]] = field(default_factory=dict)
    roles: list[dict] = field(default_factory=list)
    role_grants: dict[str, list[dict]] = field(default_factory=dict)
    role_future_grants: dict[str, list[dict]] = field(default_factory=dict)
    users: list[dict] = field(default_factory=list)
    user_desc: dict[str, list[dict]] = field(default_factory=dict)
    user_grants: dict[str, list[dict]] = field(default_factory=dict)
    user_params: dict[str, list[dict]] = field(default_factory=dict)
    network_policies: list[dict] = field(default_factory=list)
    network_policy_desc: dict[str, list[dict]] = field(default_factory=dict)
    policy_refs: dict[str, list[dict]] = field(default_factory=dict)
    # Each resolver's blueprints of the base config (resolver class name -> full name -> blueprint).
    blueprints: dict[str, dict] = field(default_factory=dict, repr=False)
    # Every role the resolvers derived from one config blueprint, with the lookups it made (see
    # _derivations): (resolver, method, source name) -> (source blueprint, lookups, derived blueprint).
    derived: dict[tuple, tuple] = field(default_factory=dict, repr=False)
    # The config this baseline was built from (its blueprints are what `derived` was derived from).
    config: SnowDDLConfig | None = field(default=None, repr=False, compare=False)
    # A baseline read back from the workspace cache has no config, only its blueprints' fingerprints
    # (baseline_cache.Sources); it is only a `previous` for from_config, never planned against itself.
    kept: "Sources | None" = field(default=None, repr=False, compare=False)

    @classmethod
    def from_config(cls, config: SnowDDLConfig, previous: "Baseline | None" = None) -> "Baseline":
        """The account as SnowDDL would leave it after applying `config` (owner: its admin role).

        With `previous` (the baseline of an earlier config, such as the previous commit's), only the
        roles whose source blueprint or whose lookups changed are derived again; the others are the
        previous baseline's very objects. The result is the same as without it."""
        state = cls(config=config)
        engine = OfflineEngine(config, state)  # an empty account: only used to derive blueprints
        memo = previous.derived if previous is not None else {}
        engine.derivations = (memo, changes_since(previous, config), state.derived)
        for resolver_cls in OFFLINE_RESOLVERS:
            state.blueprints[resolver_cls.__name__] = _derivations(resolver_cls(engine)).get_blueprints()
        for bp in ResourceMonitorResolver(engine).get_blueprints().values():
            at = {a: ",".join(f"{p}%" for p, x in sorted(bp.triggers.items()) if x == a) or None
                  for a in ("NOTIFY", "SUSPEND", "SUSPEND_IMMEDIATE")}
            state.monitors.append({
                "name": str(bp.full_name), "owner": None, "credit_quota": f"{bp.credit_quota}.00", "frequency": bp.frequency,
                "notify_at": at["NOTIFY"], "suspend_at": at["SUSPEND"], "suspend_immediately_at": at["SUSPEND_IMMEDIATE"],
                "comment": bp.comment or "",
            })
        for bp in WarehouseResolver(engine).get_blueprints().values():
            size = (bp.size or "").upper().replace("-", "")
            state.warehouses.append({
                "name": str(bp.full_name), "owner": None, "state": "SUSPENDED", "type": bp.type,
                "size": _SIZES.get(size, bp.size), "generation": bp.generation or "",
                "min_cluster_count": bp.min_cluster_count, "max_cluster_count": bp.max_cluster_count,
                "scaling_policy": bp.scaling_policy, "auto_suspend": bp.auto_suspend,
                "resource_monitor": str(bp.resource_monitor) if bp.resource_monitor else "null",
                "enable_query_acceleration": _b(bp.enable_query_acceleration),
                "query_acceleration_max_scale_factor": bp.query_acceleration_max_scale_factor,
                "max_query_performance_level": bp.max_query_performance_level,
                "query_throughput_multiplier": bp.query_throughput_multiplier,
                "resource_constraint": bp.resource_constraint, "comment": bp.comment or "",
            })
            state.warehouse_params[str(bp.full_name)] = _param_rows(bp.warehouse_params, "WAREHOUSE")
        for bp in DatabaseResolver(engine).get_blueprints().values():
            name = str(bp.full_name)
            state.databases.append({
                "name": name, "owner": None, "kind": "STANDARD", "comment": bp.comment or "",
                "options": "TRANSIENT" if bp.is_transient else "",
                "retention_time": str(bp.retention_time if bp.retention_time is not None else 1),
            })
            state.database_params[name] = _object_params(bp, "DATABASE")
            state.schemas.setdefault(name, [])
        for bp in SchemaResolver(engine).get_blueprints().values():
            db, schema = str(bp.full_name.database_full_name), str(bp.full_name.schema)
            options = ", ".join(o for o, on in (("TRANSIENT", bp.is_transient), ("MANAGED ACCESS", getattr(bp, "is_managed_access", False))) if on)
            state.schemas.setdefault(db, []).append({
                "name": schema, "database_name": db, "owner": None, "comment": bp.comment or "", "options": options,
                "retention_time": str(bp.retention_time if bp.retention_time is not None else 1),
            })
            state.schema_params[f"{db}.{schema}"] = _object_params(bp, "SCHEMA")
        old_roles = {row["name"]: row for row in previous.roles} if previous is not None else {}
        for resolver_cls in _ROLE_RESOLVERS:
            kept = previous.blueprints.get(resolver_cls.__name__, {}) if previous is not None else {}
            for name, bp in state.blueprints[resolver_cls.__name__].items():
                if previous is not None and kept.get(name) is bp and name in old_roles:  # the previous baseline's very role: its rows
                    state.roles.append(old_roles[name])
                    state.role_grants[name] = previous.role_grants[name]
                    state.role_future_grants[name] = previous.role_future_grants[name]
                    continue
                name = str(bp.full_name)
                state.roles.append({"name": name, "owner": None, "comment": getattr(bp, "comment", None) or ""})
                grants = [{"privilege": g.privilege, "granted_on": g.on.name, "name": str(g.name)} for g in bp.grants]
                grants += [{"privilege": g.privilege, "granted_on": "ACCOUNT", "name": "ACCOUNT"} for g in bp.account_grants]
                state.role_grants[name] = grants
                state.role_future_grants[name] = [
                    {"privilege": g.privilege, "grant_on": g.on_future.name, "name": f"{g.name}.<{g.on_future.name}>"}
                    for g in bp.future_grants
                ]
        user_resolver = UserResolver(engine)
        for bp in user_resolver.get_blueprints().values():
            name = str(bp.full_name)
            state.users.append({
                "name": name, "owner": None, "login_name": bp.login_name, "display_name": bp.display_name,
                "first_name": bp.first_name, "last_name": bp.last_name, "email": bp.email, "disabled": _b(bp.disabled),
                "default_warehouse": str(bp.default_warehouse) if bp.default_warehouse else None,
                "default_namespace": str(bp.default_namespace) if bp.default_namespace else None,
                "default_role": str(user_resolver._get_user_role_ident(bp)), "type": bp.type or "PERSON",
                "has_password": _b(bp.password), "has_rsa_public_key": _b(bp.rsa_public_key or bp.rsa_public_key_2),
                "has_mfa": "false", "has_pat": "false", "has_workload_identity": _b(bp.workload_identity), "comment": bp.comment,
            })
            state.user_desc[name] = [
                {"property": "RSA_PUBLIC_KEY", "value": bp.rsa_public_key or "null"},
                {"property": "RSA_PUBLIC_KEY_2", "value": bp.rsa_public_key_2 or "null"},
            ]
            state.user_grants[name] = [{"role": str(user_resolver._get_user_role_ident(bp)), "granted_to": "USER", "grantee_name": name}]
            state.user_params[name] = _param_rows(bp.session_params, "USER")
        for bp in NetworkPolicyResolver(engine).get_blueprints().values():
            name = str(bp.full_name)
            state.network_policies.append({"name": name, "comment": bp.comment or ""})
            desc = []
            if bp.allowed_ip_list:
                desc.append({"name": "ALLOWED_IP_LIST", "value": ",".join(bp.allowed_ip_list)})
            if bp.blocked_ip_list:
                desc.append({"name": "BLOCKED_IP_LIST", "value": ",".join(bp.blocked_ip_list)})
            for key, rules in (("ALLOWED_NETWORK_RULE_LIST", bp.allowed_network_rule_list),
                               ("BLOCKED_NETWORK_RULE_LIST", bp.blocked_network_rule_list)):
                if rules:
                    desc.append({"name": key, "value": json.dumps([{"fullyQualifiedRuleName": str(r)} for r in rules])})
            state.network_policy_desc[name] = desc
            state.policy_refs[name] = [
                {"REF_ENTITY_DOMAIN": ref.object_type.name,
                 "REF_ENTITY_NAME": "" if ref.object_type == ObjectType.ACCOUNT else str(ref.object_name)}
                for ref in bp.references
            ]
        return state

    _DERIVED_FIELDS = ("blueprints", "derived", "config", "kept")

    def rows(self) -> dict[str, list | dict]:
        """The SHOW / DESC rows this baseline answers with (field -> rows), JSON-compatible."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in self._DERIVED_FIELDS}

    def _imported(self, database: str) -> list[dict]:
        """SHOW GRANTS ON DATABASE <share>: SnowDDL reads a share role's IMPORTED PRIVILEGES as USAGE here."""
        return [{"privilege": "USAGE", "granted_to": "ROLE", "grantee_name": role}
                for role, grants in self.role_grants.items()
                if any(g["privilege"] == "IMPORTED PRIVILEGES" and _unquote(g["name"]) == database for g in grants)]

    # Every read query SnowDDL's covered resolvers make, answered from the state.
    def answer(self, sql: str, engine) -> list[dict]:
        sql = " ".join(sql.split())
        owner = engine.context.current_role if hasattr(engine, "context") else ADMIN_ROLE

        def owned(rows):
            return [dict(r, owner=owner) if "owner" in r else dict(r) for r in rows]

        def like(rows):
            m = re.search(r" LIKE '((?:[^']|'')*)'", sql)
            pattern = _like(m.group(1)) if m else None
            hidden = getattr(engine, "set_aside", None) or ()  # unchanged objects the plan sets aside
            return owned([r for r in rows if r["name"] not in hidden and (pattern is None or pattern.match(r["name"]))])

        if sql.startswith("SELECT CURRENT_ACCOUNT()"):
            return [{
                "CURRENT_ACCOUNT": "OFFLINE", "CURRENT_REGION": "OFFLINE", "CURRENT_SESSION": "0", "CURRENT_USER": "SNOWTOWER",
                "CURRENT_ROLE": ADMIN_ROLE, "CURRENT_WAREHOUSE": None, "IS_ACCOUNT_ADMIN": True, "IS_SYS_ADMIN": True,
                "IS_SECURITY_ADMIN": True,
                "BOOTSTRAP_ACCOUNT": json.dumps({"serverVersion": "offline", "accountInfo": {"serviceLevelName": "ENTERPRISE"}}),
                "ACTIVE_BUNDLES": "[]",
            }]
        if not hasattr(engine, "context"):  # the env-prefix role lookup during engine start-up
            return [{"name": "role with prefix"}]
        rules = [
            (r"USE ROLE ", lambda m: []),
            (r"SHOW RESOURCE MONITORS LIKE", lambda m: like(self.monitors)),
            (r"SHOW WAREHOUSES LIKE", lambda m: like(self.warehouses)),
            (r"SHOW PARAMETERS IN WAREHOUSE (.+)", lambda m: self.warehouse_params.get(_unquote(m.group(1)), [])),
            (r"SHOW DATABASES LIKE", lambda m: like(self.databases)),
            (r"SHOW SCHEMAS IN DATABASE (.+)", lambda m: owned(self.schemas.get(_unquote(m.group(1)), []))),
            (r"SHOW PARAMETERS IN DATABASE (.+)", lambda m: self.database_params.get(_unquote(m.group(1)), [])),
            (r"SHOW PARAMETERS IN SCHEMA (.+)", lambda m: self.schema_params.get(_unquote(m.group(1)), [])),
            (r"SHOW ROLES LIKE", lambda m: like(self.roles)),
            (r"SHOW GRANTS TO ROLE (.+)", lambda m: self.role_grants.get(_unquote(m.group(1)), [])),
            (r"SHOW GRANTS ON DATABASE (.+)", lambda m: self._imported(_unquote(m.group(1)))),
            (r"SHOW FUTURE GRANTS TO ROLE (.+)", lambda m: self.role_future_grants.get(_unquote(m.group(1)), [])),
            (r"SHOW USERS LIKE", lambda m: like(self.users)),
            (r"DESC USER (.+)", lambda m: self.user_desc.get(_unquote(m.group(1)), [])),
            (r"SHOW GRANTS TO USER (.+)", lambda m: self.user_grants.get(_unquote(m.group(1)), [])),
            (r"SHOW PARAMETERS IN USER (.+)", lambda m: self.user_params.get(_unquote(m.group(1)), [])),
            (r"SHOW NETWORK POLICIES LIKE", lambda m: like(self.network_policies)),
            (r"SHOW GRANTS ON NETWORK POLICY (.+)", lambda m: [{"privilege": "OWNERSHIP", "grantee_name": owner}]),
            (r"DESC NETWORK POLICY (.+)", lambda m: self.network_policy_desc.get(_unquote(m.group(1)), [])),
            (r"SELECT \* FROM TABLE\(snowflake\.information_schema\.policy_references\(policy_name => '((?:[^']|'')*)'",
             lambda m: self.policy_refs.get(m.group(1).replace("''", "'").strip('"'), [])),
        ]
        for pattern, rows in rules:
            m = re.match(pattern, sql)
            if m:
                return [dict(r) for r in rows(m)]
        raise OfflineQueryError(f"the offline plan has no baseline for: {sql}")
