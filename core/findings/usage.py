"""Usage evidence per grant: for each (user, business role) in the config, what only that role gives the user,
whether the user read or wrote it lately, and a verdict.

With SnowDDL a person's queries run as their user role, which inherits every business role they hold, so a
query's role cannot say which business role it needed. What can be said comes from two sources:
- the role graph (core.findings.access: SnowDDL's own blueprints): the objects each business role lets the
  user read or write (schemas through future and schema grants, databases, single objects), and of those the
  ones no other role of the user gives ("only through this role");
- ACCESS_HISTORY (core/snowflake/sql/object_use.sql): each user's last read and last write per object.

A use counts for a role when the object lies in a scope that only this role gives the user for that kind of
access (a read needs a read scope, a write a write scope). Verdicts:
- `used`: such a use within the last `days` days;
- `never used`: SnowTower made the grant (a merged request, `granted`) and there was no such use since;
- `unused`: no such use in the last `days` days (the last one, if any in the year read, is given);
- `cannot tell`: the role gives the user no object that another role of theirs does not also give
  (or no object ACCESS_HISTORY records at all: warehouses and account privileges only).

`evidence(graph, uses, as_of, days, granted)` is pure (no I/O, no Streamlit).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

USED, UNUSED, NEVER, CANNOT_TELL = "used", "unused", "never used", "cannot tell"
VERDICTS = (USED, UNUSED, NEVER, CANNOT_TELL)
HISTORY_DAYS = 365  # ACCESS_HISTORY keeps one year (https://docs.snowflake.com/en/sql-reference/account-usage/access_history)

_READ = {"SELECT", "REFERENCES", "READ", "IMPORTED PRIVILEGES"}
_WRITE = {"INSERT", "UPDATE", "DELETE", "TRUNCATE", "WRITE"}
_NOT_DATA = {"WAREHOUSE", "ROLE", "DATABASE_ROLE", "APPLICATION_ROLE", "ACCOUNT", "USER", "INTEGRATION",
             "NETWORK_POLICY", "RESOURCE_MONITOR", "COMPUTE_POOL"}


@dataclass(frozen=True)
class Use:
    """One row of object_use.sql: `user` read or wrote `object` (DB.SCHEMA.NAME), last at `last_read` /
    `last_write` (aware UTC or None), in `queries` queries."""
    user: str
    object: str
    last_read: dt.datetime | None
    last_write: dt.datetime | None
    queries: int = 0


@dataclass
class Evidence:
    """One grant's evidence. `only_read` / `only_write`: scopes (DB, DB.SCHEMA or DB.SCHEMA.NAME) the user
    reads / writes only through `role`; `shared_with`: the user's other business roles that give something
    this role gives too; `used`: [{"object", "access" (read|write), "last" (ISO UTC), "queries"}] within the
    `days` window, newest first; `last_use`: the newest use counted for the role in the year read (or None);
    `granted`: the date SnowTower's merged request gave it (None: unknown); `verdict` one of VERDICTS;
    `reason`: the verdict in one sentence."""
    user: str
    role: str
    only_read: tuple[str, ...]
    only_write: tuple[str, ...]
    shared_with: tuple[str, ...]
    used: list[dict] = field(default_factory=list)
    last_use: dt.datetime | None = None
    granted: dt.date | None = None
    verdict: str = CANNOT_TELL
    reason: str = ""
    days: int = 90

    @property
    def key(self) -> tuple[str, str]:
        return (self.user, self.role)

    def to_dict(self) -> dict:
        return {"user": self.user, "role": self.role, "verdict": self.verdict, "reason": self.reason,
                "days": self.days, "only_read": list(self.only_read), "only_write": list(self.only_write),
                "shared_with": list(self.shared_with), "used": [dict(u) for u in self.used],
                "last_use": _iso(self.last_use), "granted": self.granted.isoformat() if self.granted else None}


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds") if value else None


def scopes(privs, prefix: str = "") -> tuple[frozenset, frozenset]:
    """(read scopes, write scopes) of a set of privileges (core.findings.access Priv tuples): the databases,
    schemas and single objects whose tables and views the privileges let their holder read / write, with the
    env prefix put back (ACCESS_HISTORY names objects as the account does). OWNERSHIP gives both."""
    read, write = set(), set()
    for privilege, future, kind, obj in privs:
        if kind in _NOT_DATA:
            continue
        container = kind in ("DATABASE", "SCHEMA")
        if container and not future and privilege != "OWNERSHIP" and privilege != "IMPORTED PRIVILEGES":
            continue  # USAGE, CREATE ...: reaching a schema, not reading what is in it
        name = (prefix + obj).upper()
        if privilege == "OWNERSHIP":
            read.add(name)
            write.add(name)
        elif privilege in _READ:
            read.add(name)
        elif privilege in _WRITE:
            write.add(name)
    return frozenset(read), frozenset(write)


def _prefixes(name: str) -> list[str]:
    """"A.B.C" -> ["A", "A.B", "A.B.C"]: the scopes that cover it (a set lookup each, not a scan)."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _covered(scope: str, others) -> bool:
    """Whether a scope of `others` (a set) is `scope` or contains it."""
    return any(p in others for p in _prefixes(scope))


def business_roles(graph, user: str) -> list[str]:
    """The user's business roles (account role names) in `graph`, as their user role holds them."""
    top = graph.user_role.get(user)
    if top is None:
        return []
    return [r for r in graph.children(top) if graph.kind.get(r) == "business role"]


def evidence(graph, uses: list[Use], as_of: dt.datetime, days: int = 90,
             granted: dict[tuple[str, str], dt.date] | None = None, only: set[tuple[str, str]] | None = None) -> list[Evidence]:
    """Evidence for every (user, business role) of `graph` (core.findings.access graph of the deployed
    config), or only the pairs in `only` (config names, upper case). `uses`: object_use.sql rows of the year
    before `as_of` (aware UTC); `days`: the window a use must fall in to count as `used`; `granted`:
    (USER, ROLE) -> date SnowTower's merged request gave it. Sorted by user, then role."""
    granted = granted or {}
    since = as_of - dt.timedelta(days=days)
    by_user: dict[str, list[Use]] = defaultdict(list)
    for u in uses:
        by_user[u.user.upper()].append(u)
    role_scopes: dict[str, tuple[frozenset, frozenset]] = {}

    def scopes_of(role: str):
        hit = role_scopes.get(role)
        if hit is None:
            hit = role_scopes[role] = scopes(graph.effective(role), graph.prefix)
        return hit

    out = []
    for user in sorted(graph.user_role):
        roles = business_roles(graph, user)
        if not roles:
            continue
        label = {r: graph.label.get(r, r) for r in roles}
        for role in roles:
            key = (user.upper(), label[role].upper())
            if only is not None and key not in only:
                continue
            read, write = scopes_of(role)
            others_read = frozenset().union(*(scopes_of(r)[0] for r in roles if r != role))
            others_write = frozenset().union(*(scopes_of(r)[1] for r in roles if r != role))
            only_read = tuple(sorted(s for s in read if not _covered(s, others_read)))
            only_write = tuple(sorted(s for s in write if not _covered(s, others_write)))
            mine_read, mine_write = frozenset(only_read), frozenset(only_write)
            shared = tuple(sorted(label[r] for r in roles if r != role and (
                any(_covered(s, scopes_of(r)[0]) for s in read) or any(_covered(s, scopes_of(r)[1]) for s in write))))
            ev = Evidence(key[0], key[1], only_read, only_write, shared, granted=granted.get(key), days=days)
            counted: list[dict] = []
            for u in by_user.get(key[0], ()):
                for access, last, mine, others in (("read", u.last_read, mine_read, others_read),
                                                   ("write", u.last_write, mine_write, others_write)):
                    # the object itself must not be reachable through another role (a narrower grant of it)
                    if last is not None and _covered(u.object, mine) and not _covered(u.object, others):
                        counted.append({"object": u.object, "access": access, "last": last, "queries": u.queries})
            counted.sort(key=lambda c: (c["last"], c["object"]), reverse=True)
            ev.last_use = counted[0]["last"] if counted else None
            ev.used = [{**c, "last": _iso(c["last"])} for c in counted if c["last"] >= since]
            _verdict(ev, as_of, days)
            out.append(ev)
    return out


def _verdict(ev: Evidence, as_of: dt.datetime, days: int) -> None:
    if not ev.only_read and not ev.only_write:
        ev.verdict = CANNOT_TELL
        ev.reason = ("everything it lets the user read or write is also given by " + ", ".join(ev.shared_with)
                     if ev.shared_with else "it gives no table or view access (ACCESS_HISTORY records object use only)")
        return
    if ev.used:
        first = ev.used[0]
        ev.verdict = USED
        ev.reason = f"{first['access']} {first['object']} on {first['last'][:10]}, only reachable through this role"
        return
    last = ev.last_use.date().isoformat() if ev.last_use else None
    if ev.granted is not None and (ev.last_use is None or ev.last_use.date() < ev.granted):
        ev.verdict = NEVER
        ev.reason = f"granted on {ev.granted.isoformat()}, not used since"
        return
    ev.verdict = UNUSED
    ev.reason = f"no use in {days} days" + (f" (last on {last})" if last else f" (none in the {HISTORY_DAYS} days kept)")


def uses_from_frame(frame) -> list[Use]:
    """object_use.sql's DataFrame -> Uses (timestamps made aware UTC)."""
    def ts(v):
        if v is None or v != v:  # NaT / NaN
            return None
        if hasattr(v, "to_pydatetime"):
            v = v.to_pydatetime()
        return v.replace(tzinfo=dt.timezone.utc) if v.tzinfo is None else v.astimezone(dt.timezone.utc)
    out = []
    for row in frame.itertuples(index=False):
        out.append(Use(str(row.USER_NAME).upper(), str(row.OBJECT_NAME).upper(), ts(row.LAST_READ), ts(row.LAST_WRITE),
                       int(row.QUERIES or 0)))
    return out
