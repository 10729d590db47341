"""Access that ends by itself: grants of a business role to a user that end on a date.

SnowDDL has no end dates, so SnowTower keeps them in a file of its own inside the config folder:
`__snowtower/expiry.yaml` (EXPIRY_FILE). SnowDDL's DirectoryScanner skips every folder whose name starts
with `__` (snowddl.parser._scanner), so the file is neither read nor reported as unused, and it is
reviewed, merged and deployed with the config it belongs to. Its shape (one entry per user, one per
business role under it, names upper case as SnowDDL writes them):

    ALICE:
      ANALYST:
        until: 2026-12-31      # the last day the role is needed (YYYY-MM-DD)
        reason: "Quarter-end audit"
        renews: 12             # optional: the earlier request this grant renews

Before this file existed the grant recipe wrote `# SnowTower: ROLE until YYYY-MM-DD` comments next to the
role in user.yaml; those are still read (`legacy_grants`) and are moved into the file by the next grant
recipe that writes it (`merge_legacy`). Pure functions: no I/O, no clock (callers pass `today`).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from core.snowddl import yaml_reader

EXPIRY_FILE = "__snowtower/expiry.yaml"  # relative to the config folder
MAX_BYTES = 2_000_000  # a larger file is refused before it is parsed
MAX_GRANTS = 20_000
MAX_REASON = 500  # characters kept of a reason
HEADER = ("# SnowTower's time-bound grants (docs/expiry.md): user -> business role -> until (last day), reason,\n"
          "# renews (earlier request). SnowDDL skips folders starting with __; `snowtower validate` checks this file.\n")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}")
_LEGACY = r"#\s*SnowTower: ([A-Za-z0-9_]+) until (\d{4}-\d{2}-\d{2})"
# A line of a business_roles list that carries the old comment: `- ROLE  # SnowTower: ...` or the comment alone.
_LEGACY_LINE = re.compile(r"""\s*(?:-\s+(["']?)[A-Za-z_][A-Za-z0-9_$]*\1\s+)?""" + _LEGACY + r"\s*$")


class ExpiryError(ValueError):
    """The expiry file cannot be read at all (too large, not YAML, not a mapping)."""


@dataclass(frozen=True)
class Grant:
    user: str  # upper case
    role: str  # business role, upper case, without SnowDDL's __B_ROLE suffix
    until: dt.date  # the last day the role is needed; it ends when that day is over
    reason: str = ""
    renews: int | None = None  # the request this grant renews, if it is a renewal
    line: int | None = None  # 1-based line of the role's entry (file) or comment (user.yaml)
    legacy: bool = False  # read from a user.yaml comment, not yet in the file

    def days_left(self, today: dt.date) -> int:
        """Days until the end: 0 on the last day, negative once it has ended."""
        return (self.until - today).days

    def ended(self, today: dt.date) -> bool:
        return today > self.until


@dataclass(frozen=True)
class FileProblem:
    line: int | None
    object: str | None
    message: str


def _lines_of(text: str) -> dict[tuple[str, str | None], int]:
    """(USER, None) and (USER, ROLE) -> 1-based line, from a line scan of the canonical layout."""
    out: dict[tuple[str, str | None], int] = {}
    user = None
    for number, line in enumerate(text.split("\n"), 1):
        m = re.match(r"""^(["']?)([A-Za-z_][A-Za-z0-9_$]*)\1\s*:""", line)
        if m:
            user = m.group(2).upper()
            out.setdefault((user, None), number)
            continue
        m = re.match(r"""^  (["']?)([A-Za-z_][A-Za-z0-9_$]*)\1\s*:""", line)
        if m and user:
            out.setdefault((user, m.group(2).upper()), number)
    return out


def parse(text: str | None) -> tuple[list[Grant], list[FileProblem]]:
    """The grants of an expiry file and what is wrong with its entries (each bad entry is left out and
    reported with its line). Raises ExpiryError when the file is larger than MAX_BYTES, is no YAML, its
    top level is no mapping, or it holds more than MAX_GRANTS grants."""
    if not text:
        return [], []
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ExpiryError(f"{EXPIRY_FILE} is larger than {MAX_BYTES // 1_000_000} MB; it was not read")
    try:
        data = yaml.load(text, Loader=yaml_reader.Loader)  # read's loader; not yaml_reader.load: a list top level is reported
    except yaml.YAMLError as exc:
        raise ExpiryError(f"{EXPIRY_FILE} is not valid YAML: {' '.join(str(exc).split())[:300]}") from None
    if data is None:
        return [], []
    if not isinstance(data, dict):
        raise ExpiryError(f"{EXPIRY_FILE} must map users to their time-bound business roles")
    lines = _lines_of(text)
    grants: list[Grant] = []
    # Why: YAML keeps the last copy of a repeated key, and a reviewer reads the first: a later end date
    # could hide below an earlier one. Every copy after the first is an error (SnowDDL's names ignore case).
    problems: list[FileProblem] = [FileProblem(d.lines[-1], d.key.replace(".", " ")[:160], "is written more than once "
                                               f"(lines {', '.join(map(str, d.lines))[:80]}): keep one")
                                   for d in yaml_reader.duplicate_keys(text)]
    seen: set[tuple[str, str | None]] = set()
    for user, roles in data.items():
        if not isinstance(user, str) or not _NAME.fullmatch(user):
            problems.append(FileProblem(None, str(user)[:80], "is not a user name"))
            continue
        u = user.upper()
        if (u, None) in seen:
            problems.append(FileProblem(lines.get((u, None)), u, "is written more than once (names ignore case): keep one"))
            continue
        seen.add((u, None))
        if not isinstance(roles, dict):
            problems.append(FileProblem(lines.get((u, None)), u, "must map business roles to {until, reason}"))
            continue
        for role, entry in roles.items():
            if len(grants) >= MAX_GRANTS:
                raise ExpiryError(f"{EXPIRY_FILE} holds more than {MAX_GRANTS} grants; it was not read")
            if not isinstance(role, str) or not _NAME.fullmatch(role):
                problems.append(FileProblem(lines.get((u, None)), u, f"{str(role)[:80]!r} is not a business role name"))
                continue
            r = role.upper()
            line = lines.get((u, r), lines.get((u, None)))
            where = f"{u} {r}"
            if (u, r) in seen:
                problems.append(FileProblem(line, where, "is written more than once (names ignore case): keep one"))
                continue
            seen.add((u, r))
            if not isinstance(entry, dict):
                problems.append(FileProblem(line, where, "must be a mapping with until and reason"))
                continue
            unknown = sorted(str(k) for k in entry if k not in ("until", "reason", "renews"))
            if unknown:
                problems.append(FileProblem(line, where, f"unknown key(s) {', '.join(unknown)[:200]}: "
                                                         "only until, reason and renews are read"))
                continue
            until = entry.get("until")
            if isinstance(until, str):
                try:
                    until = dt.date.fromisoformat(until.strip())
                except ValueError:
                    until = None
            if isinstance(until, dt.datetime) or not isinstance(until, dt.date):
                problems.append(FileProblem(line, where, "until must be a date written YYYY-MM-DD"))
                continue
            reason = entry.get("reason", "")
            # Why: only text is read as a reason; an alias of aliases read as text can be gigabytes.
            if reason is not None and not isinstance(reason, str):
                problems.append(FileProblem(line, where, "reason must be text (one quoted line)"))
                continue
            renews = entry.get("renews")
            if renews is not None and (isinstance(renews, bool) or not isinstance(renews, int) or renews < 1):
                problems.append(FileProblem(line, where, "renews must be a request number"))
                continue
            grants.append(Grant(u, r, until, one_line(str(reason or "")), renews, line))
    return grants, problems


def one_line(text: str) -> str:
    """A reason as stored: whitespace runs made one space, at most MAX_REASON characters."""
    return " ".join(text.split())[:MAX_REASON]


def legacy_grants(user_text: str | None) -> list[Grant]:
    """Grants recorded the old way, as `# SnowTower: ROLE until YYYY-MM-DD` comments in user.yaml: only a
    real comment inside a user's business_roles list (after a plain role name, or on a line of its own).
    Why that strictly: the same words typed into a value (a comment, a name) are text, never an end date."""
    out: list[Grant] = []
    current = None
    in_roles = False
    for number, line in enumerate((user_text or "").split("\n"), 1):
        m = re.match(r"""(["']?)([A-Za-z_][A-Za-z0-9_$]*)\1\s*:""", line)
        if m:
            current, in_roles = m.group(2).upper(), False
            continue
        key = re.match(r"""\s+(["']?)([A-Za-z_][A-Za-z0-9_$]*)\1\s*:""", line)
        if key:  # another key of the user (or deeper): the list ends unless it is business_roles
            in_roles = key.group(2) == "business_roles" and not line[key.end():].split("#")[0].strip()
            continue
        t = _LEGACY_LINE.match(line.rstrip("\r")) if in_roles else None
        if t and current:
            try:
                until = dt.date.fromisoformat(t.group(3))
            except ValueError:
                continue
            out.append(Grant(current, t.group(2).upper(), until, "", None, number, legacy=True))
    return out


def all_grants(expiry_text: str | None, user_text: str | None) -> tuple[list[Grant], list[FileProblem]]:
    """The grants of the file plus the legacy comments the file does not hold yet (the file wins)."""
    grants, problems = parse(expiry_text)
    have = {(g.user, g.role) for g in grants}
    grants += [g for g in legacy_grants(user_text) if (g.user, g.role) not in have]
    return grants, problems


def render(grants: list[Grant]) -> str:
    """The file's canonical text (sorted by user, then role); the header alone when no grant is left.
    Reasons are written as double-quoted YAML scalars: nothing typed can add keys."""
    out = [HEADER]
    by_user: dict[str, dict[str, Grant]] = {}
    for g in grants:
        by_user.setdefault(g.user, {})[g.role] = g
    for user in sorted(by_user):
        out.append(f"{user}:\n")
        for role in sorted(by_user[user]):
            g = by_user[user][role]
            out.append(f"  {role}:\n    until: {g.until.isoformat()}\n")
            reason = yaml.safe_dump(one_line(g.reason), default_style='"', allow_unicode=True, width=10**6)
            out.append(f"    reason: {reason.strip().removesuffix('...').strip()}\n")
            if g.renews:
                out.append(f"    renews: {int(g.renews)}\n")
    return "".join(out)


def with_changes(expiry_text: str | None, user_text: str | None, *, add: Sequence[Grant] = (),
                 remove: Sequence[tuple[str, str | None]] = ()) -> str | None:
    """The file's new text (None: there is no file and none is needed): legacy comment grants moved in (the file wins over a comment), then the
    (user, role) pairs of `remove` removed (role None: all of the user's), then `add` written over any
    entry of the same pair. Raises ExpiryError when the current file cannot be yaml_reader."""
    grants, _ = all_grants(expiry_text, user_text)
    gone = {(u.upper(), r.upper() if r else None) for u, r in remove}
    kept = {(g.user, g.role): g for g in grants
            if (g.user, g.role) not in gone and (g.user, None) not in gone}
    for g in add:
        kept[(g.user, g.role)] = g
    if expiry_text is None and not kept:
        return None  # no file, and none needed
    return render([Grant(g.user, g.role, g.until, g.reason, g.renews) for g in kept.values()])


def check(grants: list[Grant], held: dict[str, set[str]], business_roles: set[str]) -> list[FileProblem]:
    """What the config contradicts: unknown users, unknown business roles, and grants the config does
    not hold (the user does not have the role in user.yaml). `held`: USER -> business roles it has."""
    out = []
    for g in grants:
        where = f"{g.user} {g.role}"
        if g.user not in held:
            out.append(FileProblem(g.line, where, f"user {g.user} is not in the configuration"))
        elif g.role not in business_roles:
            out.append(FileProblem(g.line, where, f"business role {g.role} is not in the configuration"))
        elif g.role not in held[g.user]:
            out.append(FileProblem(g.line, where, f"{g.user} does not have business role {g.role}: "
                                                  "the config does not hold this grant"))
    return out


def due(grants: list[Grant], today: dt.date, within: int = 0) -> list[Grant]:
    """Grants that have ended, or end within `within` days of `today`, soonest first."""
    return sorted((g for g in grants if g.days_left(today) <= within), key=lambda g: (g.until, g.user, g.role))
