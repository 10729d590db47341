"""Who can reach what, through the role hierarchy SnowDDL derives from a config.

The graph is built from `core.snowddl.plan.Baseline` (SnowDDL's own resolvers' blueprints of the
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


def _label(name: str) -> str:
    """`name` as a Graphviz HTML-like label: letters, digits and a few safe marks as they are, every other
    character as a numeric character reference, so no name can end the label, add an attribute (a URL,
    say) or a statement, or use Graphviz's escapes (\\N, \\G). Line breaks draw as spaces; other
    control characters are dropped."""
    text = " ".join(str(name).splitlines())
    return "".join(c if c.isascii() and (c.isalnum() or c in " _.,:()-") else f"&#{ord(c)};"
                   for c in text if c.isprintable())


def dot(rows: list[dict], target: str | None = None, limit: int = 40) -> str:
    """A Graphviz digraph (left to right) of reach rows: user -> roles -> object. At most `limit` rows are
    drawn; the rest are counted in a note. Nodes are numbered (n0, n1, ...) and carry the names only as
    labels escaped by `_label`, so any name draws as its own text."""
    lines = ["digraph reach {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];']
    ids: dict[str, str] = {}
    style: dict[str, str] = {}

    def node(name: str) -> str:
        if name not in ids:
            ids[name] = f"n{len(ids)}"
        return ids[name]

    edges: set[tuple[str, str]] = set()
    for row in rows[:limit]:
        chain = ([row["user"]] if "user" in row else []) + row["path"] + [target or f"{row['kind']} {row['object']}"]
        for name in chain:
            node(name)
        edges |= set(zip(chain, chain[1:]))
        if "user" in row:
            style[row["user"]] = ', fillcolor="#fde9c9"'
    for name in ({target} if target else {f"{r['kind']} {r['object']}" for r in rows[:limit]}):
        style[name] = ', fillcolor="#d8f0d8", shape=cylinder'
    lines += [f"  {ids[name]} [label=<{_label(name)}>{style.get(name, '')}];" for name in ids]
    lines += [f"  {ids[a]} -> {ids[b]};" for a, b in sorted(edges)]
    if len(rows) > limit:
        lines.append(f'  more [label="... and {len(rows) - limit} more (see the table)", shape=note, fillcolor=white];')
    lines.append("}")
    return "\n".join(lines)
