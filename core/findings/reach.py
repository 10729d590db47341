"""Who can reach what, through the role hierarchy SnowDDL derives from a config.

The graph is built from `core.snowddl.baseline.Baseline` (SnowDDL's own resolvers' blueprints of the
config): users get their user role; user roles, business roles, technical roles and the database,
schema and warehouse access roles SnowDDL makes (__S_ROLE, __D_ROLE, __W_ROLE, ...) are linked by their
USAGE grants on roles; objects are what those roles hold grants on (future grants count for their
schema). Nothing about SnowDDL's naming or pattern expansion is re-implemented here.

`ReachGraph.from_baseline(baseline)`; `who_can_reach(kind, name)` and `what_can_reach(user)` answer
with one walk over the graph (sets and dicts; no per-query rebuild).
"""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Callable, Iterable

KINDS = ("DATABASE", "SCHEMA", "WAREHOUSE")


@dataclass
class ReachGraph:
    user_roles: dict[str, list[str]] = field(default_factory=dict)  # user -> roles granted to the user
    children: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # role -> roles it holds
    parents: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # role -> roles holding it
    role_users: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # role -> users holding it
    grants: dict[str, dict[tuple[str, str], set[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    # role -> (kind, object) -> privileges; holders: (kind, object) -> roles with a direct grant
    holders: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def from_baseline(cls, baseline) -> "ReachGraph":
        g = cls()
        for user, rows in baseline.user_grants.items():
            g.user_roles[user] = [r["role"] for r in rows]
            for r in rows:
                g.role_users[r["role"]].append(user)
        for role, rows in baseline.role_grants.items():
            for row in rows:
                kind, name = row["granted_on"], row["name"]
                if kind in ("ROLE", "DATABASE_ROLE") and row["privilege"] == "USAGE":
                    g.children[role].append(name)
                    g.parents[name].append(role)
                elif kind in KINDS:
                    g.grants[role][(kind, name)].add(row["privilege"])
                    g.holders[(kind, name)].add(role)
        for role, rows in baseline.role_future_grants.items():
            for row in rows:  # "DB.SCHEMA.<TABLE>": a privilege on the schema's future objects
                schema, _, on = row["name"].rpartition(".<")
                key = ("SCHEMA", schema)
                g.grants[role][key].add(f"{row['privilege']} on future {on.rstrip('>')}")
                g.holders[key].add(role)
        return g

    def objects(self, kind: str) -> list[str]:
        return sorted({name for k, name in self.holders if k == kind})

    def who_can_reach(self, kind: str, name: str) -> list[dict]:
        """Users who reach `name` (a DATABASE, SCHEMA "DB.SCHEMA" or WAREHOUSE), each once, with one
        shortest role path [user role, ..., role holding the grant] and that role's privileges there.
        Sorted by user. An unknown object reaches nobody: []."""
        key = (kind.upper(), name.upper())
        start = sorted(self.holders.get(key, ()))
        # Walk up from the roles holding a grant (breadth first: the first way found to a role is a
        # shortest one); `down` remembers the step towards the grant, paths are spelled out per user only.
        down: dict[str, str | None] = dict.fromkeys(start)
        queue = deque(start)
        while queue:
            role = queue.popleft()
            for parent in self.parents.get(role, ()):
                if parent not in down:
                    down[parent] = role
                    queue.append(parent)
        out: dict[str, dict] = {}
        for role in down:  # in walk order: a user's first role is on one of its shortest paths
            for user in self.role_users.get(role, ()):
                if user not in out:
                    chain, step = [role], down[role]
                    while step is not None:
                        chain.append(step)
                        step = down[step]
                    out[user] = {"user": user, "path": chain, "privileges": sorted(self.grants[chain[-1]][key])}
        return [out[u] for u in sorted(out)]

    def what_can_reach(self, user: str) -> list[dict]:
        """Objects `user` reaches: {"kind", "object", "privileges" (all, from every path), "path" (one
        shortest role path)}, sorted by kind and object. An unknown user reaches nothing: []."""
        roots = self.user_roles.get(user.upper(), [])
        path: dict[str, list[str]] = {r: [r] for r in roots}
        queue = deque(roots)
        while queue:
            role = queue.popleft()
            for child in self.children.get(role, ()):
                if child not in path:
                    path[child] = path[role] + [child]
                    queue.append(child)
        out: dict[tuple[str, str], dict] = {}
        for role, chain in path.items():
            for key, privileges in self.grants.get(role, {}).items():
                row = out.setdefault(key, {"kind": key[0], "object": key[1], "privileges": set(), "path": chain})
                row["privileges"] |= privileges
                if len(chain) < len(row["path"]):
                    row["path"] = chain
        return [dict(r, privileges=sorted(r["privileges"])) for _, r in sorted(out.items())]


USER_ROLE_SUFFIX = "__U_ROLE"  # the role SnowDDL makes for each user (folded into its user when drawn)
# Privilege kinds for the edges' colours: owner (OWNERSHIP), write (changes data or objects), read (the rest:
# USAGE, SELECT, REFERENCES, MONITOR, ...). Names as SHOW GRANTS gives them
# (https://docs.snowflake.com/en/user-guide/security-access-control-privileges).
WRITE_WORDS = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "CREATE", "MODIFY", "OPERATE", "APPLY", "EXECUTE", "WRITE")
KIND_COLOURS = {"owner": "#b42318", "write": "#c4320a", "read": "#175cd3"}
KIND_STYLE = {"owner": "bold", "write": "solid", "read": "dashed"}  # also told apart without colour


def reachable(starts: Iterable[str], step: Callable[[str], Iterable[str]]) -> set[str]:
    """Every role reached from `starts` (included) by following `step(role) -> roles`, breadth first; each
    role is stepped from once, so cycles end."""
    starts = list(starts)
    queue, seen = deque(starts), set(starts)
    while queue:
        for nxt in step(queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def privilege_kind(privileges) -> str:
    """"owner" when OWNERSHIP is among `privileges`, "write" when one changes data or objects, else "read"."""
    names = [str(p).upper() for p in privileges]
    if any(p.startswith("OWNERSHIP") for p in names):
        return "owner"
    if any(p.startswith(WRITE_WORDS) for p in names):
        return "write"
    return "read"


def fold(path: list[str]) -> list[str]:
    """A role path without the user's own role (SnowDDL's USER__U_ROLE), which the user stands for."""
    return path[1:] if path and path[0].endswith(USER_ROLE_SUFFIX) and len(path) > 1 else list(path)


def summary(rows: list[dict]) -> list[tuple[str, int, dict[str, int]]]:
    """Reach rows grouped by the first role after the user's own: [(role, users or objects, {kind: count})],
    most first. "15 users: 6 through ANALYST, ..." is made from this (`summary_text`)."""
    groups: dict[str, dict] = {}
    for row in rows:
        path = fold(row["path"])
        first = path[0] if path else "(direct)"
        g = groups.setdefault(first, {"n": 0, "kinds": defaultdict(int)})
        g["n"] += 1
        g["kinds"][privilege_kind(row["privileges"])] += 1
    return sorted(((role, g["n"], dict(g["kinds"])) for role, g in groups.items()), key=lambda t: (-t[1], t[0]))


def summary_text(rows: list[dict], noun: str) -> str:
    """'15 users: 6 through ANALYST__B_ROLE, 5 through ...' (plain text: role names come from the config)."""
    parts = [f"{n} through {role}" for role, n, _ in summary(rows)]
    return f"{len(rows)} {noun}" + (": " + ", ".join(parts) if parts else "")


def _label(name: str) -> str:
    """`name` as a Graphviz HTML-like label: letters, digits and a few safe marks as they are, every other
    character as a numeric character reference, so no name can end the label, add an attribute (a URL,
    say) or a statement, or use Graphviz's escapes (\\N, \\G). Line breaks draw as spaces; other
    control characters are dropped."""
    text = " ".join(str(name).splitlines())
    return "".join(c if c.isascii() and (c.isalnum() or c in " _.,:()-") else f"&#{ord(c)};"
                   for c in text if c.isprintable())


def dot(rows: list[dict], target: str | None = None, limit: int = 30) -> str:
    """A Graphviz digraph (left to right) of reach rows: user -> roles -> object, the user's own role
    (__U_ROLE) folded into the user, the edge to the object coloured and styled by privilege kind (owner,
    write, read: KIND_COLOURS, KIND_STYLE) with a legend. At most `limit` rows are drawn; the rest are
    counted in a note. Nodes are numbered (n0, n1, ...) and carry the names only as labels escaped by
    `_label`, so any name draws as its own text."""
    lines = ["digraph reach {", "  rankdir=LR; nodesep=0.15; ranksep=0.5;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=14];',
             '  edge [color="#98a2b3"];']
    ids: dict[str, str] = {}
    style: dict[str, str] = {}

    def node(name: str) -> str:
        if name not in ids:
            ids[name] = f"n{len(ids)}"
        return ids[name]

    edges: dict[tuple[str, str], str] = {}
    kinds_seen: set[str] = set()
    for row in rows[:limit]:
        obj = target or f"{row['kind']} {row['object']}"
        chain = ([row["user"]] if "user" in row else []) + fold(row["path"]) + [obj]
        for name in chain:
            node(name)
        for a, b in zip(chain, chain[1:], strict=False):  # each role with the next
            edges.setdefault((a, b), "")
        kind = privilege_kind(row["privileges"])
        kinds_seen.add(kind)
        edges[(chain[-2], chain[-1])] = kind
        if "user" in row:
            style[row["user"]] = ', fillcolor="#fde9c9"'
    for name in ({target} if target else {f"{r['kind']} {r['object']}" for r in rows[:limit]}):
        style[name] = ', fillcolor="#d8f0d8", shape=cylinder'
    lines += [f"  {ids[name]} [label=<{_label(name)}>{style.get(name, '')}];" for name in ids]
    for (a, b), kind in sorted(edges.items()):
        attrs = f' [color="{KIND_COLOURS[kind]}", style={KIND_STYLE[kind]}, penwidth=2]' if kind else ""
        lines.append(f"  {ids[a]} -> {ids[b]}{attrs};")
    if kinds_seen:
        lines.append('  subgraph cluster_legend { label="privilege"; fontsize=13; style=dashed; color="#d0d5dd";')
        for kind in ("owner", "write", "read"):
            if kind in kinds_seen:
                lines.append(f'    legend_{kind}_a [label="", shape=point, width=0.05]; legend_{kind}_b [label="{kind}", shape=plaintext, style=""];')
                lines.append(f'    legend_{kind}_a -> legend_{kind}_b [color="{KIND_COLOURS[kind]}", style={KIND_STYLE[kind]}, penwidth=2];')
        lines.append("  }")
    if len(rows) > limit:
        lines.append(f'  more [label="... and {len(rows) - limit} more (see the table)", shape=note, fillcolor=white];')
    lines.append("}")
    return "\n".join(lines)
