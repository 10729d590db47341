"""Ask the requester for changes, with a comment saying what."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.model import Actor, ChangeRequest
from app.operations.guards import load_open, require_comment, require_head, require_reviewer
from app.operations.audited import run_audited
from app.services import Services


@dataclass
class RequestChanges:
    services: Services
    actor: Actor
    request_id: int
    comment: str
    head_sha: str | None = None  # the head commit on the reviewer's screen (None: the current one)

    def execute(self) -> ChangeRequest:
        return run_audited(self.services, self.actor, "request_changes", self.request_id, self._execute,
                           lambda: getattr(self, "commit_before", ""))

    def _execute(self) -> ChangeRequest:
        cr = load_open(self.services, self.request_id)
        self.commit_before = cr.head_sha
        require_reviewer(self.services, self.actor, cr)
        require_head(cr, self.head_sha)
        # Why: "changes requested" without saying which leaves the requester guessing.
        comment = require_comment(self.comment, "say what should change")
        return self.services.changes.review(cr, self.actor, "request_changes", comment, self.head_sha or cr.head_sha)
