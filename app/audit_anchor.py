"""Anchors of the audit chain's head outside the audit store: git notes in the config repository.

At each merge (and each merge the repair completes), the audit log's head at that moment, `seq` and
`hash`, is written as a git note on the merged commit, under refs/notes/snowtower-audit, by the local
change backend (the demo's and a team's own bare repository). Whoever can rewrite the audit table (or
the SQLite file) but not the repository cannot rewrite the whole log consistently: `snowtower audit
verify` checks every anchored record is in the log with that hash. With the GitHub backend no anchor is
written yet (docs/security.md says what is planned: a commit status on the merged commit).
"""
from __future__ import annotations

import logging
import re

NOTES_REF = "refs/notes/snowtower-audit"
_NOTE = re.compile(r"^snowtower-audit seq=(\d+) sha256=([0-9a-f]{64})$", re.M)
_WHO = {"GIT_AUTHOR_NAME": "SnowTower", "GIT_AUTHOR_EMAIL": "snowtower@snowtower.local",
        "GIT_COMMITTER_NAME": "SnowTower", "GIT_COMMITTER_EMAIL": "snowtower@snowtower.local"}


def _repo(changes):
    """The GitRepo of a local change backend, or None (GitHub: no anchor here)."""
    from core.changes.local import LocalChanges

    return changes.repo if isinstance(changes, LocalChanges) else None


def anchor_head(services, commit: str) -> str:
    """Note the audit log's head (seq, hash) on `commit` of the config repository. Returns the note's
    text, or "" when nothing was anchored (no local repository, an empty log, or git failed: logged, the
    operation's records stand without it)."""
    repo = _repo(getattr(services, "changes", None))
    if repo is None or not commit:
        return ""
    try:
        seq, digest = services.audit.head()
        if not seq:
            return ""
        text = f"snowtower-audit seq={seq} sha256={digest}"
        repo.git("notes", "--ref", NOTES_REF, "append", "-m", text, commit, env=_WHO)
        return text
    except Exception:  # git or the store failed: the merge and its records stand; the next merge anchors again
        logging.getLogger(__name__).warning("the audit head could not be anchored on %s", commit[:12], exc_info=True)
        return ""


def read_anchors(repo) -> dict[int, str]:
    """seq -> hash of every anchor noted in `repo` (a core.changes.git.GitRepo); {} when there is none."""
    if repo is None or not repo.rev(NOTES_REF):
        return {}
    listed = repo.git("notes", "--ref", NOTES_REF, "list").split()
    blobs = listed[0::2]
    if not blobs:
        return {}
    out = repo.git("cat-file", "--batch", input=("\n".join(blobs) + "\n").encode())
    return {int(seq): digest for seq, digest in _NOTE.findall(out)}
