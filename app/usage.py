"""Usage evidence of the deployed config's grants (core.findings.usage): the role graph of the base branch's
head, one year of ACCESS_HISTORY through the query layer (object_use.sql), and the dates SnowTower's merged
requests granted roles. One computation for the campaign page, Security, and `snowtower access-review`.
"""
from __future__ import annotations

import datetime as dt
import threading

from core.changes.model import Status
from core.findings import usage
from core.findings.access import graph_of
from core.findings.hygiene import ADMIN_ROLES
from core.snowflake.queries import ask

GRANTING_RECIPES = ("grant-role", "new-user", "new-service-user")
_CACHE: dict = {}
_LOCK = threading.Lock()
_TTL_SECONDS = 600  # ACCESS_HISTORY lags up to 3 hours: ten minutes of reuse changes no verdict


def granted_dates(services) -> dict[tuple[str, str], dt.date]:
    """(USER, ROLE) -> the day SnowTower's newest merged or deployed request granted it (its last update)."""
    out: dict[tuple[str, str], dt.date] = {}
    for cr in services.changes.list(statuses=[Status.MERGED, Status.DEPLOYED]):  # newest first
        if cr.recipe not in GRANTING_RECIPES:
            continue
        user = str(cr.request.get("name") or "").upper()
        roles = cr.request.get("business_roles") or []
        if not user or not isinstance(roles, list):
            continue
        try:
            day = dt.datetime.fromisoformat(cr.updated_at).date()
        except (TypeError, ValueError):
            continue
        for role in roles:
            out.setdefault((user, str(role).upper()), day)
    return out


def graph(services, sha: str | None = None):
    """The role graph (core.findings.access) of the config at `sha` (default: the base branch's head)."""
    return graph_of(services.snapshot(sha).baseline())


def object_uses(services, as_of: dt.datetime) -> list[usage.Use]:
    """object_use.sql over the year before `as_of` (aware UTC); cached ten minutes per source and hour."""
    key = (id(services.snowflake) if services.snowflake is not None else str(services.workspace.root),
           as_of.replace(minute=0, second=0, microsecond=0))
    now = dt.datetime.now(dt.timezone.utc)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit and (now - hit[0]).total_seconds() < _TTL_SECONDS:
            return hit[1]
    since = as_of - dt.timedelta(days=usage.HISTORY_DAYS)
    frame = ask(services.snowflake_source(), "object_use", since=since.astimezone(dt.timezone.utc).replace(tzinfo=None),
                as_of=as_of.astimezone(dt.timezone.utc).replace(tzinfo=None))
    uses = usage.uses_from_frame(frame)
    with _LOCK:
        _CACHE.clear() if len(_CACHE) > 16 else None
        _CACHE[key] = (now, uses)
    return uses


# Global privileges that change who may do what, or create account-level objects (Snowflake's global
# privileges: https://docs.snowflake.com/en/user-guide/security-access-control-privileges#global-privileges-account-level-privileges);
# EXECUTE TASK, MONITOR USAGE and the like are not admin-level.
ADMIN_PRIVILEGES = frozenset({
    "MANAGE GRANTS", "CREATE USER", "CREATE ROLE", "CREATE DATABASE", "CREATE WAREHOUSE", "CREATE INTEGRATION",
    "CREATE NETWORK POLICY", "CREATE SHARE", "CREATE ACCOUNT", "APPLY MASKING POLICY", "APPLY ROW ACCESS POLICY",
    "APPLY TAG", "APPLY AUTHENTICATION POLICY", "APPLY PASSWORD POLICY", "APPLY SESSION POLICY", "ATTACH POLICY",
    "OWNERSHIP"})


def is_admin_level(g, role: str) -> bool:
    """A business role that reaches an admin system role (ACCOUNTADMIN, SECURITYADMIN, ...) or holds an
    admin-level global privilege (ADMIN_PRIVILEGES)."""
    return any((kind == "ACCOUNT" and privilege in ADMIN_PRIVILEGES) or (kind == "ROLE" and obj.upper() in ADMIN_ROLES)
               for privilege, _, kind, obj in g.effective(role))


def in_scope(g, scope: str) -> set[tuple[str, str]]:
    """(USER, ROLE) pairs of `scope`: "all", "admin" (admin-level roles), "database:NAME" (roles that read or
    write in that database), "role:NAME". Raises ValueError for another scope."""
    kind, _, value = scope.partition(":")
    value = value.strip().upper()
    if kind not in ("all", "admin", "database", "role") or (kind in ("database", "role") and not value):
        raise ValueError("scope must be all, admin, database:NAME or role:NAME")
    out = set()
    for user in g.user_role:
        for role in usage.business_roles(g, user):
            label = g.label.get(role, role).upper()
            if kind == "role" and label != value:
                continue
            if kind == "admin" and not is_admin_level(g, role):
                continue
            if kind == "database":
                read, write = usage.scopes(g.effective(role), "")
                if not any(s.split(".")[0] == value for s in read | write):
                    continue
            out.add((user.upper(), label))
    return out


def grant_evidence(services, scope: str = "all", days: int | None = None, as_of: dt.datetime | None = None) -> list[usage.Evidence]:
    """Evidence for every (user, business role) of `scope` on the deployed config, `days` defaulting to the
    access_unused_days setting. Raises ValueError (scope) or core.snowflake.queries.QueryError (Snowflake)."""
    g = graph(services)
    only = in_scope(g, scope)
    as_of = as_of or services.clock()
    days = days or services.settings.access_unused_days
    return usage.evidence(g, object_uses(services, as_of), as_of, days, granted_dates(services), only)


def unused_findings(services, as_of: dt.datetime | None = None) -> list:
    """Right-sizing outside campaigns: every grant whose verdict is unused or never used for the
    access_unused_days setting, as a core.findings.Finding (GRANT_UNUSED, user) with its fix: a revoke-role
    request filled in (user, role, the evidence as justification). Raises QueryError when the account cannot
    be read."""
    from core.findings import Finding, Fix

    out = []
    for e in grant_evidence(services, "all", None, as_of):
        if e.verdict not in (usage.UNUSED, usage.NEVER):
            continue
        why = f"Unused grant: {e.role} of {e.user}, {e.reason} (ACCESS_HISTORY)."
        out.append(Finding("GRANT_UNUSED", "medium" if e.verdict == usage.NEVER else "low", "user", e.user,
                           f"{e.role}: {e.verdict}, {e.reason}",
                           fix=Fix("revoke-role", {"name": e.user, "business_roles": [e.role], "justification": why})))
    return out
