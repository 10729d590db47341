"""Approve a request (never one's own): the approval covers the head commit the reviewer saw."""
from __future__ import annotations

from app.operations.decision import ReviewDecision
from app.operations.shared.guards import clean_comment


class ApproveRequest(ReviewDecision):
    decision = "approve"

    def checked_comment(self) -> str:
        return clean_comment(self.comment)
