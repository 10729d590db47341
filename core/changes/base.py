"""The one interface every change-request backend implements: local git (core.changes.local) and
GitHub pull requests (core.changes.github).

The contract, for every backend:
- Errors: every refusal is a ChangeError (or one of its subclasses below) whose message is written for
  the person who asked and changes nothing; a store that cannot be reached raises ChangeError too
  (GitHub: after bounded retries), never a library's exception with a token or a traceback in it.
- Atomic: each write (open, review, update_branch, merge, deploy) either happens whole or not at all,
  as seen by readers; a crash between its git step and its record step is finished or undone by
  `repair()` (local) or by the next read (GitHub: the record lives on the PR itself).
- Status: computed from the reviews that count by core.changes.approval, the one rule, inside the
  write that records a decision; nothing reads a status a page showed.
- Reads (base_head, config_at, get, list, diff, reviews, events, recent_commits) have no side effect
  beyond caches keyed by commit; two reads with no write between return the same thing.
"""
from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from core.changes.model import Actor, ChangeRequest, Event, Review, Status


class ChangeError(RuntimeError):
    """An operation that cannot go ahead; the message is written for the person who asked."""


class BaseMoved(ChangeError):
    """The base branch moved since the change was computed: it must be computed again."""


class HeadMoved(ChangeError):
    """The request's content changed since the reviewer saw it: the decision was not recorded."""


class AlreadyResolved(ChangeError):
    """The request left the queue (merged, deployed or rejected) before the action reached it."""


class DuplicateRequest(ChangeError):
    """An open request already asks for the same change (`existing`): nothing was submitted."""

    def __init__(self, message: str, existing: ChangeRequest):
        super().__init__(message)
        self.existing = existing


class ReturnedToReview(ChangeError):
    """Merging rebuilt the change on a moved base and the result differs from what was approved:
    approvals were voided and the request is back in review. Nothing was merged."""


def resolved_message(cr: ChangeRequest, by: str | None) -> str:
    """`#12 is already merged by dana.` (or rejected / deployed), for a request that left the queue."""
    return f"{cr.ref} is already {cr.status.label}" + (f" by {by}" if by else "") + "; nothing was done."


@dataclass(frozen=True)
class MergedChange:
    """A change merged into the base branch, as the repository says (never as anyone typed it)."""
    number: int
    merged_sha: str  # its commit on the base branch
    parent_sha: str  # the base branch just before it
    deploy_failed: bool  # its deployment failed and no later one deployed it
    title: str = ""  # the request's title when SnowTower made it (from its record), else ""


class ChangeBackend(ABC):
    base_branch: str = "main"
    config_dir: str = "snowddl"

    @abstractmethod
    def base_head(self) -> str:
        """The base branch's head commit (40 hex). Raises ChangeError if the branch does not exist."""

    @abstractmethod
    def config_at(self, sha: str) -> Path:
        """The config folder as it is at commit `sha`, on disk and read-only by convention; exported
        once per commit (idempotent, safe from several processes). Raises ChangeError for an unknown commit."""

    @abstractmethod
    def open(self, *, recipe: str, title: str, body: str, requester: Actor, justification: str, request: dict,
             files: dict[str, str | None], base_sha: str, validation: dict, labels: tuple[str, ...] = ()) -> ChangeRequest:
        """Open a change request: a new branch with one commit on `base_sha` holding `files` (path in the
        config folder -> new text, None: deleted), authored by `requester`, and its record (status open,
        event "submitted"). Returns the new request. Raises BaseMoved if the base branch is no longer at
        `base_sha` (the change must be computed again). Atomic: a crash leaves no branch without a record
        (repair removes it). Not idempotent: each call opens a new request (GitHub: a retried call after
        a lost response finds the PR it opened instead of opening a second). `labels`: extra labels for
        people reading the repository (GitHub: e.g. `urgent`, added again when a retry resumes it)."""

    @abstractmethod
    def get(self, request_id: int) -> ChangeRequest | None:
        """The request with this id and its current status, or None if there is none."""

    @abstractmethod
    def list(self, requester: str | None = None, statuses: list[Status] | None = None) -> list[ChangeRequest]:
        """Requests, newest first, optionally only one requester's and only in `statuses`."""

    @abstractmethod
    def diff(self, cr: ChangeRequest) -> str:
        """The unified diff of the request's commit against its base, as git shows it ("" if empty)."""

    @abstractmethod
    def reviews(self, cr: ChangeRequest) -> builtins.list[Review]:
        """Every review that counts (portal reviews; on GitHub also mapped approvers'), oldest first."""

    @abstractmethod
    def events(self, cr: ChangeRequest) -> builtins.list[Event]:
        """The request's timeline (submitted, approved, ..., merged, deployed), oldest first: what the
        requester's page shows. The audit log of who did and was refused what is app.audit, not this."""

    @abstractmethod
    def review(self, cr: ChangeRequest, actor: Actor, decision: str, comment: str,
               seen_head: str | None = None) -> ChangeRequest:
        """Record `decision` (approve | request_changes | reject | comment | withdraw) by `actor` on request `cr.id`
        and return the request with its new status, computed by core.changes.approval from every
        review that counts, in the same write (reject and withdraw close it for good: core.changes.approval.CLOSING;
        the backend does not check who withdraws: app.operations.withdraw does). `seen_head`: the head commit the reviewer saw; if the
        request's head is another commit now, HeadMoved is raised and nothing is recorded. A request
        that left the queue meanwhile raises AlreadyResolved (saying who merged or rejected it)."""

    @abstractmethod
    def update_branch(self, cr: ChangeRequest, files: dict[str, str | None], base_sha: str, actor: Actor,
                      reason: str, validation: dict, request: dict | None = None,
                      decision: str = "rebase") -> ChangeRequest:
        """Replace the request's one commit by `files` on `base_sha`, the requester staying its git
        author and `actor` its committer. `decision` is recorded with the new head in the same write:
        "rebase" (same change on a newer base: approvals stand), "resubmit" (the requester changed it)
        or "void" (a rebuild changed the diff): both void earlier decisions. `request` replaces the
        stored request when given. Raises ChangeError if the branch moved meanwhile."""

    @abstractmethod
    def merge(self, cr: ChangeRequest, actor: Actor) -> ChangeRequest:
        """Merge approved request `cr` into the base branch (local: fast-forward; GitHub: squash) and
        return it with status merged and `merged_sha`. Raises BaseMoved if the base branch moved since
        `cr.base_sha` (re-apply first), HeadMoved if its head is not `cr.head_sha`, ChangeError if it is
        not approved now, AlreadyResolved if it left the queue. Atomic (the base branch moves by
        compare-and-swap; repair records a merge whose record a crash cut off); not repeatable: a second
        merge of the same request raises AlreadyResolved."""

    def deploy(self, cr: ChangeRequest, actor: Actor) -> ChangeRequest:
        """Deploy a just-merged request where the backend itself deploys: the demo's LocalChanges
        (deploys_on_merge) records the deployment and advances the baseline. Where a workflow outside
        SnowTower deploys (GitHub's merge-deploy workflow posts the "deployed" event), `cr` is returned
        as it is. Idempotent: a request that is not merged (or already deployed) is left as it is."""
        return cr

    @abstractmethod
    def recent_commits(self, n: int = 5) -> builtins.list[dict]:
        """The base branch's latest commits: [{"sha", "author", "at", "subject"}], newest first."""

    def resumes(self, cr: ChangeRequest, recipe: str, requester: Actor, request: dict) -> bool:
        """True when open() with this recipe, requester and request would continue open request `cr`
        instead of opening another (GitHub: the same idempotency key, a retry after a fault). Local: never."""
        return False

    def requester_names(self, cr: ChangeRequest) -> set[str]:
        """Every name the requester of `cr` goes by, none of which may review it: {cr.requester}, plus,
        on GitHub, the portal user that the requester's GitHub login is mapped to."""
        return {cr.requester}

    def comment(self, cr: ChangeRequest, actor: Actor, text: str) -> ChangeRequest:
        """A comment on the request that decides nothing (the status stays). Errors as review()."""
        return self.review(cr, actor, "comment", text)

    def merged_change(self, number: int) -> "MergedChange | None":
        """Change `number` (a pull request on GitHub, a request locally) if it was merged into the base
        branch: its commit there, the commit before it, and whether its deployment failed. None when
        there is no such change or it was not merged into the base branch."""
        raise ChangeError("this backend cannot revert merged changes.")

    def record_deploy_failure(self, cr: ChangeRequest, actor: Actor, detail: str) -> None:  # noqa: B027 - no-op by default
        """Record that the deployment of merged `cr` failed (event "deploy_failed"; local backend). Where a
        workflow deploys (GitHub), it labels the pull request `deploy-failed` itself: nothing to do here."""

    def repair(self) -> builtins.list[str]:
        """Finish or undo writes a crash interrupted; returns what was repaired, one line each ([] when
        nothing was). Idempotent: a second call right after returns []. Called at start and before writes."""
        return []
