"""Approve a request (never one's own)."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.model import Actor, ChangeRequest
from portal.operations.guards import clean_comment, load_open, require_reviewer, status_after_review
from portal.services import Services


@dataclass
class ApproveRequest:
    services: Services
    actor: Actor
    request_id: int
    comment: str = ""

    def execute(self) -> ChangeRequest:
        cr = load_open(self.services, self.request_id)
        require_reviewer(self.actor, cr)
        comment = clean_comment(self.comment)
        status = status_after_review(self.services, cr, extra_approver=self.actor.username)
        return self.services.changes.review(cr, self.actor, "approve", comment, status)
