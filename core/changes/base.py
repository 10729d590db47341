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
    def review(self, cr: ChangeRequest, actor: Actor, decision: str, comment: str, new_status: Status) -> ChangeRequest: ...

    @abstractmethod
    def update_branch(self, cr: ChangeRequest, files: dict[str, str | None], base_sha: str, actor: Actor,
                      reason: str, validation: dict, request: dict | None = None) -> ChangeRequest: ...

    @abstractmethod
    def merge(self, cr: ChangeRequest, actor: Actor) -> ChangeRequest: ...

    @abstractmethod
    def recent_commits(self, n: int = 5) -> list[dict]:
        """The base branch's latest commits: [{"sha", "author", "at", "subject"}], newest first."""

    def comment(self, cr: ChangeRequest, actor: Actor, text: str) -> ChangeRequest:
        """A comment on the request that decides nothing (the status stays)."""
        return self.review(cr, actor, "comment", text, cr.status)
