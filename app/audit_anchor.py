"""Anchors of the audit chain's head outside the audit store, on the merged commit of each merge.

At each merge (and each merge the repair completes), the audit log's head at that moment, `seq` and
`hash`, is written where the audit store's writer cannot rewrite it, as the text
`snowtower-audit seq=<seq> sha256=<hash>` (92 characters and the digits of seq):
- local change backend (the demo's and a team's own bare repository): a git note on the merged commit,
  under refs/notes/snowtower-audit;
- GitHub backend: a commit status on the merged commit, context `snowtower/audit`, state success, the
  text as its description (https://docs.github.com/en/rest/commits/statuses#create-a-commit-status:
  a description is at most 140 characters). GitHub has no call to delete or edit a status; a newer one
  of the same context supersedes it in the commit's combined status, but "List commit statuses for a
  reference" keeps every one, and `verify` reads them all.
Whoever can rewrite the audit table (or the SQLite file) but not the repository cannot rewrite the whole
log consistently: `snowtower audit verify` checks every anchored record is in the log with that hash.
Writing an anchor is best effort: a failure is logged and the merge and its records stand; the next
merge anchors the head again, which covers every record before it (the chain links them).
"""
from __future__ import annotations

import logging
import re
from typing import Iterable

from app.audit_record import Anchor

NOTES_REF = "refs/notes/snowtower-audit"
_SHA = re.compile(r"[0-9a-f]{40}")
_NOTE = re.compile(r"^snowtower-audit seq=(\d+) sha256=([0-9a-f]{64})$", re.M)
_WHO = {"GIT_AUTHOR_NAME": "SnowTower", "GIT_AUTHOR_EMAIL": "snowtower@snowtower.local",
        "GIT_COMMITTER_NAME": "SnowTower", "GIT_COMMITTER_EMAIL": "snowtower@snowtower.local"}


def anchor_text(seq: int, digest: str) -> str:
    """The anchor as written in a git note and a commit status's description."""
    return f"snowtower-audit seq={int(seq)} sha256={digest}"


def _repo(changes):
    """The GitRepo of a local change backend, or None."""
    from core.changes.local import LocalChanges

    return changes.repo if isinstance(changes, LocalChanges) else None


def _github(changes):
    """The GitHub change backend, or None."""
    from core.changes.github import GitHubChanges

    return changes if isinstance(changes, GitHubChanges) else None


def anchor_head(services, commit: str) -> str:
    """Anchor the audit log's head (seq, hash) on `commit` of the config repository: a git note (local
    backend) or a commit status `snowtower/audit` (GitHub). Returns the anchor's text, or "" when nothing
    was anchored (no such backend, an empty log, or the write failed: logged, the operation's records
    stand without it and the next merge's anchor covers them)."""
    changes = getattr(services, "changes", None)
    repo, github = _repo(changes), _github(changes)
    if (repo is None and github is None) or not commit:
        return ""
    try:
        seq, digest = services.audit.head()
        if not seq:
            return ""
        text = anchor_text(seq, digest)
        if repo is not None:
            repo.git("notes", "--ref", NOTES_REF, "append", "-m", text, commit, env=_WHO)
        else:
            github.create_status(commit, text)
        return text
    except Exception:  # git, GitHub or the store failed: the merge and its records stand; the next merge anchors again
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


def read_github_anchors(changes, commits: Iterable[str] = ()) -> tuple[list[Anchor], int]:
    """Every anchor on GitHub: each status `snowtower/audit` the portal's login created (superseded ones
    included) on the merge commit of every pull request the portal merged, and on `commits` (the merged
    commits the log names). Returns (anchors, commits read). Raises ChangeError (GitHubUnavailable when
    GitHub cannot be reached): the caller says the anchors could not be checked."""
    from core.changes.github.statuses import AUDIT_CONTEXT

    merged = {sha: f"#{number}" for number, sha in changes.merged_commits()}
    for sha in commits:
        # Read from the log, which may be the tampered part: only a commit id goes into a URL.
        if _SHA.fullmatch(str(sha or "")) and sha not in merged:
            merged[sha] = ""
    anchors: list[Anchor] = []
    for sha, pull in merged.items():
        for status in changes.statuses(sha, AUDIT_CONTEXT):
            found = _NOTE.fullmatch(str(status.get("description") or ""))
            if found:
                of = f" of {pull}" if pull else ""
                anchors.append(Anchor(int(found.group(1)), found.group(2),
                                      f"on GitHub (status {AUDIT_CONTEXT} on commit {sha[:12]}{of}, "
                                      f"{status.get('created_at') or 'undated'})"))
    return anchors, len(merged)
