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

This module runs plans (`plan_offline`, `plan_live`, `plan_between` for two loaded configs) and renders
them (text, Markdown); the offline engine is in core.snowddl.offline_engine, the baseline in
core.snowddl.baseline, what a plan need not compute again in core.snowddl.skip_unchanged.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from snowddl.blueprint import AbstractIdent, Grant
from snowddl.config import SnowDDLConfig
from snowddl.engine import SnowDDLEngine
from snowddl.resolver import default_resolve_sequence
from snowddl.resolver.abc_role_resolver import AbstractRoleResolver
from snowddl.settings import SnowDDLSettings

from core.plaintext import fenced, md_escape
from core.snowddl.baseline import Baseline
from core.snowddl.offline_engine import _KIND, OFFLINE_RESOLVERS, OfflineEngine, Statement, _Labelled, _PlanningMixin
from core.snowddl.skip_unchanged import _derivations, _skip_unchanged, changes_since


class PlanError(Exception):
    pass


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


class _Grants(list):
    """A role's grants (snowddl.blueprint.Grant) whose `in` looks the grant's key up in a set: what
    Grant.__eq__ compares (privilege, `on.singular_for_grant`, the name's text), so `grant in grants` is
    True exactly when list membership is. SnowDDL's AbstractRoleResolver.compare_object asks it of every
    grant against the whole other list (quadratic in a role's grants: most of a full plan of a large
    config); anything that is not plainly a Grant is asked of the list as before."""

    def __init__(self, grants):
        super().__init__(grants)
        keys = [_grant_key(g) for g in self]
        self.keys = None if None in keys else set(keys)

    def __contains__(self, grant) -> bool:
        if self.keys is not None:
            key = _grant_key(grant)
            if key is not None:
                return key in self.keys
        return list.__contains__(self, grant)


def _grant_key(grant):
    """(privilege, singular_for_grant, name text) when Grant.__eq__ compares exactly these (a Grant whose
    privilege is text and whose name is an identifier), else None."""
    if type(grant) is not Grant or type(grant.privilege) is not str or not isinstance(grant.name, AbstractIdent):
        return None
    on = grant.on.singular_for_grant
    return (grant.privilege, on, str(grant.name)) if on is None or type(on) is str else None


def _grants_by_key(resolver) -> None:
    """SnowDDL's own role comparison (AbstractRoleResolver.compare_object, not overridden) with both grant
    lists as _Grants: the same statements in the same order, without comparing every pair of grants."""
    if type(resolver).compare_object is not AbstractRoleResolver.compare_object:
        return
    compare = resolver.compare_object

    def compare_object(bp, row):
        if not bp.grants or not row.get("grants"):
            return compare(bp, row)
        return compare(bp.model_copy(update={"grants": _Grants(bp.grants)}), dict(row, grants=_Grants(row["grants"])))

    resolver.compare_object = compare_object


def _run(engine, resolvers, plan: Plan) -> None:
    baseline = getattr(engine, "baseline", None) if getattr(engine, "skip_unchanged", False) else None
    if baseline is not None:  # roles derived from unchanged blueprints are the baseline's objects
        engine.derivations = (baseline.derived, changes_since(baseline, engine.config), {})
    for resolver_cls in resolvers:
        engine.object_kind = _KIND.get(resolver_cls) or resolver_cls(engine).object_type.name
        resolver = resolver_cls(engine) if baseline is None else _derivations(resolver_cls(engine))
        if isinstance(engine, OfflineEngine):
            _grants_by_key(resolver)
        if baseline is not None and resolver_cls.__name__ in baseline.blueprints:
            _skip_unchanged(resolver, baseline.blueprints[resolver_cls.__name__])
        try:
            resolver.resolve()
        except Exception as exc:  # a read query failed: the plan is incomplete, say so
            plan.errors.append(f"{resolver_cls.__name__}: {exc}")
            continue
        for name, error in resolver.errors.items():
            plan.errors.append(f"{resolver_cls.__name__} [{name}]: {error}")
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


def live_credentials(env: Mapping[str, str] | None = None) -> dict | None:
    """Connection options from the environment variables snowddl's CLI reads, or None."""
    values: Mapping[str, str] = os.environ if env is None else env
    if not values.get("SNOWFLAKE_ACCOUNT") or not values.get("SNOWFLAKE_USER"):
        return None
    options: dict[str, str | bytes | None] = {"account": values["SNOWFLAKE_ACCOUNT"], "user": values["SNOWFLAKE_USER"],
               "role": values.get("SNOWFLAKE_ROLE"), "warehouse": values.get("SNOWFLAKE_WAREHOUSE"),
               "application": "SnowTower"}
    key = None
    if values.get("SNOWFLAKE_PRIVATE_KEY_PATH"):
        with open(values["SNOWFLAKE_PRIVATE_KEY_PATH"], "rb") as fh:
            key = fh.read()
    elif values.get("SNOWFLAKE_PRIVATE_KEY"):
        key = values["SNOWFLAKE_PRIVATE_KEY"].encode()
    if key:
        from cryptography.hazmat.primitives import serialization

        passphrase = values.get("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE")
        pk = serialization.load_pem_private_key(key, password=passphrase.encode() if passphrase else None)
        options["private_key"] = pk.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption())
    elif values.get("SNOWFLAKE_PASSWORD"):
        options["password"] = values["SNOWFLAKE_PASSWORD"]
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
