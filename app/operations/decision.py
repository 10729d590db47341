"""What the three review decisions (approve, request changes, reject) share: the request on the
reviewer's screen, the same guards in the same order, one audit record. Each decision is its own
module and says only what is its own: its name and the comment it needs."""
from __future__ import annotations

from dataclasses import dataclass

from app.notifications import notify
from app.operations.shared.audited import run_audited
from app.operations.shared.guards import load_open, require_head, require_policy_scope, require_reviewer
from app.services import Services
from core.changes.model import Actor, ChangeRequest, Status


@dataclass
class ReviewDecision:
    services: Services
    actor: Actor
    request_id: int  # the request on the reviewer's screen: never another one
    comment: str = ""
    head_sha: str | None = None  # the head commit on the reviewer's screen (None: the current one)

    decision = ""  # approve | request_changes | reject: the review recorded and the audit record's action

    def checked_comment(self) -> str:
        """The comment to record, or ChangeError when this decision cannot be made with it."""
        raise NotImplementedError

    def execute(self) -> ChangeRequest:
        cr = run_audited(self.services, self.actor, self.decision, self.request_id, self._execute,
                         lambda: getattr(self, "commit_before", ""))
        # After the write: the requester hears the decision; admins hear when it now waits to be merged.
        notify(self.services, "request_decided", cr, self.actor, self.recorded_comment, self.decision)
        if self.decision == "approve" and cr.status == Status.APPROVED:
            notify(self.services, "request_awaiting_merge", cr, self.actor, self.recorded_comment)
        return cr

    def _execute(self, actor: Actor) -> ChangeRequest:
        cr = load_open(self.services, self.request_id)
        self.commit_before = cr.head_sha
        require_reviewer(self.services, actor, cr)
        require_policy_scope(self.services, actor, cr, self.decision)
        require_head(cr, self.head_sha)
        comment = self.recorded_comment = self.checked_comment()
        # Why: the status is computed by the backend inside the write (core.changes.approval), so two
        # decisions at the same moment both count and a resubmission in between voids this one.
        return self.services.changes.review(cr, actor, self.decision, comment, self.head_sha or cr.head_sha)
