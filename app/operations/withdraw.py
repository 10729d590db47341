"""Withdraw: the requester takes back their own request while it is still open."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.base import ChangeError
from core.changes.model import Actor, ChangeRequest
from app.notifications import notify
from app.operations.shared.audited import run_audited
from app.operations.shared.guards import clean_comment, is_requester, load_open
from app.services import Services


@dataclass
class WithdrawRequest:
    services: Services
    actor: Actor
    request_id: int  # the request on the requester's screen
    reason: str = ""  # optional: why it is no longer needed (plain text, stored in the history)

    def execute(self) -> ChangeRequest:
        """The request, now withdrawn (Status.WITHDRAWN: its branch closed, its PR closed on GitHub).
        Raises ChangeError when the actor is not its requester, AlreadyResolved when it is merged,
        rejected or withdrawn already. One audit record (action withdraw), refusals included; approvers
        are told after the write (best effort)."""
        cr = run_audited(self.services, self.actor, "withdraw", self.request_id, self._execute,
                         lambda: getattr(self, "commit_before", ""))
        notify(self.services, "request_withdrawn", cr, self.actor, self.reason)
        return cr

    def _execute(self, actor: Actor) -> ChangeRequest:
        # Why: a merged, rejected or withdrawn request is history (the message says who closed it).
        cr = load_open(self.services, self.request_id)
        self.commit_before = cr.head_sha
        # Why: a request speaks for its requester; nobody else may take it back (reviewers reject instead).
        if not is_requester(self.services, actor, cr):
            raise ChangeError(f"only {cr.requester} can withdraw {cr.ref}; a reviewer can reject it instead.")
        self.reason = clean_comment(self.reason)
        # Why the backend's review write: the decision and the closed status land in one write (local), or
        # the decision first and the close after it, finished by the next read if it stops (GitHub).
        return self.services.changes.review(cr, actor, "withdraw", self.reason)
