"""Ask the requester for changes, with a comment saying what."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.model import Actor, ChangeRequest, Status
from portal.operations.guards import load_open, require_comment, require_reviewer
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
        comment = require_comment(self.comment, "say what should change")
        return self.services.changes.review(cr, self.actor, "request_changes", comment, Status.CHANGES_REQUESTED)
