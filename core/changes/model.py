"""The plain data of change requests, shared by both backends and every page."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone


class Status(str, enum.Enum):
    OPEN = "open"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    MERGED = "merged"
    DEPLOYED = "deployed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # closed by its requester before it was merged

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def resolved(self) -> bool:
        return self in (Status.MERGED, Status.DEPLOYED, Status.REJECTED, Status.WITHDRAWN)


@dataclass(frozen=True)
class Actor:
    """Who does something: the signed-in viewer, or a command-line user."""

    username: str
    name: str = ""
    email: str = ""
    roles: tuple[str, ...] = ()

    def can(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles


@dataclass
class Event:
    request_id: int
    at: str
    actor: str
    action: str  # submitted | approved | changes_requested | commented | resubmitted | voided | rejected | withdrawn | rebased | merged | deployed
    detail: str = ""


@dataclass
class Review:
    request_id: int
    reviewer: str
    decision: str  # approve | request_changes | reject | comment | resubmit | void | rebase | withdraw (core.changes.approval)
    comment: str
    at: str
    head_sha: str = ""  # the head commit the decision is about (for resubmit / void / rebase: the new head)


@dataclass
class ChangeRequest:
    id: int
    recipe: str
    title: str
    requester: str
    justification: str
    request: dict
    branch: str
    base_sha: str
    head_sha: str
    status: Status
    created_at: str
    updated_at: str
    files: list[str] = field(default_factory=list)
    validation: dict = field(default_factory=dict)
    merged_sha: str | None = None
    url: str | None = None

    @property
    def ref(self) -> str:
        return f"#{self.id}"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
