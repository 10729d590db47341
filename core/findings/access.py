"""Effective access: what each person newly gains or loses through a change, in plain words.

Computed from two offline baselines (`core.snowddl.baseline.Baseline`: SnowDDL's own resolvers' blueprints of
the base and the head config, as SHOW GRANTS rows): users hold their user role; every role holds the
roles it has USAGE on (business -> technical, schema read / write / owner, warehouse roles, global roles)
and its grants and future grants, exactly as SnowDDL derives them (patterns expanded, permission models
applied). Nothing about SnowDDL's naming or pattern rules is re-implemented: a role's kind is the resolver
that made it, its config name is its name without the env prefix and the resolver's suffix constant.

A user's effective privileges are the union of the grants of every role reachable from their user role.
Only users who reach a role whose grants differ between the two baselines (or who are added or removed)
are looked at, and only the roles above a changed role are walked again on the head side, so a change
costs what it touches, not what the account holds.

`access_change(before, after) -> AccessChange` (pure: no I/O, no Streamlit).
- `changes`: one `Access` per (user, plain privilege, object) gained or lost, with `via` (the user's
  business roles that give it, or gave it) and `path` (from that role to the role holding the grant);
- `unchanged`: what the change requests that the user already has ("already", via the roles that give it
  today) and what a removed role gave that the user keeps through another ("kept");
- `roles`: per changed business or technical role, the users it reaches and what they gain or lose
  (the blast radius).
"""
from __future__ import annotations

import threading
import weakref
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field

from snowddl.blueprint import ObjectType

from core.findings.reach import reachable

# A privilege: (privilege, future object type or "" for a grant on the object itself, object type, object).
Priv = tuple[str, str, str, str]

_READ = {"SELECT", "REFERENCES", "READ", "USAGE", "MONITOR", "IMPORTED PRIVILEGES"}
_WRITE = {"INSERT", "UPDATE", "DELETE", "TRUNCATE", "WRITE"}
_CONTAINERS = ("DATABASE", "SCHEMA")
# Role resolvers (their class names, the keys of Baseline.blueprints) and what their roles are called.
_KINDS = {
    "BusinessRoleResolver": "business role", "TechnicalRoleResolver": "technical role", "UserRoleResolver": "user role",
    "SchemaReadRoleResolver": "schema read role", "SchemaWriteRoleResolver": "schema write role",
    "SchemaOwnerRoleResolver": "schema owner role", "DatabaseReadRoleResolver": "database read role",
    "DatabaseWriteRoleResolver": "database write role", "DatabaseOwnerRoleResolver": "database owner role",
    "WarehouseUsageRoleResolver": "warehouse usage role", "WarehouseMonitorRoleResolver": "warehouse monitor role",
    "ShareAccessRoleResolver": "share access role",
}
_SUFFIXES = {"BusinessRoleResolver": "BUSINESS_ROLE_SUFFIX", "TechnicalRoleResolver": "TECHNICAL_ROLE_SUFFIX",
             "UserRoleResolver": "USER_ROLE_SUFFIX"}
# Order of the words in a sentence: what matters most to an approver first.
_ORDER = ("own", "create", "write", "read", "run queries on", "operate", "monitor", "act as", "use")
_THIRD = {"read": "reads", "write to": "writes to", "own": "owns", "own new objects": "owns new objects", "use": "uses", "run queries on": "runs queries on",
          "operate": "operates", "monitor": "monitors", "act as": "acts as"}


def _plural(kind: str) -> str:
    try:
        return ObjectType[kind].value["plural"].lower()
    except KeyError:
        return kind.replace("_", " ").lower() + "s"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class Access:
    """One line of an access change. `user`: the user's name as the config writes it; `name`: their display
    name (or first and last name, or the user name); `privilege`: plain words ("read", "write to",
    "create tables and views", "own", "run queries on", "operate", "monitor", "use", "act as", or the
    Snowflake privilege in lower case); `object`: DB, DB.SCHEMA, a warehouse, a role or "the account";
    `object_type`: DATABASE, SCHEMA, WAREHOUSE, ROLE, ACCOUNT, TABLE ...; `change`: gained | lost |
    already | kept; `via`: the user's business roles that give it (gained, already, kept) or gave it (lost);
    `path`: the roles from the first of them down to the one holding the grant; `grants`: SnowDDL's
    grants behind it ("SELECT on future TABLE", "CREATE TABLE", ...)."""
    user: str
    name: str
    privilege: str
    object: str
    object_type: str
    change: str
    via: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    grants: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["via"], d["path"], d["grants"] = list(self.via), list(self.path), list(self.grants)
        return d

    @property
    def phrase(self) -> str:
        """"read ANALYTICS.MARTS", "create tables and views in DEV_SANDBOX.SCRATCH", "run queries on warehouse X"."""
        return _phrase(self.privilege, self.object, self.object_type)


def _phrase(word: str, obj: str, kind: str, many: bool = False) -> str:
    noun = {"WAREHOUSE": "warehouse", "ROLE": "role", "DATABASE_ROLE": "database role", "APPLICATION_ROLE": "application role"}.get(kind)
    target = f"{noun}{'s' * many} {obj}" if noun else obj
    if kind == "ACCOUNT":
        return f"{word} on the account"
    first = word.split(" ")[0]
    # "create tables in X", "own new objects in X", "read tables in X" (some types only); else "read X"
    if first in ("create", "creates") or word.endswith(" new objects") or (first in ("read", "reads") and " " in word):
        return f"{word} in {target}"
    return f"{word} {target}"


@dataclass(frozen=True)
class RoleImpact:
    """A changed business or technical role and its blast radius: `users` reaching it (before or after),
    `gained` / `lost`: [{"privilege", "object", "object_type", "users": [user names]}]."""
    role: str
    kind: str
    change: str  # added | removed | changed
    users: tuple[str, ...]
    gained: tuple[dict, ...] = ()
    lost: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        return {"role": self.role, "kind": self.kind, "change": self.change, "users": list(self.users),
                "gained": [dict(g) for g in self.gained], "lost": [dict(g) for g in self.lost]}

    def sentence(self) -> str:
        n = len(self.users)
        head = f"{self.kind.capitalize()} {self.role} ({self.change}) reaches " + (f"{n} user{'s' * (n != 1)}" if n else "no user")
        parts = []
        for label, rows in (("gain", self.gained), ("lose", self.lost)):
            for r in rows:
                k = len(r["users"])
                parts.append(f"{k} user{'s' * (k != 1)} {label}{'s' * (k == 1)} {_phrase(r['privilege'], r['object'], r['object_type'])}")
        return head + (": " + "; ".join(parts) if parts else "" if not n else ": no one gains or loses access") + "."


@dataclass
class AccessChange:
    """The effective access a change adds and removes (see the module docstring). `users`: user name ->
    display name of every user whose access was looked at (each reaches a changed role)."""
    changes: list[Access] = field(default_factory=list)
    unchanged: list[Access] = field(default_factory=list)
    roles: list[RoleImpact] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)
    error: str = ""  # why it could not be computed (an invalid config); nothing else is set then

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict:
        """{"access": [...gained / lost...], "access_unchanged": [...already / kept...], "access_roles":
        [...blast radius...], "access_text": [sentences]}: the keys a preview's JSON carries."""
        out = {"access": [a.to_dict() for a in self.changes], "access_unchanged": [a.to_dict() for a in self.unchanged],
               "access_roles": [r.to_dict() for r in self.roles], "access_text": self.sentences()}
        if self.error:
            out["access_error"] = self.error
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "AccessChange":
        def acc(d):
            return Access(**{**d, "via": tuple(d.get("via", ())), "path": tuple(d.get("path", ())),
                             "grants": tuple(d.get("grants", ()))})
        out = cls([acc(d) for d in data.get("access", [])], [acc(d) for d in data.get("access_unchanged", [])],
                  [RoleImpact(r["role"], r["kind"], r["change"], tuple(r["users"]), tuple(r["gained"]), tuple(r["lost"]))
                   for r in data.get("access_roles", [])])
        out.users = {a.user: a.name for a in out.changes + out.unchanged}
        out.error = data.get("access_error", "")
        return out

    def by_user(self) -> list[tuple[str, str, list[str]]]:
        """[(user, display name, sentences)] for every user with something to say, by display name."""
        lines: dict[str, list[str]] = defaultdict(list)
        names: dict[str, str] = {}
        for change, lead in (("gained", "will newly be able to"), ("lost", "will no longer be able to")):
            for user, rows in _grouped(a for a in self.changes if a.change == change).items():
                names[user] = rows[0].name
                lines[user].append(f"{rows[0].name} {lead} {_join_phrases(rows)}.")
        for change, lead in (("already", "already"), ("kept", "still")):
            for user, rows in _grouped(a for a in self.unchanged if a.change == change).items():
                names[user] = rows[0].name
                by_via: dict[tuple, list[Access]] = defaultdict(list)
                for a in rows:
                    by_via[a.via].append(a)
                for via, group in by_via.items():
                    through = f" through {_and(list(via))}" if via else ""
                    lines[user].append(f"{rows[0].name} {lead} {_join_phrases(group, third=True)}{through}.")
        return [(u, names[u], lines[u]) for u in sorted(lines, key=lambda u: (names[u].casefold(), u))]

    def sentences(self) -> list[str]:
        """Every sentence: the blast radius per changed role, then per user (gained, lost, already, kept);
        led by "No change in access: nobody gains or loses a privilege." when nobody does."""
        if self.error:
            return [f"Effective access not computed: {self.error}"]
        out = [r.sentence() for r in self.roles]  # the blast radius first: the size of the change
        out += [s for _, _, lines in self.by_user() for s in lines]
        if not self.changes:
            out.insert(0, "No change in access: nobody gains or loses a privilege.")
        return out


def _grouped(rows) -> dict[str, list[Access]]:
    out: dict[str, list[Access]] = defaultdict(list)
    for a in rows:
        out[a.user].append(a)
    return out


def _join_phrases(rows: list[Access], third: bool = False) -> str:
    """"read A, B and C; create tables and views in D": objects of one word and kind listed together."""
    groups: dict[tuple[str, str], list[str]] = {}
    for a in sorted(rows, key=lambda a: (_rank(a.privilege), a.privilege, a.object_type, a.object)):
        groups.setdefault((a.privilege, a.object_type), []).append(a.object)
    parts = []
    for (word, kind), objects in groups.items():
        verb = word
        if third:
            first, _, rest = word.partition(" ")
            verb = _THIRD.get(word) or (first + "s" + (" " + rest if rest else "") if first in ("create", "read") else "can " + word)
        parts.append(_phrase(verb, _and(objects), kind, len(objects) > 1) if kind != "ACCOUNT" else f"{verb} on the account")
    return "; ".join(parts)


def _rank(word: str) -> int:
    first = word.split(" ")[0]
    for i, w in enumerate(_ORDER):
        if word == w or first == w.split(" ")[0]:
            return i
    return len(_ORDER)


# -- the role graph of one baseline -------------------------------------------------------------------

class _Graph:
    """One baseline's roles as a graph: children (roles held), direct privileges, users' user roles,
    each role's kind and config name; effective privileges memoised per role."""

    def __init__(self, baseline):
        # no reference to the baseline itself: graph_of keeps graphs only while their baseline lives
        config = baseline.config
        self.prefix = (config.env_prefix or "") if config is not None else ""
        self.grants = baseline.role_grants
        self.future = baseline.role_future_grants
        self.kind: dict[str, str] = {}
        self.label: dict[str, str] = {}
        suffixes = {}
        if config is not None:
            suffixes = {r: "__" + getattr(config, attr) for r, attr in _SUFFIXES.items()}
        for resolver, bps in baseline.blueprints.items():
            kind = _KINDS.get(resolver)
            if kind is None:
                continue
            for name in bps:
                name = str(name)
                self.kind[name] = kind
                self.label[name] = self._bare(name, suffixes.get(resolver, ""))
        self.user_role: dict[str, str] = {}
        self.display: dict[str, str] = {}
        for row in baseline.users:
            user = row["name"]
            roles = baseline.user_grants.get(user) or []
            if roles:
                self.user_role[user] = roles[0]["role"]
            # the names as the config writes them (SnowDDL upper-cases display_name, defaulting to the user name)
            names = " ".join(str(x) for x in (row.get("first_name"), row.get("last_name")) if x)
            self.display[user] = names or self._bare(str(row.get("display_name") or user))
        self._children: dict[str, tuple[str, ...]] = {}
        self._direct: dict[str, frozenset] = {}
        self._eff: dict[str, frozenset] = {}
        self._parents: dict[str, set[str]] | None = None

    def _bare(self, name: str, suffix: str = "") -> str:
        if self.prefix and name.startswith(self.prefix):
            name = name[len(self.prefix):]
        return name.removesuffix(suffix) if suffix else name

    def has(self, role: str) -> bool:
        return role in self.grants

    def children(self, role: str) -> tuple[str, ...]:
        out = self._children.get(role)
        if out is None:
            out = self._children[role] = tuple(r["name"] for r in self.grants.get(role, ())
                                               if r["granted_on"] == "ROLE" and r["privilege"] == "USAGE" and r["name"] in self.grants)
        return out

    def direct(self, role: str) -> frozenset:
        out = self._direct.get(role)
        if out is None:
            privs = set()
            for r in self.grants.get(role, ()):
                on = r["granted_on"]
                if on == "ROLE" and r["privilege"] == "USAGE" and r["name"] in self.grants:
                    continue  # a role it holds: an edge, not a privilege
                privs.add((r["privilege"], "", on, self._bare(r["name"]) if on != "ACCOUNT" else "ACCOUNT"))
            for r in self.future.get(role, ()):
                parent, _, on = r["name"].rpartition(".<")
                kind = "SCHEMA" if "." in parent else "DATABASE"
                privs.add((r["privilege"], on.rstrip(">"), kind, self._bare(parent)))
            out = self._direct[role] = frozenset(privs)
        return out

    def _known(self, role: str) -> frozenset | None:
        return self._eff.get(role)

    def effective(self, role: str) -> frozenset:
        """Every privilege `role` has, its own and those of every role below it."""
        out = self._known(role)
        if out is None:
            # iterative post-order (role chains can be deep); a cycle (SnowDDL refuses them) ends the walk
            stack, seen = [(role, False)], set()
            while stack:
                r, done = stack.pop()
                if done:
                    acc = set(self.direct(r))
                    for c in self.children(r):
                        acc |= self._known(c) or frozenset()
                    self._eff[r] = frozenset(acc)
                    continue
                if r in seen or self._known(r) is not None:
                    continue
                seen.add(r)
                stack.append((r, True))
                stack.extend((c, False) for c in self.children(r) if self._known(c) is None)
            out = self._eff[role]
        return out

    def parents(self) -> dict[str, set[str]]:
        if self._parents is None:
            parents: dict[str, set[str]] = defaultdict(set)
            for role in self.grants:
                for c in self.children(role):
                    parents[c].add(role)
            self._parents = parents
        return self._parents


_GRAPHS: dict[int, tuple[weakref.ref, _Graph]] = {}
_LOCK = threading.Lock()  # previews of several sessions run at once, one thread each


def graph_of(baseline) -> _Graph:
    """The role graph of `baseline`, built once per baseline object (a base commit's is kept by its snapshot).
    Its memos are filled by whichever thread asks first; every thread would fill them with the same sets."""
    with _LOCK:
        hit = _GRAPHS.get(id(baseline))
        if hit is not None and hit[0]() is baseline:
            return hit[1]
        graph = _Graph(baseline)
        for key in [k for k, (ref, _) in _GRAPHS.items() if ref() is None]:
            del _GRAPHS[key]
        _GRAPHS[id(baseline)] = (weakref.ref(baseline), graph)
        return graph


class _Head(_Graph):
    """The head's graph, sharing the base's effective privileges for every role that reaches no changed role."""

    def __init__(self, baseline, base: _Graph, dirty: set[str]):
        super().__init__(baseline)
        self.base, self.dirty = base, dirty

    def _known(self, role: str) -> frozenset | None:
        if role not in self.dirty and self.base.has(role):
            return self.base.effective(role)
        return self._eff.get(role)

    def children(self, role: str) -> tuple[str, ...]:
        if role not in self.dirty and self.base.has(role):
            return self.base.children(role)
        return super().children(role)


# -- plain words ---------------------------------------------------------------------------------------

def _word(priv: Priv) -> tuple[str, str, str]:
    """(plain words, object, object type) of one privilege."""
    privilege, future, kind, obj = priv
    if kind == "ACCOUNT":
        p = privilege.lower()
        if p.startswith("create "):
            return "create " + _plural(privilege[7:].replace(" ", "_")), "ACCOUNT", "ACCOUNT"
        return p, "ACCOUNT", "ACCOUNT"
    if kind in ("ROLE", "DATABASE_ROLE", "APPLICATION_ROLE"):
        return "act as", obj, kind
    if privilege == "OWNERSHIP":
        return "own", obj, kind
    if kind == "WAREHOUSE":
        return {"USAGE": "run queries on", "OPERATE": "operate", "MONITOR": "monitor"}.get(privilege, privilege.lower()), obj, kind
    if privilege.startswith("CREATE ") and kind in _CONTAINERS and not future:
        return "create", obj, kind  # "create tables and views": the types are added per group
    if privilege == "IMPORTED PRIVILEGES":
        return "read", obj, kind
    if future or kind not in _CONTAINERS:
        if privilege in _WRITE:
            return "write to", obj, kind
        if privilege in _READ:
            return "read", obj, kind
        return privilege.lower(), obj, kind
    if privilege == "USAGE":
        return "use", obj, kind
    return privilege.lower(), obj, kind


def _grant_text(priv: Priv) -> str:
    privilege, future, kind, obj = priv
    if future:
        return f"{privilege} on future {future} in {kind} {obj}"
    return f"{privilege} on {kind} {obj}" if kind != "ACCOUNT" else f"{privilege} on ACCOUNT"


def _words(privs) -> dict[tuple[str, str, str], list[Priv]]:
    """Privileges grouped as (word, object, type) -> privileges; "use" of a database or schema is folded into
    another group on that object or inside it (using a schema is what reading it needs)."""
    groups: dict[tuple[str, str, str], list[Priv]] = defaultdict(list)
    for p in privs:
        groups[_word(p)].append(p)
    out: dict[tuple[str, str, str], list[Priv]] = {}
    for key, ps in groups.items():
        word, obj, kind = key
        if word == "own" and kind in _CONTAINERS and all(p[1] for p in ps):
            key = ("own new objects", obj, kind)  # future ownership: what anyone creates there
        elif word == "create":
            types = sorted({p[0][7:] for p in ps})
            key = ("create " + _and([_plural(t.replace(" ", "_")) for t in types]), obj, kind)
        elif word == "read" and kind in _CONTAINERS:
            futures = {p[1] for p in ps if p[1]}
            if futures and not {"TABLE", "VIEW"} <= futures:
                key = ("read " + _and([_plural(t) for t in sorted(futures)]), obj, kind)
        out[key] = sorted(ps)
    for key in [k for k in out if k[0] == "use"]:
        _, obj, kind = key
        cover = next((k for k in out if k != key and k[0] != "use" and k[2] in _CONTAINERS
                      and (k[1] == obj or k[1].startswith(obj + "."))), None)
        if cover is not None:
            out[cover] = sorted(out[cover] + out.pop(key))
    return out


# -- the change ----------------------------------------------------------------------------------------

def _changed_roles(base: _Graph, head: _Graph) -> set[str]:
    out = set()
    for role in set(base.grants) | set(head.grants):
        b, h = base.grants.get(role), head.grants.get(role)
        if b is None or h is None:
            out.add(role)
            continue
        bf, hf = base.future.get(role), head.future.get(role)
        if (b is not h and b != h) or (bf is not hf and bf != hf):
            out.add(role)
    return out


def _ancestors(graph: _Graph, roles: set[str], parents_of) -> set[str]:
    return reachable(roles, parents_of)


def _path(graph: _Graph, top: str, privs: set) -> tuple[str, ...]:
    """Labels of the roles from `top` down to the first role holding one of `privs` directly (breadth first)."""
    back: dict[str, str | None] = {top: None}
    queue = deque([top])
    while queue:
        role = queue.popleft()
        if graph.direct(role) & privs:
            chain = []
            node: str | None = role
            while node is not None:
                chain.append(node)
                node = back[node]
            return tuple(f"{graph.kind.get(r, 'role')} {graph.label.get(r, graph._bare(r))}" for r in reversed(chain))
        for c in graph.children(role):
            if c not in back:
                back[c] = role
                queue.append(c)
    return ()


def _entries(user, name, change, privs, graph: _Graph, tops: tuple[str, ...]) -> list[Access]:
    out = []
    for (word, obj, kind), ps in _words(privs).items():
        # the roles that give the group's own privileges (a folded USAGE on the database says nothing)
        pset = {p for p in ps if not (p[0] == "USAGE" and not p[1] and p[2] in _CONTAINERS)} or set(ps)
        via = [t for t in tops if graph.effective(t) & pset]
        path = _path(graph, via[0], pset) if via else ()
        out.append(Access(user, name, word, obj, kind, change, tuple(graph.label.get(t, graph._bare(t)) for t in via),
                          path, tuple(_grant_text(p) for p in ps)))
    return out


def access_change(before, after) -> AccessChange:
    """The effective access gained and lost per user from baseline `before` to baseline `after`
    (core.snowddl.baseline.Baseline of the base and head configs; `after` derived with previous=before shares
    the unchanged roles' rows, which makes the comparison a matter of identity). Sorted by user, then
    change, privilege and object."""
    base = graph_of(before)
    head = _Head(after, base, set())
    changed = _changed_roles(base, head)
    head.dirty = changed  # the changed roles' own rows are the head's
    # head-side parents: the base's, with the changed roles' edges replaced by the head's
    bp = base.parents()
    added: dict[str, set[str]] = defaultdict(set)
    for role in changed:
        for c in head.children(role):
            added[c].add(role)

    def head_parents(role):
        return {p for p in bp.get(role, ()) if p not in changed} | added.get(role, set())

    head.dirty = _ancestors(head, changed, head_parents)
    head.kind, head.label = {**base.kind, **head.kind}, {**base.label, **head.label}
    reach_base = _ancestors(base, {r for r in changed if base.has(r)}, lambda r: bp.get(r, ()))
    users = set()
    for graph, reach in ((base, reach_base), (head, head.dirty)):
        users |= {u for u, role in graph.user_role.items() if role in reach}
    users |= set(base.user_role) ^ set(head.user_role)

    result = AccessChange()
    newly: dict[str, frozenset] = {}  # per role held before and after: what it gives now and did not before
    gone: dict[str, frozenset] = {}  # and what it gave before and does not now

    def more(role):
        if role not in newly:
            newly[role] = head.effective(role) - base.effective(role)
        return newly[role]

    def less(role):
        if role not in gone:
            gone[role] = base.effective(role) - head.effective(role)
        return gone[role]

    for user in sorted(users):
        name = head.display.get(user) or base.display.get(user) or user
        bare = base._bare(user)
        result.users[bare] = name
        rb, rh = base.user_role.get(user), head.user_role.get(user)
        kids_b = base.children(rb) if rb else ()
        kids_h = head.children(rh) if rh else ()
        direct_b = base.direct(rb) if rb else frozenset()
        direct_h = head.direct(rh) if rh else frozenset()
        sets_b = [direct_b] + [base.effective(t) for t in kids_b]
        sets_h = [direct_h] + [head.effective(t) for t in kids_h]
        held_b, held_h = set(kids_b), set(kids_h)
        # What the change puts under the user (a role newly held, or what a role they keep newly gives) and
        # what it takes away: every privilege gained is in the first, every one lost in the second (a role
        # held before and after that reaches no changed role gives the same), so the user's whole access is
        # never unioned: each of these is looked up in the roles they hold.
        asked = set(direct_h - direct_b)
        for t in kids_h:
            if t not in held_b or not base.has(t):
                asked |= head.effective(t)
            elif t in head.dirty:
                asked |= more(t)
        taken = set(direct_b - direct_h)
        for t in kids_b:
            if t not in held_h or not head.has(t):
                taken |= base.effective(t)
            elif t in head.dirty:
                taken |= less(t)
        had = {p for p in asked if any(p in x for x in sets_b)}
        has = {p for p in taken if any(p in x for x in sets_h)}
        tops_b, tops_h = kids_b or ((rb,) if rb else ()), kids_h or ((rh,) if rh else ())
        result.changes += _entries(bare, name, "gained", asked - had, head, tops_h)
        result.changes += _entries(bare, name, "lost", taken - has, base, tops_b)
        result.unchanged += _entries(bare, name, "already", had, base, kids_b)
        result.unchanged += _entries(bare, name, "kept", has, head, kids_h)
    result.unchanged = [a for a in result.unchanged if a.privilege != "use"]  # "already uses DB" says nothing

    # the blast radius of each changed business or technical role
    for role in sorted(changed):
        kind = head.kind.get(role) or base.kind.get(role)
        if kind not in ("business role", "technical role"):
            continue
        up_b = _ancestors(base, {role}, lambda r: bp.get(r, ())) if base.has(role) else set()
        up_h = _ancestors(head, {role}, head_parents) if head.has(role) else set()
        reached = sorted({base._bare(u) for g, up in ((base, up_b), (head, up_h)) for u, r in g.user_role.items() if r in up})
        reach_set = set(reached)
        impact: dict[str, defaultdict[tuple, list]] = {"gained": defaultdict(list), "lost": defaultdict(list)}
        for a in result.changes:
            if a.user in reach_set:
                impact[a.change][(a.privilege, a.object, a.object_type)].append(a.user)
        rows = {c: tuple({"privilege": w, "object": o, "object_type": k, "users": us}
                         for (w, o, k), us in sorted(impact[c].items(), key=lambda kv: (-len(kv[1]), kv[0])))
                for c in impact}
        change = "added" if not base.has(role) else "removed" if not head.has(role) else "changed"
        label = head.label.get(role) or base.label.get(role) or base._bare(role)
        result.roles.append(RoleImpact(label, kind, change, tuple(reached), rows["gained"], rows["lost"]))

    order = {"gained": 0, "lost": 1, "already": 2, "kept": 3}
    result.changes.sort(key=lambda a: (a.name.casefold(), a.user, order[a.change], _rank(a.privilege), a.object))
    result.unchanged.sort(key=lambda a: (a.name.casefold(), a.user, order[a.change], _rank(a.privilege), a.object))
    return result
