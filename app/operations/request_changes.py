"""Ask the requester for changes, with a comment saying what."""
from __future__ import annotations

from app.operations.decision import ReviewDecision
from app.operations.shared.guards import require_comment


class RequestChanges(ReviewDecision):
    decision = "request_changes"

    def checked_comment(self) -> str:
        # Why: "changes requested" without saying which leaves the requester guessing.
        return require_comment(self.comment, "say what should change")
