"""Risk flags of the role hierarchy: admin_role (an admin role reached through a new grant, or MANAGE GRANTS
on the account), ownership (a business role becoming database or schema owner, a technical role an OWNERSHIP
grant) and own_access (the reviewer's own user, or a role that user holds, changed). Roles are
core.findings.reach.ReachGraph's, derived by SnowDDL's resolvers."""
from __future__ import annotations

from collections import deque
from typing import Iterable

from snowddl.blueprint import BusinessRoleBlueprint, SchemaBlueprint, TechnicalRoleBlueprint, UserBlueprint

from core.findings.reach import ReachGraph, reachable
from core.risk.flags import RiskFlag
from core.risk.places import _blueprints, _changed, _list_item, _Places

ADMIN_ROLES = ("ACCOUNTADMIN", "SECURITYADMIN", "SYSADMIN")
# Account privileges that make a role admin-level without any admin role: MANAGE GRANTS lets it grant any
# privilege on anything (it is what makes SECURITYADMIN an admin role).
ADMIN_PRIVILEGES = ("MANAGE GRANTS",)


def _admin_reachers(graph: ReachGraph) -> dict[str, set[str]]:
    """Role -> the admin roles it holds, directly or through roles it holds."""
    out: dict[str, set[str]] = {}
    for admin in ADMIN_ROLES:
        for role in reachable([admin], lambda r: graph.parents.get(r, ())):
            out.setdefault(role, set()).add(admin)
    return out




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
        for role in reachable(roles, lambda r: new.children.get(r, ())):
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
        granted = {(str(g.privilege), str(g.pattern)) for g in getattr(old_t.get(name), "grant_patterns", [])}
        entry = places.name(bp.full_name).removesuffix(f"__{head.config.snowddl.TECHNICAL_ROLE_SUFFIX}")
        for g in bp.grant_patterns:
            if str(g.privilege).upper() == "OWNERSHIP" and (str(g.privilege), str(g.pattern)) not in granted:
                rel, line, text = places.at("technical_role", entry, ["grants"])
                out.append(RiskFlag("ownership", "medium", f"technical role {entry} is granted OWNERSHIP on {g.on.name} {g.pattern}",
                                    rel, line, text))
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
