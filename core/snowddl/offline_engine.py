"""The offline engine: a SnowDDLEngine that never executes DDL and answers reads from a baseline.

`OfflineEngine(config, baseline)` runs SnowDDL's own resolvers in plan mode: every statement they
suggest is collected as a `Statement` (sql, action, object type, object, unsafe and why), labelled with
the object it was made for; every SHOW / DESC / SELECT is answered by the baseline
(core.snowddl.baseline.Baseline.answer), and one it cannot answer raises `OfflineQueryError`.
`OFFLINE_RESOLVERS` are the resolvers an offline plan runs, in SnowDDL's order (`_ROLE_RESOLVERS`: those
that make roles); `_PlanningMixin` and `_Labelled` are shared with the live engine (core.snowddl.plan).
"""
from __future__ import annotations

import re
import threading
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from snowddl.config import SnowDDLConfig
from snowddl.engine import SnowDDLEngine
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

if TYPE_CHECKING:
    from core.snowddl.baseline import Baseline

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
    executor: Any  # SnowDDL's engine's thread pool, replaced by a _Labelled one

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
        if baseline is None:
            from core.snowddl.baseline import Baseline  # built on this engine: imported when used

            baseline = Baseline()
        self.baseline = baseline
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
