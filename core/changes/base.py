"""The one interface every change-request backend implements: local git (core.changes.local) and
GitHub pull requests (core.changes.github)."""
from __future__ import annotations

from abc import ABC, abstractmethod
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


class ReturnedToReview(ChangeError):
    """Merging rebuilt the change on a moved base and the result differs from what was approved:
    approvals were voided and the request is back in review. Nothing was merged."""


def resolved_message(cr: ChangeRequest, by: str | None) -> str:
    """`#12 is already merged by dana.` (or rejected / deployed), for a request that left the queue."""
    return f"{cr.ref} is already {cr.status.label}" + (f" by {by}" if by else "") + "; nothing was done."


class ChangeBackend(ABC):
    base_branch: str = "main"
    config_dir: str = "snowddl"

    @abstractmethod
    def base_head(self) -> str: ...

    @abstractmethod
    def config_at(self, sha: str) -> Path:
        """The config folder as it is at commit `sha`, on disk and read-only by convention."""

    @abstractmethod
    def open(self, *, recipe: str, title: str, body: str, requester: Actor, justification: str, request: dict,
             files: dict[str, str | None], base_sha: str, validation: dict) -> ChangeRequest: ...

    @abstractmethod
    def get(self, request_id: int) -> ChangeRequest | None: ...

    @abstractmethod
    def list(self, requester: str | None = None, statuses: list[Status] | None = None) -> list[ChangeRequest]: ...

    @abstractmethod
    def diff(self, cr: ChangeRequest) -> str: ...

    @abstractmethod
    def reviews(self, cr: ChangeRequest) -> list[Review]: ...

    @abstractmethod
    def events(self, cr: ChangeRequest) -> list[Event]: ...

    @abstractmethod
    def review(self, cr: ChangeRequest, actor: Actor, decision: str, comment: str,
               seen_head: str | None = None) -> ChangeRequest:
        """Record `decision` (approve | request_changes | reject | comment) by `actor` on request `cr.id`
        and return the request with its new status, computed by core.changes.approval from every
        review that counts, in the same write. `seen_head`: the head commit the reviewer saw; if the
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
    def merge(self, cr: ChangeRequest, actor: Actor) -> ChangeRequest: ...

    @abstractmethod
    def recent_commits(self, n: int = 5) -> list[dict]:
        """The base branch's latest commits: [{"sha", "author", "at", "subject"}], newest first."""

    def requester_names(self, cr: ChangeRequest) -> set[str]:
        """Every name the requester of `cr` goes by, none of which may review it: {cr.requester}, plus,
        on GitHub, the portal user that the requester's GitHub login is mapped to."""
        return {cr.requester}

    def comment(self, cr: ChangeRequest, actor: Actor, text: str) -> ChangeRequest:
        """A comment on the request that decides nothing (the status stays)."""
        return self.review(cr, actor, "comment", text)

    def repair(self) -> list[str]:
        """Finish or undo writes a crash interrupted; returns what was repaired, one line each."""
        return []
