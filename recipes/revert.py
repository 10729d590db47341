"""Revert a merged change whose deployment failed: the files it changed go back to their content before
it was merged, by a three-way merge on the current config (core.merge3), as `git revert` does. When the
base branch changed the same lines since, nothing is guessed: the request is refused, naming the lines.

Opened only by the deploy system actor (app.operations.revert), never through a form: it is not in
RECIPES, which people's pages and `snowtower request` offer. The request holds commits and file names,
not texts (a pull request body must stay small); the texts come in raw[SOURCES], read from git by the
application layer each time the request is built (submit, and a merge that re-applies it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core import fields, merge3
from core.fields import FieldError
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import SOURCES, ChangeSet, Collector, FieldErrors, Recipe, form
from recipes.common import JUSTIFICATION, refuse_unknown

MAX_FILES = 200  # files one revert restores
MAX_TEXT = 5_000_000  # characters of one file's text
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class FileTexts:
    path: str  # relative to the config folder
    before: str | None  # at the merged change's parent (None: the change added the file)
    after: str | None  # at the merged commit (None: the change deleted it)


@dataclass(frozen=True)
class RevertRequest:
    texts: tuple[FileTexts, ...]
    # the merged change: pull request (GitHub) or request number
    request: int = form("Merged change", "The pull request (or request) whose deployment failed.", required=True, kind="int")
    merged_sha: str = form("Merged commit", required=True)  # its commit on the base branch
    parent_sha: str = form("Commit before it", required=True)  # the base branch before it
    # The texts' paths, in their order: computed, never given (a stored request holds these, not the texts).
    files: tuple[str, ...] = form("Files it changed", is_list=True, required=True, init=False)
    justification: str = JUSTIFICATION

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", tuple(t.path for t in self.texts))


def _path(c: Collector, value: Any) -> str | None:
    text = str(value) if isinstance(value, str) else ""
    parts = text.split("/")
    if not text or len(text) > 300 or text.startswith("/") or any(p in ("", ".", "..") for p in parts) \
            or any(not ch.isprintable() for ch in text):
        c.add("files", f"{str(value)[:80]!r} is not a file of the config folder.")
        return None
    return text


def sources(raw: dict) -> list[tuple[str, str]]:
    """The (commit, file) texts a revert is built from: each file at the parent and at the merged commit.
    Raises FieldErrors when the commits or files are not well formed (nothing is read then)."""
    req = _ids(raw)
    return [(sha, rel) for rel in req[2] for sha in (req[1], req[0])]


def _ids(raw: dict) -> tuple[str, str, list[str]]:
    c = Collector()
    merged, parent = (str(raw.get(k) or "").strip().lower() for k in ("merged_sha", "parent_sha"))
    for name, sha in (("merged_sha", merged), ("parent_sha", parent)):
        if not _SHA.fullmatch(sha):
            c.add(name, "must be a full commit id (40 hexadecimal digits).")
    files = raw.get("files")
    if not isinstance(files, (list, tuple)) or not files:
        c.add("files", "names no file.")
        files = []
    elif len(files) > MAX_FILES:
        c.add("files", f"names more than {MAX_FILES} files; revert this change by hand.")
        files = []
    paths = [p for p in (_path(c, f) for f in files) if p]
    if len(set(paths)) != len(paths):
        c.add("files", "names a file twice.")
    c.raise_if_any()
    return merged, parent, paths


def parse_revert(raw: dict[str, Any], base: Snapshot) -> RevertRequest:
    c = Collector()
    number = raw.get("request")
    if isinstance(number, bool) or not isinstance(number, (int, str)) or not str(number).strip().lstrip("#").isdigit() \
            or not 0 < int(str(number).strip().lstrip("#")) < 10**9:
        c.add("request", "must be the number of a merged pull request or request.")
        number = 0
    try:
        merged, parent, paths = _ids(raw)
    except FieldErrors as exc:
        c.errors.extend(exc.errors)
        merged, parent, paths = "", "", []
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, {k: v for k, v in raw.items() if k != SOURCES}, REVERT.fields)
    given = stored if isinstance(stored := raw.get(SOURCES), dict) else {}
    texts = []
    for rel in paths:
        pair = [given.get(f"{sha}:{rel}", ...) for sha in (parent, merged)]
        if any(t is ... or (t is not None and (not isinstance(t, str) or len(t) > MAX_TEXT)) for t in pair):
            c.add("files", f"the texts of {rel} before and after the change could not be read.")
            continue
        if pair[0] == pair[1]:
            c.add("files", f"{rel} was not changed by that commit.")
            continue
        texts.append(FileTexts(rel, pair[0], pair[1]))
    c.raise_if_any()
    return RevertRequest(texts=tuple(texts), request=int(str(number).strip().lstrip("#")), merged_sha=merged, parent_sha=parent,
                         justification=why)


def _span(start: int, end: int) -> str:
    return f"line {start}" if end <= start else f"lines {start}-{end}"


def build_revert(base: Snapshot, req: RevertRequest) -> ChangeSet:
    """Each file as it was before the change, keeping what the base branch changed elsewhere since.
    Raises FieldErrors (field "request") naming every file and line range the base branch changed
    since where the change's own lines were, and when nothing of the change is left to revert."""
    out: dict[str, str | None] = {}
    clashes: list[str] = []
    for t in req.texts:
        current = base.text(t.path)
        if current == t.before:
            continue  # already as it was (reverted by hand meanwhile)
        if current == t.after:
            out[t.path] = t.before
        elif t.before is None:
            clashes.append(f"{t.path} (added by the change, edited since)")
        elif current is None or t.after is None:
            clashes.append(f"{t.path} ({'deleted' if current is None else 'created again'} since)")
        else:
            merged = merge3.merge(merge3.lines(t.after), merge3.lines(current), merge3.lines(t.before))
            if merged.clean:
                out[t.path] = "".join(merged.lines)
            else:
                clashes.append(f"{t.path} {', '.join(_span(x.ours_start, x.ours_end) for x in merged.conflicts)}")
    ref = f"#{req.request}"
    if clashes:
        raise FieldErrors([FieldError("request", f"the base branch changed the lines {ref} changed since it was merged "
                                      f"({'; '.join(clashes)}): a revert would have to guess, so none was made. "
                                      "Revert it by hand with a reviewed request.")])
    if not out:
        raise FieldErrors([FieldError("request", f"nothing of {ref}'s change is left on the current configuration: "
                                      "nothing to revert.")])
    return ChangeSet(f"Revert {ref}: its deployment failed", out,
                     f"Restores {len(out)} file(s) ({', '.join(sorted(out))}) to their content before {ref} was merged "
                     f"(commit {req.merged_sha[:12]}), keeping later changes; opened because its deployment failed.")


REVERT: Recipe[RevertRequest] = Recipe(
    "revert", "Revert a change whose deployment failed", RevertRequest, parse_revert, build_revert,
    lambda r: {"request": r.request, "merged_sha": r.merged_sha, "parent_sha": r.parent_sha, "files": list(r.files),
               "justification": r.justification},
    description="Restore the files a merged change touched, after its deployment failed (opened by SnowTower)",
    touches=("*",), sources=sources, urgent=True,
)
