"""Reject a request for good, with the reason."""
from __future__ import annotations

from app.operations.decision import ReviewDecision
from app.operations.shared.guards import require_comment


class RejectRequest(ReviewDecision):
    decision = "reject"

    def checked_comment(self) -> str:
        # Why: a rejection is final; the requester deserves the reason.
        return require_comment(self.comment, "give the reason for rejecting")
