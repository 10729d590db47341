"""The unified diff git shows for a set of file changes (moved from app/operations/preview.py).

`unified_diff(base, files, prefix)`: `base` a core.snowddl.commit_snapshot.Snapshot (its `text(rel)` is a file's
text, None when missing), `files` {relative path: new text, None to delete}; returns git's unified diff
text: lines split at LF only, hunks of 3 context lines with git's default hunk-header context, a missing
final newline marked `\\ No newline at end of file`, "/dev/null" for an added or deleted file. Only the
region between the common head and tail is compared, so a change to a large file costs what its changed
lines cost.
"""
from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.snowddl.commit_snapshot import Snapshot


_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")
_CONTEXT = 3


def _lines(text: str) -> list[str]:
    """Lines as git counts them: split at LF only (a CR stays part of its line)."""
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


_FUNCNAME = re.compile(r"[A-Za-z$_]")


def _funcname(old: list[str], before: int) -> str:
    """Git's hunk-header context: the last line above the hunk that starts with a letter, `_` or `$`
    (git's default funcname rule), trailing whitespace removed, at most 80 characters."""
    for i in range(min(before, len(old)) - 1, -1, -1):
        if _FUNCNAME.match(old[i]):
            return " " + old[i].rstrip()[:80].rstrip()
    return ""


def _file_diff(old: list[str], new: list[str], a: str, b: str) -> list[str]:
    """difflib's unified diff of the region between the common head and tail only (a change to a 10 MB
    file costs what its changed lines cost), line numbers as in the whole file."""
    head = 0
    limit = min(len(old), len(new))
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    lo = max(0, head - _CONTEXT)
    old_mid, new_mid = old[lo:len(old) - max(0, tail - _CONTEXT)], new[lo:len(new) - max(0, tail - _CONTEXT)]
    out = []
    for line in difflib.unified_diff(old_mid, new_mid, a, b, n=_CONTEXT):
        m = _HUNK.match(line)
        if m:
            start = int(m.group(1)) + lo
            line = (f"@@ -{start}{m.group(2) or ''} +{int(m.group(3)) + lo}{m.group(4) or ''} @@"
                    + _funcname(old, start - 1 if m.group(2) != ",0" else start) + line[m.end():])
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return out


def unified_diff(base: Snapshot, files: dict[str, str | None], prefix: str = "") -> str:
    """The diff git shows for these changes: lines split at LF, a missing final newline marked
    `\\ No newline at end of file`, hunks of 3 context lines."""
    out = []
    for rel in sorted(files):
        old = base.text(rel)
        new = files[rel]
        a = f"a/{prefix}{rel}" if old is not None else "/dev/null"
        b = f"b/{prefix}{rel}" if new is not None else "/dev/null"
        out.extend(_file_diff(_lines(old or ""), _lines(new or ""), a, b))
    return "".join(out)
