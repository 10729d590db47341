"""Reject a request for good, with the reason."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.base import ChangeError
from core.changes.model import Actor, ChangeRequest, Status
from portal.operations.guards import load_open, require_reviewer
from portal.services import Services


@dataclass
class RejectRequest:
    services: Services
    actor: Actor
    request_id: int
    comment: str

    def execute(self) -> ChangeRequest:
        cr = load_open(self.services, self.request_id)
        require_reviewer(self.actor, cr)
        # Why: a rejection is final; the requester deserves the reason.
        if not self.comment.strip():
            raise ChangeError("give the reason for rejecting: a comment is required.")
        return self.services.changes.review(cr, self.actor, "reject", self.comment.strip(), Status.REJECTED)
