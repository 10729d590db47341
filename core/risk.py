"""Risk flags: what a reviewer must not miss in a change, each with the config line (or plan statement)
that causes it.

`risk_flags(base, head, plan, reviewer=..., warehouse_size_threshold=...)` compares SnowDDL's own
blueprints of the base and head configs (core.snowddl.commit_snapshot.Snapshot: never YAML read here), the
role hierarchy SnowDDL's resolvers derive from each (core.findings.reach.ReachGraph over the offline
baselines) and the plan's statements. Lines are found by core.snowddl.yaml_reader.line_of in the file SnowDDL
reads the object from: the head's file for what is added or changed, the base's for what is removed.
Pure: no Streamlit, no I/O beyond reading the snapshots' files.

Kinds (level):
- admin_role (high): a role grant that gives someone ACCOUNTADMIN, SECURITYADMIN or SYSADMIN, directly
  or through roles that hold one (business role -> technical role / global role, business role -> a
  schema's owner role -> owner_global_roles in its params file ...); or MANAGE GRANTS on the account
  given to a technical role (account_grants) or a schema's owner role (owner_account_grants).
- ownership (medium): a business role gains database_owner / schema_owner, a technical role an
  OWNERSHIP grant, or the plan grants OWNERSHIP.
- drop (high), revoke (medium): a DROP or REVOKE statement of the plan.
- policy (high): a network or authentication policy added, changed or removed, a network rule a
  network policy lists changed (in the rule's own file), or a policy attached to or detached from a user
  or the account.
- no_mfa (medium): a PERSON user added, or whose type, password or policies changed, that no
  authentication policy with MFA_ENROLLMENT REQUIRED (or REQUIRED_PASSWORD_ONLY) covers.
- service_password (high): a SERVICE (or LEGACY_SERVICE) user with a password, added or changed.
- warehouse_size (medium): a warehouse added or resized above the threshold size.
- warehouse_removed (high): a warehouse the base config has and the head does not: SnowDDL drops it, an "unsafe"
  action it runs only with --apply-unsafe, and a dropped warehouse cannot be undropped (anything outside the
  config that runs on it, a task, a dashboard's connection, fails).
- own_access (high): the change touches the reviewer's own Snowflake user or a role that user holds.
- end_date (medium): a time-bound grant (core.expiry) whose end date is moved later, or removed while the
  user keeps the role (access made permanent): the one change a requester could make to their own access
  that the plan does not show.
"""
from __future__ import annotations

import fnmatch
from collections import deque
from dataclasses import asdict, dataclass
from typing import Iterable

from snowddl.blueprint import (
    AuthenticationPolicyBlueprint,
    BusinessRoleBlueprint,
    SchemaBlueprint,
    NetworkPolicyBlueprint,
    NetworkRuleBlueprint,
    TechnicalRoleBlueprint,
    UserBlueprint,
    WarehouseBlueprint,
)

from core.findings.reach import ReachGraph
from core.snowddl import yaml_reader

ADMIN_ROLES = ("ACCOUNTADMIN", "SECURITYADMIN", "SYSADMIN")
# Account privileges that make a role admin-level without any admin role: MANAGE GRANTS lets it grant any
# privilege on anything (it is what makes SECURITYADMIN an admin role).
ADMIN_PRIVILEGES = ("MANAGE GRANTS",)
LEVELS = ("high", "medium")
PLAN_PATH = "plan"  # a statement flag's path: its line is the statement's number in the plan (1-based)

# Snowflake's warehouse sizes, smallest first, under every spelling SnowDDL and Snowflake accept.
SIZES = ("XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE", "XXLARGE", "XXXLARGE", "X4LARGE", "X5LARGE", "X6LARGE")
_SIZE_ALIASES = {"X2LARGE": "XXLARGE", "2XLARGE": "XXLARGE", "X3LARGE": "XXXLARGE", "3XLARGE": "XXXLARGE",
                 "4XLARGE": "X4LARGE", "5XLARGE": "X5LARGE", "6XLARGE": "X6LARGE"}
MFA_ENFORCING = ("REQUIRED", "REQUIRED_PASSWORD_ONLY")  # MFA_ENROLLMENT values that make password sign-in need MFA


@dataclass(frozen=True)
class RiskFlag:
    """One risk. `path`: the config file (relative to the config folder) or PLAN_PATH; `line`: 1-based
    line in that file (or the statement's number in the plan), None when unknown; `text`: that line as
    written (or the statement's SQL)."""
    kind: str
    level: str  # high | medium
    message: str
    path: str | None = None
    line: int | None = None
    text: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def where(self) -> str:
        """`user.yaml:12`, `plan statement 3`, or the path alone."""
        if self.path == PLAN_PATH:
            return f"plan statement {self.line}"
        return ":".join(str(x) for x in (self.path, self.line) if x) or "config"


def size_rank(size: str) -> int:
    """The rank of a warehouse size in SIZES ("X-Large", "xlarge", "2X-Large" all accepted); ValueError
    naming the sizes for anything else."""
    key = str(size or "").upper().replace("-", "").replace("_", "")
    key = _SIZE_ALIASES.get(key, key)
    if key not in SIZES:
        raise ValueError(f"unknown warehouse size {size!r}: one of {', '.join(SIZES)}")
    return SIZES.index(key)


def level_of(flags: Iterable[RiskFlag]) -> str:
    """The highest level among `flags`: "high", "medium" or "none"."""
    levels = {f.level for f in flags}
    return next((lv for lv in LEVELS if lv in levels), "none")


# -- where things are written ------------------------------------------------------------------------

class _Places:
    """File, line and text of entries and keys in one snapshot's root files."""

    def __init__(self, snapshot):
        self.snapshot = snapshot
        self.prefix = snapshot.config.snowddl.env_prefix or "" if snapshot.config.snowddl else ""

    def name(self, ident) -> str:
        """An object's name as the config writes it: env prefix and role suffix (__B_ROLE ...) removed."""
        text = str(ident)
        if self.prefix and text.startswith(self.prefix):
            text = text[len(self.prefix):]
        return text

    def role(self, role: str) -> str:
        """A role as people name it: "business role ANALYST", "user JDOE", "technical role X", "SYSADMIN"."""
        config = self.snapshot.config.snowddl
        for suffix, label in ((config.USER_ROLE_SUFFIX, "user"), (config.BUSINESS_ROLE_SUFFIX, "business role"),
                              (config.TECHNICAL_ROLE_SUFFIX, "technical role")):
            if role.endswith(f"__{suffix}"):
                return f"{label} {self.name(role).removesuffix(f'__{suffix}')}"
        owned = self.owner_of(role)
        if owned:
            return f"the owner role of {owned[0]} {'.'.join(owned[1])}"
        return self.name(role)

    def owner_of(self, role: str) -> tuple[str, list[str]] | None:
        """("schema", [DB, SCHEMA]) or ("database", [DB]) for the owner role SnowDDL makes for a schema
        (DB__SCHEMA__OWNER__S_ROLE) or a database (DB__OWNER__D_ROLE); None for any other role."""
        config = self.snapshot.config.snowddl
        for suffix, kind, size in ((config.SCHEMA_ACCESS_ROLE_SUFFIX, "schema", 2), (config.DATABASE_ACCESS_ROLE_SUFFIX, "database", 1)):
            parts = self.name(role).split("__")
            if len(parts) == size + 2 and parts[-2:] == ["OWNER", suffix]:
                return kind, parts[:size]
        return None

    def params(self, names: list[str]) -> str | None:
        """The params file of database `names[0]` (schema `names[1]`), `RAW/STRIPE/params.yaml` in any
        case and either suffix, relative to the config folder; None when there is none."""
        wanted = "/".join([*names, "params"]).lower()
        for path in self.snapshot.root.glob("/".join(["*"] * len(names) + ["params.*"])):
            rel = path.relative_to(self.snapshot.root).as_posix()
            if path.suffix in yaml_reader.SUFFIXES and yaml_reader.normalise(rel) == wanted:
                return rel
        return None

    def at(self, kind: str, entry: str, keys: list | tuple = ()) -> tuple[str | None, int | None, str]:
        rel = self.snapshot.file(kind)
        return self.file_at(rel, [entry, *keys])

    def file_at(self, rel: str | None, keys: list) -> tuple[str | None, int | None, str]:
        text = self.snapshot.text(rel) if rel else None
        if text is None:
            return rel, None, ""
        line = yaml_reader.line_of(text, keys) if keys else 1
        return rel, line, _line_text(text, line)

    def item(self, kind: str, entry: str, key: str, wanted: str, pattern: bool = False) -> tuple[str | None, int | None, str]:
        """The list item `wanted` (compared case-insensitively) under `entry`.`key` (or its alias);
        `pattern`: items are SnowDDL's name patterns (RAW.*), the first one `wanted` matches."""
        rel = self.snapshot.file(kind)
        text = self.snapshot.text(rel)
        found = yaml_reader.load_entry(text, entry) if text else None
        value = found[1] if found else None
        if isinstance(value, dict):
            for alias in yaml_reader.KEY_ALIASES.get(key, (key,)):
                items = value.get(alias)
                if isinstance(items, list):
                    for i, item in enumerate(items):
                        if str(item).upper() == wanted.upper() or (pattern and fnmatch.fnmatchcase(wanted.upper(), str(item).upper())):
                            return self.file_at(rel, [entry, alias, i])
                    return self.file_at(rel, [entry, alias])
        return self.file_at(rel, [entry])

    def schema_object(self, ident, folder: str) -> tuple[str | None, int | None, str]:
        """A schema object's own file, `<db>/<schema>/<folder>/<name>.yaml` in any case."""
        wanted = f"{self.name(ident.database_full_name)}/{ident.schema}/{folder}/{ident.name}".lower()
        root = self.snapshot.root
        for path in root.glob("*/*/*/*"):
            rel = path.relative_to(root).as_posix()
            if path.suffix in yaml_reader.SUFFIXES and yaml_reader.normalise(rel) == wanted:
                return self.file_at(rel, [])
        return None, None, ""


def _line_text(text: str, line: int | None) -> str:
    if not line:
        return ""
    lines = text.split("\n")
    return lines[line - 1].rstrip("\r") if line <= len(lines) else ""


def _blueprints(snapshot, cls) -> dict:
    config = snapshot.config.snowddl
    return config.get_blueprints_by_type(cls) if config is not None else {}


def _changed(base: dict, head: dict) -> tuple[list, list, list]:
    """(added, changed (old, new) pairs, removed) blueprints between two name -> blueprint maps."""
    added = [bp for name, bp in head.items() if name not in base]
    removed = [bp for name, bp in base.items() if name not in head]
    changed = [(base[name], bp) for name, bp in head.items() if name in base and base[name] is not bp and base[name] != bp]
    return added, changed, removed


# -- the checks --------------------------------------------------------------------------------------

def _admin_reachers(graph: ReachGraph) -> dict[str, set[str]]:
    """Role -> the admin roles it holds, directly or through roles it holds."""
    out: dict[str, set[str]] = {}
    for admin in ADMIN_ROLES:
        for role in _reached([admin], lambda r: graph.parents.get(r, ())):
            out.setdefault(role, set()).add(admin)
    return out


def _reached(starts, step) -> set[str]:
    """Every role reached from `starts` (included) by following `step(role) -> roles`, breadth first."""
    queue, seen = deque(starts), set(starts)
    while queue:
        for nxt in step(queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _edges(graph: ReachGraph) -> set[tuple[str, str]]:
    return {(a, b) for a, children in graph.children.items() for b in children}


def _edge_place(places: _Places, config, a: str, b: str):
    """Where the config grants role `b` to role `a`: a user's business_roles item, a business role's
    technical_roles or global_roles item, or the granting role's entry."""
    def bare(role: str, suffix: str) -> str:
        return places.name(role).removesuffix(f"__{suffix}")

    if a.endswith(f"__{config.USER_ROLE_SUFFIX}"):
        return places.item("user", bare(a, config.USER_ROLE_SUFFIX), "business_roles", bare(b, config.BUSINESS_ROLE_SUFFIX))
    if a.endswith(f"__{config.BUSINESS_ROLE_SUFFIX}"):
        entry = bare(a, config.BUSINESS_ROLE_SUFFIX)
        if b.endswith(f"__{config.TECHNICAL_ROLE_SUFFIX}"):
            return places.item("business_role", entry, "technical_roles", bare(b, config.TECHNICAL_ROLE_SUFFIX))
        if "__" not in b:
            return places.item("business_role", entry, "global_roles", b)
        owned = places.owner_of(b)
        if owned:  # a schema's or database's owner role: the schema_owner / database_owner item naming it
            return places.item("business_role", entry, f"{owned[0]}_owner", ".".join(owned[1]), pattern=True)
        return places.at("business_role", entry)
    if a.endswith(f"__{config.TECHNICAL_ROLE_SUFFIX}"):
        return places.at("technical_role", bare(a, config.TECHNICAL_ROLE_SUFFIX))
    owned = places.owner_of(a)
    if owned and "__" not in b:  # a global role granted to a schema's or database's owner role: owner_global_roles
        rel = places.params(owned[1])
        if rel is not None:
            return places.file_at(rel, _list_item(places.snapshot.text(rel), "owner_global_roles", b))
    return None, None, ""


def _admin_flags(old: ReachGraph, new: ReachGraph, head, places: _Places) -> list[RiskFlag]:
    config = head.config.snowddl
    admin_new = _admin_reachers(new)
    admin_old = _admin_reachers(old)
    users_of: dict[str, set[str]] = {}
    for user, roles in new.user_roles.items():
        for role in _reached(roles, lambda r: new.children.get(r, ())):
            users_of.setdefault(role, set()).add(user)
    out = []
    for a, b in sorted(_edges(new) - _edges(old)):
        gained = admin_new.get(b, set()) - admin_old.get(a, set())
        if not gained:
            continue
        via = "" if b in ADMIN_ROLES else f" through {places.role(b)}"
        users = sorted(places.name(u) for u in users_of.get(a, ()))
        who = f"; users who gain it: {', '.join(users[:5])}" + (f" and {len(users) - 5} more" if len(users) > 5 else "") if users else ""
        rel, line, text = _edge_place(places, config, a, b)
        out.append(RiskFlag("admin_role", "high",
                            f"{places.role(a)} is granted {', '.join(sorted(gained))}{via}{who}", rel, line, text))
    return out


def _account_grant_flags(base, head, places: _Places) -> list[RiskFlag]:
    """ADMIN_PRIVILEGES newly granted on the account: to a technical role (account_grants) or to a schema's
    owner role (owner_account_grants in the schema's params file)."""
    def admin(grants) -> set[str]:
        return {str(g.privilege).upper() for g in grants or ()} & set(ADMIN_PRIVILEGES)

    out = []
    config = head.config.snowddl
    old = _blueprints(base, TechnicalRoleBlueprint)
    for name, bp in _blueprints(head, TechnicalRoleBlueprint).items():
        entry = places.name(bp.full_name).removesuffix(f"__{config.TECHNICAL_ROLE_SUFFIX}")
        for privilege in sorted(admin(bp.account_grants) - admin(getattr(old.get(name), "account_grants", ()))):
            rel, line, text = places.item("technical_role", entry, "account_grants", privilege)
            out.append(RiskFlag("admin_role", "high", f"technical role {entry} is granted {privilege} on the account: "
                                                      "it can grant any privilege, as SECURITYADMIN does", rel, line, text))
    old_s = _blueprints(base, SchemaBlueprint)
    for name, bp in _blueprints(head, SchemaBlueprint).items():
        for privilege in sorted(admin(bp.owner_account_grants) - admin(getattr(old_s.get(name), "owner_account_grants", ()))):
            names = [str(bp.full_name.database), str(bp.full_name.schema)]
            rel = places.params(names)
            rel, line, text = places.file_at(rel, _list_item(places.snapshot.text(rel) if rel else None, "owner_account_grants", privilege))
            out.append(RiskFlag("admin_role", "high", f"the owner role of schema {'.'.join(names)} is granted {privilege} on the "
                                                      "account: it can grant any privilege, as SECURITYADMIN does", rel, line, text))
    return out


def _list_item(text: str | None, key: str, wanted: str) -> list:
    """The key path of item `wanted` (case-insensitive) of the top-level list `key` in a params file's
    `text`: [key as written, index], [key] when the item is not found, [] when the key is not."""
    found = yaml_reader.load_entry(text, key) if text else None
    if not found:
        return []
    items = found[1] if isinstance(found[1], list) else []
    index = next((i for i, item in enumerate(items) if str(item).upper() == wanted.upper()), None)
    return [found[0], *([index] if index is not None else [])]


def _ownership_flags(base, head, places: _Places) -> list[RiskFlag]:
    out = []
    old = _blueprints(base, BusinessRoleBlueprint)
    for name, bp in _blueprints(head, BusinessRoleBlueprint).items():
        before = old.get(name)
        entry = places.name(bp.full_name).removesuffix(f"__{head.config.snowddl.BUSINESS_ROLE_SUFFIX}")
        for key in ("database_owner", "schema_owner"):
            had = {str(p).upper() for p in getattr(before, key, [])} if before is not None else set()
            for pattern in getattr(bp, key):
                if str(pattern).upper() not in had:
                    rel, line, text = places.item("business_role", entry, key, str(pattern))
                    out.append(RiskFlag("ownership", "medium",
                                        f"business role {entry} becomes owner of {key.split('_')[0]} {pattern}", rel, line, text))
    old_t = _blueprints(base, TechnicalRoleBlueprint)
    for name, bp in _blueprints(head, TechnicalRoleBlueprint).items():
        had = {(str(g.privilege), str(g.pattern)) for g in getattr(old_t.get(name), "grant_patterns", [])}
        entry = places.name(bp.full_name).removesuffix(f"__{head.config.snowddl.TECHNICAL_ROLE_SUFFIX}")
        for g in bp.grant_patterns:
            if str(g.privilege).upper() == "OWNERSHIP" and (str(g.privilege), str(g.pattern)) not in had:
                rel, line, text = places.at("technical_role", entry, ["grants"])
                out.append(RiskFlag("ownership", "medium", f"technical role {entry} is granted OWNERSHIP on {g.on.name} {g.pattern}",
                                    rel, line, text))
    return out


def _statement_flags(plan) -> list[RiskFlag]:
    out = []
    statements = plan.statements if plan is not None else []
    # Objects the plan itself creates: granting OWNERSHIP on them (a new database's owner roles) is their
    # first owner, not an ownership change; dropping what SnowDDL finds inside them (PUBLIC) removes nothing.
    created = {s.object for s in statements if s.action == "CREATE"}
    for number, s in enumerate(statements, 1):
        sql = " ".join(s.sql.split())
        parent = (s.object or "").rpartition(".")[0]
        if s.action == "DROP" and parent in created:
            pass  # the PUBLIC schema of a database this plan creates: nothing that existed is dropped
        elif s.action == "DROP":
            out.append(RiskFlag("drop", "high", f"drops {s.object_type} {s.object or ''}".rstrip(), PLAN_PATH, number, sql))
        elif s.action == "REVOKE":
            out.append(RiskFlag("revoke", "medium", f"revokes from {s.object_type} {s.object or ''}".rstrip(), PLAN_PATH, number, sql))
        if " OWNERSHIP " in f" {sql.upper()} " and s.object not in created:
            out.append(RiskFlag("ownership", "medium", f"changes the owner of {s.object or s.object_type}", PLAN_PATH, number, sql))
    return out


def _policy_refs(snapshot) -> dict[tuple[str, str], set[str]]:
    """(kind, USER name or "ACCOUNT") -> names of the network / authentication policies attached."""
    out: dict[tuple[str, str], set[str]] = {}
    for kind, cls in (("network_policy", NetworkPolicyBlueprint), ("authentication_policy", AuthenticationPolicyBlueprint)):
        for name, bp in _blueprints(snapshot, cls).items():
            for ref in bp.references:
                target = "ACCOUNT" if ref.object_type.name == "ACCOUNT" else str(ref.object_name)
                out.setdefault((kind, target), set()).add(name)
    return out


def _policy_flags(base, head, head_places: _Places, base_places: _Places) -> list[RiskFlag]:
    out = []
    for kind, cls in (("network policy", NetworkPolicyBlueprint), ("authentication policy", AuthenticationPolicyBlueprint)):
        old, new = _blueprints(base, cls), _blueprints(head, cls)
        plain = lambda bp: bp.model_dump(exclude={"references"})  # noqa: E731  (attachments are flagged below)
        for places, bps, verb in ((head_places, [bp for n, bp in new.items() if n not in old], "added"),
                                  (head_places, [bp for n, bp in new.items() if n in old and plain(old[n]) != plain(bp)], "changed"),
                                  (base_places, [bp for n, bp in old.items() if n not in new], "removed")):
            for bp in bps:
                if cls is NetworkPolicyBlueprint:
                    rel, line, text = places.at("network_policy", places.name(bp.full_name))
                else:
                    rel, line, text = places.schema_object(bp.full_name, "authentication_policy")
                out.append(RiskFlag("policy", "high", f"{kind} {places.name(bp.full_name)} {verb}", rel, line, text))
    # A network policy that lists network rules allows what those rules say: a rule changed in its own file
    # (<db>/<schema>/network_rule/<name>.yaml) changes the policy without a line of the policy changing.
    old_rules, new_rules = _blueprints(base, NetworkRuleBlueprint), _blueprints(head, NetworkRuleBlueprint)
    for name, bp in _blueprints(head, NetworkPolicyBlueprint).items():
        for listed in ("allowed_network_rule_list", "blocked_network_rule_list"):
            for rule in getattr(bp, listed) or ():
                key = str(rule)
                if old_rules.get(key) == new_rules.get(key):
                    continue
                places = head_places if key in new_rules else base_places
                rel, line, text = places.schema_object(rule, "network_rule")
                if rel and key in old_rules and key in new_rules:  # the line that changed: a new value, else the key
                    before, after = old_rules[key], new_rules[key]
                    field = next(f for f in ("value_list", "mode", "type", "comment") if getattr(before, f) != getattr(after, f))
                    added = [i for i, v in enumerate(after.value_list) if v not in before.value_list]
                    path = [field, added[0]] if field == "value_list" and added else [field]
                    found = places.file_at(rel, path)
                    rel, line, text = found if found[1] else (rel, line, text)
                verb = "added" if key not in old_rules else "removed" if key not in new_rules else "changed"
                out.append(RiskFlag("policy", "high", f"network policy {places.name(bp.full_name)}: its network rule "
                                                      f"{places.name(key)} ({listed.split('_')[0]}) is {verb}", rel, line, text))
    old_refs, new_refs = _policy_refs(base), _policy_refs(head)
    for key in sorted(set(old_refs) | set(new_refs)):
        before, after = old_refs.get(key, set()), new_refs.get(key, set())
        if before == after:
            continue
        kind, target = key
        places = head_places if after else base_places
        if target == "ACCOUNT":
            rel, line, text = places.file_at(places.snapshot.file("account_policy"), [kind])
            what = "the account"
        else:
            rel, line, text = places.at("user", places.name(target), [kind])
            what = f"user {places.name(target)}"
        change = f"{kind.replace('_', ' ')} of {what}: " + (
            f"{', '.join(places.name(n) for n in sorted(before)) or 'none'} -> {', '.join(places.name(n) for n in sorted(after)) or 'none'}")
        out.append(RiskFlag("policy", "high", change, rel, line, text))
    return out


def _mfa_enforced(snapshot, user: str) -> bool:
    policies = _blueprints(snapshot, AuthenticationPolicyBlueprint)
    refs = _policy_refs(snapshot)
    attached = refs.get(("authentication_policy", user)) or refs.get(("authentication_policy", "ACCOUNT")) or set()
    return any(str(policies[n].mfa_enrollment or "").upper() in MFA_ENFORCING for n in attached if n in policies)


def _user_flags(base, head, places: _Places) -> list[RiskFlag]:
    out = []
    old, new = _blueprints(base, UserBlueprint), _blueprints(head, UserBlueprint)
    old_refs, new_refs = _policy_refs(base), _policy_refs(head)
    for name, bp in new.items():
        before = old.get(name)
        entry = places.name(bp.full_name)
        kind = (bp.type or "PERSON").upper()
        if kind in ("SERVICE", "LEGACY_SERVICE") and bp.password and (
                before is None or before.password != bp.password or (before.type or "PERSON").upper() != kind):
            rel, line, text = places.at("user", entry, ["password"])
            out.append(RiskFlag("service_password", "high",
                                f"{kind} user {entry} has a password: service users should sign in with a key pair", rel, line, text))
        if kind == "PERSON":
            touched = before is None or (before.type, before.password) != (bp.type, bp.password) or any(
                old_refs.get((k, name)) != new_refs.get((k, name)) for k in ("authentication_policy", "network_policy"))
            if touched and not _mfa_enforced(head, name):
                rel, line, text = places.at("user", entry)
                out.append(RiskFlag("no_mfa", "medium",
                                    f"PERSON user {entry} has no authentication policy that enforces MFA "
                                    f"(MFA_ENROLLMENT {' or '.join(MFA_ENFORCING)})", rel, line, text))
    return out


def _end_date_flags(base, head) -> list[RiskFlag]:
    from core import expiry

    def grants(snapshot) -> dict:
        try:
            found, _ = expiry.all_grants(snapshot.text(expiry.EXPIRY_FILE), snapshot.text(snapshot.file("user")))
        except expiry.ExpiryError:
            return {}  # validation reports an unreadable file
        return {(g.user, g.role): g for g in found}

    before, after = grants(base), grants(head)
    if not before:
        return []
    users = yaml_reader.load(head.text(head.file("user")) or "")
    held = {str(k).upper(): {str(r).upper() for r in (v.get("business_roles") or []) if isinstance(r, str)}
            for k, v in users.items() if isinstance(v, dict) and isinstance(v.get("business_roles") or [], list)}
    out = []
    head_text = (head.text(expiry.EXPIRY_FILE) or "").split("\n")  # to find an entry's `until:` line
    for key, old in sorted(before.items()):
        new = after.get(key)
        if new is None and old.role in held.get(old.user, ()):
            rel = base.file("user") if old.legacy else expiry.EXPIRY_FILE
            out.append(RiskFlag("end_date", "medium", f"{old.user} keeps business role {old.role} for good: its end "
                                f"date {old.until.isoformat()} is removed", rel, old.line,
                                _line_text(base.text(rel) or "", old.line)))
        elif new is not None and new.until > old.until:
            rel, line = (head.file("user"), new.line) if new.legacy else (expiry.EXPIRY_FILE, new.line)
            if line and not new.legacy:  # the entry's `until:` line, a few lines below its role
                line = next((n for n in range(line, min(line + 4, len(head_text)) + 1)
                             if head_text[n - 1].strip().startswith("until:")), line)
            text = _line_text(head.text(rel) or "", line)
            out.append(RiskFlag("end_date", "medium", f"{old.user}'s business role {old.role} is extended from "
                                f"{old.until.isoformat()} to {new.until.isoformat()} ({(new.until - old.until).days} days)",
                                rel, line, text))
    return out


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


def _reviewer_users(snapshot, reviewer: Iterable[str]) -> set[str]:
    """Full names of the Snowflake users that are the reviewer: same name, login name or email."""
    wanted = {str(x).strip().upper() for x in reviewer if x and str(x).strip()}
    if not wanted:
        return set()
    prefix = snapshot.config.snowddl.env_prefix or "" if snapshot.config.snowddl else ""
    return {name for name, bp in _blueprints(snapshot, UserBlueprint).items()
            if {name.removeprefix(prefix).upper(), str(bp.login_name or "").upper(), str(bp.email or "").upper()} & wanted}


def _own_access_flags(base, head, graphs: tuple[ReachGraph, ReachGraph], head_places: _Places, base_places: _Places,
                      reviewer: Iterable[str]) -> list[RiskFlag]:
    reviewer = list(reviewer)
    mine = _reviewer_users(base, reviewer) | _reviewer_users(head, reviewer)
    if not mine:
        return []
    out = []
    old_u, new_u = _blueprints(base, UserBlueprint), _blueprints(head, UserBlueprint)
    for name in sorted(mine):
        before, after = old_u.get(name), new_u.get(name)
        if before is after or before == after:
            continue
        places = head_places if after is not None else base_places
        entry = places.name(name)
        verb = "added" if before is None else "removed" if after is None else "changed"
        rel, line, text = places.at("user", entry)
        out.append(RiskFlag("own_access", "high", f"your own Snowflake user {entry} is {verb}: another approver should review this",
                            rel, line, text))
    # Roles the reviewer's users hold (before or after), whose own definition the change alters.
    held: set[str] = set()
    for graph in graphs:
        queue = deque(r for u in mine for r in graph.user_roles.get(u, []))
        while queue:
            role = queue.popleft()
            if role not in held:
                held.add(role)
                queue.extend(graph.children.get(role, ()))
    config = head.config.snowddl
    for cls, kind, suffix in ((BusinessRoleBlueprint, "business_role", config.BUSINESS_ROLE_SUFFIX),
                              (TechnicalRoleBlueprint, "technical_role", config.TECHNICAL_ROLE_SUFFIX)):
        added, changed, removed = _changed(_blueprints(base, cls), _blueprints(head, cls))
        for places, bp in [(head_places, b) for b in added] + [(head_places, n) for _, n in changed] + [(base_places, b) for b in removed]:
            role = str(bp.full_name)
            if role in held:
                entry = places.name(role).removesuffix(f"__{suffix}")
                rel, line, text = places.at(kind, entry)
                out.append(RiskFlag("own_access", "high",
                                    f"{kind.replace('_', ' ')} {entry}, which you hold, is changed: another approver should review this",
                                    rel, line, text))
    return out


def risk_flags(base, head, plan=None, *, reviewer: Iterable[str] = (), warehouse_size_threshold: str = "LARGE") -> list[RiskFlag]:
    """The risk flags of the change from `base` to `head` (core.snowddl.commit_snapshot.Snapshot: SnowDDL's
    blueprints and files of each) with its `plan` (core.snowddl.plan.Plan or its dict; None: no statement
    flags). `reviewer`: the names, logins and emails the reviewer goes by, matched (case-insensitively)
    against Snowflake users' name, login_name and email; `warehouse_size_threshold`: a size in SIZES.

    Returns flags high first, then in file and line order. [] when either config is invalid (SnowDDL
    would not apply it; validation says why). Raises ValueError for an unknown threshold size."""
    from core.snowddl.baseline import Baseline
    from core.snowddl.plan import Plan

    size_rank(warehouse_size_threshold)
    if isinstance(plan, dict):
        plan = Plan.from_dict(plan)
    flags = _statement_flags(plan)
    ok = all(s.config.snowddl is not None and s.config.validation.valid for s in (base, head))
    if ok:
        head_places, base_places = _Places(head), _Places(base)
        # The head's roles derived from the base's baseline (only what changed is derived again), kept
        # by nobody: a request's head is no base commit, its baseline is not cached or frozen.
        before = base.baseline()
        graphs = ReachGraph.from_baseline(before), ReachGraph.from_baseline(Baseline.from_config(head.config.snowddl, previous=before))
        flags += _admin_flags(*graphs, head, head_places)
        flags += _account_grant_flags(base, head, head_places)
        flags += _ownership_flags(base, head, head_places)
        flags += _policy_flags(base, head, head_places, base_places)
        flags += _user_flags(base, head, head_places)
        flags += _warehouse_flags(base, head, head_places, warehouse_size_threshold)
        flags += _warehouse_removed_flags(base, head, base_places)
        flags += _own_access_flags(base, head, graphs, head_places, base_places, reviewer)
        flags += _end_date_flags(base, head)
    return sorted(flags, key=lambda f: (LEVELS.index(f.level), f.path == PLAN_PATH, f.path or "", f.line or 0, f.kind))
