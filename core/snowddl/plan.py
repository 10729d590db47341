"""What SnowDDL would run: offline (base config -> head config, no account) or live (account -> head).

Both run SnowDDL's own resolvers in plan mode through a SnowDDLEngine subclass that collects every
suggested statement with the object type and object it belongs to, and whether it is unsafe:
whatever SnowDDL itself sends through `execute_unsafe_ddl` (DROP, resource monitors, policies),
whatever it holds back behind an `--apply-*` flag, and every REVOKE.

Offline, the engine has no connection: the context query gets a canned row, and every SHOW / DESC /
SELECT is answered from a baseline derived from the base config, in Snowflake's own row shapes
(owner = the admin role, booleans as "true", sizes as "X-Small", trigger lists as "80%,100%",
quoted grant names). The baseline of roles is built by the same resolvers' `get_blueprints()`
on the base config, so business, technical, user and access roles carry exactly the grants SnowDDL
derives. A query the baseline cannot answer fails loudly and is reported, never guessed.
"""
from __future__ import annotations

import json
import os
import re
import threading
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, fields
from typing import Iterable

from snowddl.blueprint import ObjectType
from snowddl.config import SnowDDLConfig
from snowddl.engine import SnowDDLEngine
from snowddl.resolver.abc_resolver import ResolveResult
from snowddl.resolver import (
    BusinessRoleResolver,
    DatabaseOwnerRoleResolver,
    DatabaseReadRoleResolver,
    DatabaseResolver,
    DatabaseWriteRoleResolver,
    NetworkPolicyResolver,
    ResourceMonitorResolver,
    SchemaOwnerRoleResolver,
    SchemaReadRoleResolver,
    SchemaResolver,
    SchemaWriteRoleResolver,
    ShareAccessRoleResolver,
    TechnicalRoleResolver,
    UserResolver,
    UserRoleResolver,
    WarehouseMonitorRoleResolver,
    WarehouseResolver,
    WarehouseUsageRoleResolver,
    default_resolve_sequence,
)
from snowddl.settings import SnowDDLSettings

from core.plaintext import fenced, md_escape
from core.snowddl.load import _changed_blueprints, _traced_lookups, _untrace, lookup_affected

# The resolvers the offline plan runs, in SnowDDL's own order.
OFFLINE_RESOLVERS = [
    r
    for r in default_resolve_sequence
    if r
    in (
        ResourceMonitorResolver, WarehouseResolver, WarehouseMonitorRoleResolver, WarehouseUsageRoleResolver,
        DatabaseResolver, SchemaResolver, ShareAccessRoleResolver, DatabaseReadRoleResolver, DatabaseWriteRoleResolver,
        SchemaReadRoleResolver, SchemaWriteRoleResolver, DatabaseOwnerRoleResolver, SchemaOwnerRoleResolver,
        TechnicalRoleResolver, BusinessRoleResolver, UserRoleResolver, UserResolver, NetworkPolicyResolver,
    )
]
_ROLE_RESOLVERS = [r for r in OFFLINE_RESOLVERS if hasattr(r, "get_role_suffix")]

# How statements are labelled: roles by their kind, everything else by SnowDDL's object type.
_KIND = {
    BusinessRoleResolver: "BUSINESS_ROLE", TechnicalRoleResolver: "TECHNICAL_ROLE", UserRoleResolver: "USER_ROLE",
    WarehouseMonitorRoleResolver: "WAREHOUSE_ROLE", WarehouseUsageRoleResolver: "WAREHOUSE_ROLE",
    DatabaseReadRoleResolver: "DATABASE_ROLE", DatabaseWriteRoleResolver: "DATABASE_ROLE",
    DatabaseOwnerRoleResolver: "DATABASE_ROLE", SchemaReadRoleResolver: "SCHEMA_ROLE",
    SchemaWriteRoleResolver: "SCHEMA_ROLE", SchemaOwnerRoleResolver: "SCHEMA_ROLE",
    ShareAccessRoleResolver: "SHARE_ROLE",
}

ADMIN_ROLE = "SNOWDDL_ADMIN"
_SIZES = {"XSMALL": "X-Small", "SMALL": "Small", "MEDIUM": "Medium", "LARGE": "Large", "XLARGE": "X-Large",
          "XXLARGE": "2X-Large", "X2LARGE": "2X-Large", "XXXLARGE": "3X-Large", "X3LARGE": "3X-Large",
          "X4LARGE": "4X-Large", "X5LARGE": "5X-Large", "X6LARGE": "6X-Large"}


class PlanError(Exception):
    pass


class OfflineQueryError(Exception):
    """A read query the offline baseline has no answer for."""


@dataclass
class Statement:
    sql: str
    action: str  # CREATE | ALTER | DROP | GRANT | REVOKE | ...
    object_type: str
    object: str | None
    unsafe: bool
    reason: str = ""  # why it is unsafe

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Plan:
    mode: str  # offline | live
    statements: list[Statement] = field(default_factory=list)
    not_previewed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def unsafe_count(self) -> int:
        return sum(1 for s in self.statements if s.unsafe)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.statements:
            out[s.action] = out.get(s.action, 0) + 1
        return dict(sorted(out.items()))

    @classmethod
    def from_dict(cls, data: dict) -> "Plan":
        return cls(data.get("mode", "offline"), [Statement(**s) for s in data.get("statements", [])],
                   list(data.get("not_previewed", [])), list(data.get("errors", [])))

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "statements": [s.to_dict() for s in self.statements],
            "counts": self.counts(),
            "unsafe": self.unsafe_count,
            "not_previewed": self.not_previewed,
            "errors": self.errors,
        }


# -- the engine ------------------------------------------------------------------------------------

class _Cursor:
    """Enough of a DictCursor for SnowDDL: iterable, fetchone, fetchall, rowcount."""

    def __init__(self, rows: list[dict]):
        self._rows = list(rows)
        self.rowcount = len(self._rows)

    def __iter__(self):
        return iter(self._rows)

    def fetchone(self):
        return self._rows[0] if self._rows else None

    def fetchall(self):
        return list(self._rows)


class _Labelled:
    """Wraps the engine's executor so that every statement knows the object it was made for."""

    def __init__(self, engine, inner=None):
        self.engine = engine
        self.inner = inner

    def _run(self, fn, args):
        name = None
        if args:
            first = args[0]
            name = str(first.full_name) if hasattr(first, "full_name") else first if isinstance(first, str) else None
            if isinstance(first, dict):
                name = first.get("name") or first.get("role_name") or (
                    f"{first['database']}.{first['schema']}" if "schema" in first else first.get("database"))
        self.engine._local.object = name
        try:
            return fn(*args)
        finally:
            self.engine._local.object = None

    def submit(self, fn, *args):
        if self.inner is not None:
            return self.inner.submit(self._run, fn, args)
        future: Future = Future()
        try:
            future.set_result(self._run(fn, args))
        except BaseException as exc:  # the resolver reads it from the future, as with threads
            future.set_exception(exc)
        return future

    def map(self, fn, iterable):
        if self.inner is not None:
            return self.inner.map(fn, iterable)
        return [fn(x) for x in iterable]

    def shutdown(self, wait=True):
        if self.inner is not None:
            self.inner.shutdown(wait)


class _PlanningMixin:
    """Never executes DDL: every statement is collected as a Statement, labelled and classified."""

    object_kind = "UNKNOWN"

    def _init_planning(self):
        self._local = threading.local()
        self.statements_lock = threading.Lock()

    def execute_safe_ddl(self, sql, params=None, condition=True, file_stream=None):
        self._plan(sql, params, unsafe=False, condition=condition)

    def execute_unsafe_ddl(self, sql, params=None, condition=True, file_stream=None):
        self._plan(sql, params, unsafe=True, condition=condition)

    def _plan(self, sql, params, unsafe, condition):
        text = self.format(sql, params)
        action = text.split(None, 1)[0].upper() if text.strip() else ""
        reason = ""
        if unsafe:
            reason = "SnowDDL applies it only with --apply-unsafe"
        if not condition:
            unsafe, reason = True, "SnowDDL applies it only with an --apply-* flag (resource monitors, policies, ...)"
        elif action == "REVOKE":
            unsafe, reason = True, "takes access away"
        kind, obj = _label(text, self.object_kind, getattr(self._local, "object", None))
        if action == "DROP":
            reason = "drops the object" + (" and everything in it" if kind in ("DATABASE", "SCHEMA") else "")
        statement = Statement(text, action, kind, obj, unsafe, reason)
        self._suggested_ddl_buffer[threading.get_ident()].append(statement)


_DDL = re.compile(
    r"^(?:CREATE(?: OR REPLACE)?|ALTER|DROP|UNDROP|COMMENT ON)\s+(?:TRANSIENT\s+|SECURE\s+|TEMPORARY\s+)*"
    r"(DATABASE ROLE|DATABASE|SCHEMA|WAREHOUSE|RESOURCE MONITOR|NETWORK POLICY|NETWORK RULE|ROLE|USER|"
    r"AUTHENTICATION POLICY|(?:[A-Z]+ )?TABLE|VIEW|MATERIALIZED VIEW|STAGE|STREAM|TASK|FUNCTION|PROCEDURE|SEQUENCE|"
    r"FILE FORMAT|PIPE|ALERT|SHARE)\s+(?:IF (?:NOT )?EXISTS\s+)?((?:\"(?:[^\"]|\"\")*\"|[A-Za-z0-9_$]+)"
    r"(?:\.(?:\"(?:[^\"]|\"\")*\"|[A-Za-z0-9_$]+))*)", re.I)


def _label(sql: str, kind: str, obj: str | None) -> tuple[str, str | None]:
    """A statement's own object type and name: the resolver's label, unless the statement creates,
    alters or drops an object of another type (DatabaseResolver's DROP SCHEMA "DB"."PUBLIC" is a
    schema drop, not a database drop). Roles keep their kind (BUSINESS_ROLE, SCHEMA_ROLE ...)."""
    m = _DDL.match(sql.strip())
    if not m or (kind.endswith("_POLICY") and sql.lstrip().upper().startswith("ALTER")):
        return kind, obj  # a policy resolver's ALTER USER ... SET NETWORK_POLICY is about the policy
    sql_type = " ".join(m.group(1).upper().split()).replace(" ", "_")
    name = ".".join(p.strip('"').replace('""', '"') for p in re.findall(r'"(?:[^"]|"")*"|[A-Za-z0-9_$]+', m.group(2)))
    if sql_type == "ROLE" and kind.endswith("ROLE"):
        return kind, name
    return sql_type, name


class OfflineEngine(_PlanningMixin, SnowDDLEngine):
    def __init__(self, config: SnowDDLConfig, baseline: "Baseline | None" = None):
        self._init_planning()
        self.baseline = baseline or Baseline()
        settings = SnowDDLSettings(max_workers=1)
        super().__init__(None, config, settings)
        self.executor.shutdown()
        self.executor = _Labelled(self)

    def execute_meta(self, sql, params=None):
        return _Cursor(self.baseline.answer(self.format(sql, params), self))

    def describe_meta(self, sql, params=None):
        return self.execute_meta(sql, params)

    def execute_context_ddl(self, sql, params=None):
        return _Cursor([])

    def execute_clone(self, sql, params=None):
        raise OfflineQueryError("cloning is not previewed offline")


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
    kept: object = field(default=None, repr=False, compare=False)

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
                if kept.get(name) is bp and name in old_roles:  # the previous baseline's very role: its rows
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


# -- running a plan --------------------------------------------------------------------------------

def _present_types(config: SnowDDLConfig) -> set[str]:
    return {cls.__name__.removesuffix("Blueprint") for cls, bps in config.blueprints.items() if bps}


_COVERED = {"ResourceMonitor", "Warehouse", "Database", "Schema", "BusinessRole", "TechnicalRole", "User", "NetworkPolicy"}


def _type_label(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def _resolver_label(resolver) -> str:
    kind = _KIND.get(type(resolver))
    if kind:
        return kind
    try:
        return resolver.object_type.name
    except Exception:
        return _type_label(type(resolver).__name__.removesuffix("Resolver"))


def not_previewed(*configs: SnowDDLConfig) -> list[str]:
    """Every kind of object SnowDDL would create or change for any of the configs that the offline
    plan does not compute: blueprint types it has no resolver for, and the objects every resolver it
    does not run would manage (share access roles, database roles, schema objects, policies ...)."""
    present: set[str] = set()
    labels: set[str] = set()
    for config in configs:
        present |= _present_types(config)
        engine = None
        for resolver_cls in default_resolve_sequence:
            if resolver_cls in OFFLINE_RESOLVERS:
                continue
            try:
                engine = engine or OfflineEngine(config, Baseline())
                resolver = resolver_cls(engine)
                bps = resolver.get_blueprints()
                if resolver_cls.__name__ == "DatabaseDelayedResolver":  # it only sets databases' event tables
                    if any(getattr(bp, "event_table", None) for bp in bps.values()):
                        labels.add("DATABASE_EVENT_TABLE")
                elif bps:
                    kind = type(next(iter(bps.values()))).__name__.removesuffix("Blueprint")
                    labels.add(_type_label(kind) if kind != "Role" else _resolver_label(resolver))
            except Exception:  # a resolver that needs the account to know its objects: say it is left out
                labels.add(_type_label(resolver_cls.__name__.removesuffix("Resolver")))
        if engine is not None:
            engine.executor.shutdown()
    return sorted(labels | {_type_label(n) for n in present - _COVERED})


def changes_since(baseline: "Baseline | None", config: SnowDDLConfig) -> dict | None:
    """Blueprint type -> the blueprints that differ between the baseline's config and `config` (not
    the same object and not equal), or None when nothing of the baseline can be reused (no baseline,
    another env prefix, other permission models)."""
    before = baseline.config if baseline is not None else None
    if before is None and baseline is not None and baseline.kept is not None:
        return baseline.kept.changes(config)  # read back from the workspace cache: by fingerprint
    if before is None or before.env_prefix != config.env_prefix or before.permission_models != config.permission_models:
        return None
    return _changed_blueprints(config, before, equal=True)


class Lookups(tuple):
    """The look-ups one derivation made, (blueprint type, pattern or None for the whole type), and the
    set of their types (`types`), so a derivation that looked up no changed type is reused at once."""

    def __new__(cls, lookups):
        self = super().__new__(cls, lookups)
        self.types = frozenset(t for t, _ in self)
        return self


_DERIVATION = re.compile(r"(?:transform_blueprint|get_blueprint_\w+)\Z")
_DERIVERS: dict[type, list[str]] = {}


def _derivations(resolver):
    """SnowDDL's role resolvers derive each role from one config blueprint (`transform_blueprint`,
    `get_blueprint_read_role`, ...), looking other blueprints up through the config. With the engine's
    `derivations` (memo, changed, out), each derivation is recorded in `out` with the lookups it made
    (type, pattern); one whose source blueprint is the memo's (the same object, or equal) and none of
    whose lookups would now find anything else (`changed`: type -> changed blueprints, None: unknown)
    gives the memo's derived blueprint again, the very same object, without deriving it."""
    memo, changed, out = getattr(resolver.engine, "derivations", None) or ({}, None, None)
    if out is None:
        return resolver
    names = _DERIVERS.get(type(resolver))
    if names is None:
        names = _DERIVERS[type(resolver)] = [n for n in dir(type(resolver)) if _DERIVATION.match(n)]
    config, hit_cache = resolver.config, {}
    label = type(resolver).__name__
    engine = resolver.engine
    if getattr(engine, "derivations_fresh", None) is None:
        engine.derivations_fresh = {id(bp) for objs in (changed or {}).values() for bp in objs}
    fresh = engine.derivations_fresh

    def same_source(old, source, name) -> bool:
        # the memo's source was the previous config's blueprint of that name; the current one of that
        # name that changes_since did not list as changed is equal to it (no need to compare again)
        return old is source or (id(source) not in fresh and config.blueprints.get(type(source), {}).get(name) is source)

    for name in names:
        derive = getattr(resolver, name)

        def derived(source, *args, _name=name, _derive=derive):
            if args or not hasattr(source, "full_name"):
                return _derive(source, *args)
            key = (label, _name, str(source.full_name))
            hit = memo.get(key)
            if (hit is not None and changed is not None and same_source(hit[0], source, key[2])
                    and (hit[1].types.isdisjoint(changed)
                         or not any(lookup_affected(changed, hit_cache, lookup) for lookup in hit[1]))):
                out[key] = (source, hit[1], hit[2])
                return hit[2]
            seen: list = [[]]
            _traced_lookups(config, seen)
            try:
                result = _derive(source)
            finally:
                _untrace(config)
            out[key] = (source, Lookups(seen[0]), result)
            return result

        setattr(resolver, name, derived)
    return resolver


def _skip_unchanged(resolver, base_blueprints: dict) -> None:
    """An object whose blueprint equals the base's is compared against rows made from that very
    blueprint: SnowDDL finds nothing to do (the identical-config tests check exactly that), so the
    comparison is skipped. SnowDDL compares role grants pairwise, which dominates large plans."""
    compare = resolver.compare_object
    blueprints, existing_objects = resolver.get_blueprints, resolver.get_existing_objects
    unchanged: set[str] = set()

    def same(name, bp) -> bool:
        old = base_blueprints.get(name)
        return old is bp or (old is not None and old == bp)

    def get_blueprints():
        # Unchanged objects are set aside before SnowDDL walks them: a change to one user of 40,000
        # compares one user (their rows are set aside too, so nothing is dropped for them).
        bps = blueprints()
        unchanged.clear()
        unchanged.update(name for name, bp in bps.items() if same(name, bp))
        return {name: bp for name, bp in bps.items() if name not in unchanged}

    def get_existing_objects():
        # the baseline answers SHOW ... LIKE without the unchanged objects' rows (nothing to read for them)
        resolver.engine.set_aside = unchanged
        try:
            return {name: row for name, row in existing_objects().items() if name not in unchanged}
        finally:
            resolver.engine.set_aside = None

    def compare_object(bp, row):
        if same(str(bp.full_name), bp):
            return ResolveResult.NOCHANGE
        return compare(bp, row)

    skipped = resolver._is_skipped

    def is_skipped():
        # SnowDDL skips a resolver with no blueprints at all (nothing dropped either): asked of every
        # blueprint, not of the changed ones only
        resolver.get_blueprints = blueprints
        try:
            return skipped()
        finally:
            resolver.get_blueprints = get_blueprints

    resolver.compare_object, resolver._is_skipped = compare_object, is_skipped
    resolver.get_blueprints, resolver.get_existing_objects = get_blueprints, get_existing_objects

    if hasattr(resolver, "get_existing_role_grants"):
        fetch = resolver.get_existing_role_grants

        def get_existing_role_grants(role_name):
            # Grants are read only to be compared; unchanged roles are not compared, and roles that
            # are no longer in the config are dropped whole.
            bp = resolver.blueprints.get(role_name)
            if bp is None or base_blueprints.get(role_name) == bp:
                return role_name, [], [], []
            return fetch(role_name)

        resolver.get_existing_role_grants = get_existing_role_grants


def _run(engine, resolvers, plan: Plan) -> None:
    baseline = getattr(engine, "baseline", None) if getattr(engine, "skip_unchanged", False) else None
    if baseline is not None:  # roles derived from unchanged blueprints are the baseline's objects
        engine.derivations = (baseline.derived, changes_since(baseline, engine.config), {})
    for resolver_cls in resolvers:
        engine.object_kind = _KIND.get(resolver_cls) or resolver_cls(engine).object_type.name
        resolver = resolver_cls(engine) if baseline is None else _derivations(resolver_cls(engine))
        if baseline is not None and resolver_cls.__name__ in baseline.blueprints:
            _skip_unchanged(resolver, baseline.blueprints[resolver_cls.__name__])
        try:
            resolver.resolve()
        except Exception as exc:  # a read query failed: the plan is incomplete, say so
            plan.errors.append(f"{resolver_cls.__name__}: {exc}")
            continue
        for name, exc in resolver.errors.items():
            plan.errors.append(f"{resolver_cls.__name__} [{name}]: {exc}")
        engine.flush_thread_buffers()
    plan.statements = list(engine.suggested_ddl)


def plan_offline(base: "SnowDDLConfig | Baseline", head: SnowDDLConfig, base_config: SnowDDLConfig | None = None,
                 skip_unchanged: bool = True) -> Plan:
    """The DDL SnowDDL would run to take an account deployed from `base` to `head`.

    skip_unchanged=False compares every object against its baseline rows, as against a real account
    (the tests use it to check the rows); True skips objects whose blueprint equals the base's."""
    baseline = base if isinstance(base, Baseline) else Baseline.from_config(base)
    plan = Plan("offline")
    configs = [head] + ([base] if isinstance(base, SnowDDLConfig) else [base_config] if base_config else [])
    plan.not_previewed = not_previewed(*configs)
    engine = OfflineEngine(head, baseline)
    engine.skip_unchanged = skip_unchanged
    try:
        _run(engine, OFFLINE_RESOLVERS, plan)
    finally:
        engine.executor.shutdown()
    return plan


# -- live ------------------------------------------------------------------------------------------

class LiveEngine(_PlanningMixin, SnowDDLEngine):
    def __init__(self, connection, config: SnowDDLConfig):
        self._init_planning()
        super().__init__(connection, config, SnowDDLSettings())
        self.executor = _Labelled(self, self.executor)


def live_credentials(env: dict | None = None) -> dict | None:
    """Connection options from the environment variables snowddl's CLI reads, or None."""
    env = os.environ if env is None else env
    if not env.get("SNOWFLAKE_ACCOUNT") or not env.get("SNOWFLAKE_USER"):
        return None
    options = {"account": env["SNOWFLAKE_ACCOUNT"], "user": env["SNOWFLAKE_USER"],
               "role": env.get("SNOWFLAKE_ROLE"), "warehouse": env.get("SNOWFLAKE_WAREHOUSE"),
               "application": "SnowTower"}
    key = None
    if env.get("SNOWFLAKE_PRIVATE_KEY_PATH"):
        with open(env["SNOWFLAKE_PRIVATE_KEY_PATH"], "rb") as fh:
            key = fh.read()
    elif env.get("SNOWFLAKE_PRIVATE_KEY"):
        key = env["SNOWFLAKE_PRIVATE_KEY"].encode()
    if key:
        from cryptography.hazmat.primitives import serialization

        passphrase = env.get("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE")
        pk = serialization.load_pem_private_key(key, password=passphrase.encode() if passphrase else None)
        options["private_key"] = pk.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption())
    elif env.get("SNOWFLAKE_PASSWORD"):
        options["password"] = env["SNOWFLAKE_PASSWORD"]
    else:
        return None
    return {k: v for k, v in options.items() if v is not None}


def plan_live(head: SnowDDLConfig, connection=None, resolvers: Iterable | None = None) -> Plan:
    """SnowDDL's own plan of `head` against a real account (every resolver), collected the same way."""
    if connection is None:
        options = live_credentials()
        if options is None:
            raise PlanError("no Snowflake credentials: set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and "
                            "SNOWFLAKE_PRIVATE_KEY_PATH (or SNOWFLAKE_PRIVATE_KEY / SNOWFLAKE_PASSWORD)")
        import snowflake.connector

        connection = snowflake.connector.connect(**options)
    plan = Plan("live")
    try:
        with LiveEngine(connection, head) as engine:
            _run(engine, list(resolvers or default_resolve_sequence), plan)
    finally:
        connection.close()
    return plan


# -- rendering -------------------------------------------------------------------------------------

def _ordered(plan: Plan) -> list[Statement]:
    return [s for s in plan.statements if s.unsafe] + [s for s in plan.statements if not s.unsafe]


def render_text(plan: Plan) -> str:
    lines = []
    for s in _ordered(plan):
        mark = "UNSAFE " if s.unsafe else ""
        lines.append(f"-- {mark}{s.action} {s.object_type} {s.object or ''}".rstrip())
        lines.append(s.sql.rstrip() + ";")
        lines.append("")
    counts = ", ".join(f"{n} {a}" for a, n in plan.counts().items()) or "no changes"
    lines.append(f"{len(plan.statements)} statement(s): {counts}; {plan.unsafe_count} unsafe")
    if plan.not_previewed:
        lines.append("not previewed offline: " + ", ".join(plan.not_previewed))
    for error in plan.errors:
        lines.append(f"error: {error}")
    return "\n".join(lines) + "\n"


def render_markdown(plan: Plan, title: str = "SnowDDL plan") -> str:
    """For a PR comment and the review page: counts, unsafe statements first and marked, SQL folded."""
    out = [f"### {title} ({plan.mode})", ""]
    if not plan.statements:
        out.append("No changes: SnowDDL would run no statement.")
    else:
        counts = " · ".join(f"**{n}** {a}" for a, n in plan.counts().items())
        out.append(f"{len(plan.statements)} statement(s): {counts}" +
                   (f" · :warning: **{plan.unsafe_count} unsafe**" if plan.unsafe_count else ""))
        out.append("")
        out.append("| | Action | Type | Object |")
        out.append("|---|---|---|---|")
        for s in _ordered(plan):
            out.append(f"| {':warning: unsafe' if s.unsafe else ''} | {s.action} | {s.object_type} | `{s.object or ''}` |")
        out.append("")
        out.append(f"<details><summary>Full SQL ({len(plan.statements)} statements)</summary>")
        out.append("")
        sql = []  # the SQL carries people's text (COMMENT = '...'): a fence it cannot close
        for s in _ordered(plan):
            if s.unsafe:
                sql.append(f"-- UNSAFE: {s.reason}")
            sql.append(s.sql.rstrip() + ";")
        out.append(fenced("\n".join(sql), "sql"))
        out.append("")
        out.append("</details>")
    if plan.not_previewed:
        out.append("")
        out.append("Not previewed offline (check them with `snowtower plan --live` or `snowddl plan`): "
                   + ", ".join(f"`{t}`" for t in plan.not_previewed))
    for error in plan.errors:
        out.append("")
        out.append(f"> :x: {md_escape(error, starts_line=True)}")
    return "\n".join(out) + "\n"


# -- configs as SnowTower loads them -----------------------------------------------------------------

def plan_between(base, head, baseline: Baseline | None = None) -> Plan:
    """Offline plan from one LoadedConfig to another; an invalid config gives no statements, only why."""
    plan = Plan("offline")
    for label, loaded in (("base", base), ("head", head)):
        if loaded.snowddl is None or not loaded.validation.valid:
            plan.errors.append(f"the {label} config is invalid ({len(loaded.validation.errors)} error(s)): "
                               "SnowDDL would not plan it; fix the errors first")
    if plan.errors:
        return plan
    plan = plan_offline(baseline or Baseline.from_config(base.snowddl), head.snowddl, base_config=base.snowddl)
    custom = sorted({rel for loaded in (base, head) if not getattr(loaded, "custom_ran", False)
                     for rel in getattr(loaded, "custom", [])})
    plan.not_previewed += [f"PROGRAMMATIC ({rel})" for rel in custom]
    return plan
