"""What an approval covers, and the one status rule both backends apply.

Pure functions over review records: no I/O. The local backend calls `status_from_reviews` inside the
SQLite transaction that writes a review; the GitHub backend calls it on the reviews it trusts.

Review decisions:
- approve / request_changes / reject / comment: a reviewer's decision (reject closes the request);
- resubmit (the requester changed the request) and void (a rebuild at merge time changed the diff):
  every earlier decision stops counting, and only approvals of the new head commit count afterwards;
- rebase: the request was re-applied on a newer base with the same change: decisions stand, and the
  new head commit becomes one more that approvals may name;
- withdraw: the requester closed the request (final); counts only from the requester.
"""
from __future__ import annotations

from typing import Collection, Iterable

from core.changes.model import Review, Status

RESETS = ("resubmit", "void")
# The history's action for each recorded decision (Event.action).
EVENT_ACTIONS = {"approve": "approved", "request_changes": "changes_requested", "reject": "rejected", "comment": "commented",
                 "resubmit": "resubmitted", "void": "voided", "rebase": "rebased", "withdraw": "withdrawn"}
DECISIONS = ("approve", "request_changes", "reject")
# Decisions that close a request for good, and the status each leaves it in.
CLOSING = {"reject": Status.REJECTED, "withdraw": Status.WITHDRAWN}


def _names(requester: str | Collection[str]) -> set[str]:
    """The names, case-folded: logins (the portal's, GitHub's) are case-insensitive."""
    return {n.casefold() for n in ([requester] if isinstance(requester, str) else requester)}


def latest_decisions(reviews: Iterable[Review], requester: str | Collection[str], head: str | None = None) -> dict[str, str]:
    """Each reviewer's latest decision that still counts: {reviewer: decision}.

    Reviews are in the order they were recorded. The requester's own decisions never count (`requester`:
    their name, or every name they go by: a GitHub login and the portal user it maps to). After a
    reset (resubmit, void) only decisions on the reset's head commit, or on a head a later `rebase`
    added, count; before any reset, every head of the request counts (a push by anyone but the portal
    makes the request itself invalid, see docs/security.md). `head`, the request's current head commit
    when given: if a reset happened and `head` is none of the heads it (and later rebases) named, the
    request holds content the remaining decisions were not about (an older signed record put back with
    its old head), so no approval counts."""
    latest: dict[str, str] = {}  # case-folded reviewer -> decision: one person under two spellings counts once
    spelled: dict[str, str] = {}  # case-folded reviewer -> the name as first recorded
    own = _names(requester)
    heads: set[str] | None = None  # None: no reset yet
    for r in reviews:
        if r.decision in RESETS:
            latest.clear()
            heads = {r.head_sha} if r.head_sha else None
        elif r.decision == "rebase":
            if heads is not None and r.head_sha:
                heads.add(r.head_sha)
        elif r.decision in DECISIONS and r.reviewer and r.reviewer.casefold() not in own:
            if heads is not None and r.head_sha not in heads:
                continue  # a decision about content that was replaced before it was recorded
            latest[r.reviewer.casefold()] = r.decision
            spelled.setdefault(r.reviewer.casefold(), r.reviewer)
    if head and heads is not None and head not in heads:
        latest = {who: d for who, d in latest.items() if d != "approve"}
    return {spelled[who]: d for who, d in latest.items()}


def approvers(reviews: Iterable[Review], requester: str | Collection[str], head: str | None = None) -> list[str]:
    """Reviewers (never the requester) whose latest counting decision is an approval, sorted.
    `head`: the request's current head commit (see `latest_decisions`)."""
    return sorted(r for r, d in latest_decisions(reviews, requester, head).items() if d == "approve")


def status_from_reviews(reviews: Iterable[Review], requester: str | Collection[str], required_approvals: int,
                        head: str | None = None) -> Status:
    """The status of a request that is not merged: WITHDRAWN once its requester withdrew it, REJECTED
    once a reviewer rejected it (both final; a backend that could not finish closing it, e.g. GitHub,
    finishes from this), else CHANGES_REQUESTED
    while a reviewer's latest decision asks for changes (it blocks the approvals of others, as on
    GitHub), else APPROVED when `required_approvals` distinct reviewers approve of the current content
    (`head`: the request's head commit, see `latest_decisions`), else OPEN."""
    reviews = list(reviews)
    # Why only the requester's: a request speaks for its requester, and only they may take it back.
    if any(r.decision == "withdraw" and r.reviewer.casefold() in _names(requester) for r in reviews):
        return Status.WITHDRAWN
    latest = latest_decisions(reviews, requester, head)
    if "reject" in latest.values():
        return Status.REJECTED
    if "request_changes" in latest.values():
        return Status.CHANGES_REQUESTED
    if sum(d == "approve" for d in latest.values()) >= max(1, required_approvals):
        return Status.APPROVED
    return Status.OPEN


def changed_lines(diff: str) -> list[tuple[str, str]]:
    """The added and removed lines of a unified diff, per file: [(path, "+line" | "-line")], in order.
    Context lines, hunk headers and index lines are left out, so a rebuild on a moved base that changes
    only where the change lands compares equal."""
    out: list[tuple[str, str]] = []
    path = ""
    for line in diff.splitlines():
        if line.startswith("+++ "):
            target = line[4:].strip()
            if target != "/dev/null":  # a deleted file keeps the path of its "---" line
                path = target[2:] if target.startswith("b/") else target
        elif line.startswith("--- "):
            source = line[4:].strip()
            path = source[2:] if source.startswith("a/") else source
        elif line.startswith(("diff ", "index ", "@@", "new file", "deleted file", "similarity", "rename ", "\\")):
            continue
        elif line.startswith(("+", "-")):
            out.append((path, line))
    return out


def same_change(approved_diff: str, rebuilt_diff: str) -> bool:
    """True when two diffs add and remove the same lines in the same files (context may differ)."""
    return changed_lines(approved_diff) == changed_lines(rebuilt_diff)
