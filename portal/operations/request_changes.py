"""Ask the requester for changes, with a comment saying what."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.base import ChangeError
from core.changes.model import Actor, ChangeRequest, Status
from portal.operations.guards import load_open, require_reviewer
from portal.services import Services


@dataclass
class RequestChanges:
    services: Services
    actor: Actor
    request_id: int
    comment: str

    def execute(self) -> ChangeRequest:
        cr = load_open(self.services, self.request_id)
        require_reviewer(self.actor, cr)
        # Why: "changes requested" without saying which leaves the requester guessing.
        if not self.comment.strip():
            raise ChangeError("say what should change: a comment is required.")
        return self.services.changes.review(cr, self.actor, "request_changes", self.comment.strip(), Status.CHANGES_REQUESTED)
