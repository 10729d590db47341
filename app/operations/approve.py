"""Approve a request (never one's own): the approval covers the head commit the reviewer saw."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.model import Actor, ChangeRequest
from app.operations.guards import clean_comment, load_open, require_head, require_reviewer
from app.operations.audited import run_audited
from app.services import Services


@dataclass
class ApproveRequest:
    services: Services
    actor: Actor
    request_id: int
    comment: str = ""
    head_sha: str | None = None  # the head commit on the reviewer's screen (None: the current one)

    def execute(self) -> ChangeRequest:
        return run_audited(self.services, self.actor, "approve", self.request_id, self._execute,
                           lambda: getattr(self, "commit_before", ""))

    def _execute(self) -> ChangeRequest:
        cr = load_open(self.services, self.request_id)
        self.commit_before = cr.head_sha
        require_reviewer(self.services, self.actor, cr)
        require_head(cr, self.head_sha)
        comment = clean_comment(self.comment)
        # Why: the status is computed by the backend inside the write (core.changes.approval), so two
        # approvals at the same moment both count and a resubmission in between voids this one.
        return self.services.changes.review(cr, self.actor, "approve", comment, self.head_sha or cr.head_sha)
