"""Guards shared by the review operations, each with the reason it exists."""
from __future__ import annotations

from core.changes.base import ChangeError
from core.changes.model import Actor, ChangeRequest, Status
from core.keys import contains_private_key
from portal.services import Services


def load_open(services: Services, request_id: int) -> ChangeRequest:
    cr = services.changes.get(request_id)
    if cr is None:
        raise ChangeError(f"request #{request_id} does not exist.")
    # Why: a merged or rejected request is history; acting on it again would rewrite the record.
    if cr.status.resolved:
        raise ChangeError(f"request {cr.ref} is already {cr.status.label}.")
    return cr


def require_reviewer(actor: Actor, cr: ChangeRequest) -> None:
    # Why: only people trusted to approve may decide on others' requests.
    if not actor.can("approver"):
        raise ChangeError("only approvers and admins may review requests.")
    # Why: four eyes. The requester can never review (approve, reject) their own request, whatever the UI shows.
    if actor.username == cr.requester:
        raise ChangeError("you cannot review your own request; another approver must.")


MAX_COMMENT = 10_000  # characters


def clean_comment(comment: str) -> str:
    """A reviewer's or requester's comment, stripped. Raises ChangeError, storing nothing, when it is
    longer than MAX_COMMENT characters or holds a private key."""
    # Why: a comment is stored in the record and on the PR for good; a pasted private key must never be.
    if contains_private_key(comment):
        raise ChangeError("the comment holds a PRIVATE key; it was not stored. Remove it, and replace that key: "
                          "a private key must never leave its owner's machine.")
    # Why: hostile sizes are refused before any work or write.
    if len(comment) > MAX_COMMENT:
        raise ChangeError(f"the comment is longer than {MAX_COMMENT} characters.")
    return comment.strip()


def require_comment(comment: str, missing: str) -> str:
    """The stripped comment; `missing` says what the reviewer must write when there is none."""
    if not comment.strip():
        raise ChangeError(f"{missing}: a comment is required.")
    return clean_comment(comment)


def _latest_decisions(services: Services, cr: ChangeRequest) -> dict[str, str]:
    """Each reviewer's latest decision. (Re-applying the same request on a newer base keeps them: the
    request did not change. A resubmission changed it: earlier decisions no longer count.)"""
    latest: dict[str, str] = {}
    for review in services.changes.reviews(cr):
        if review.decision == "resubmit":
            latest.clear()
        elif review.decision in ("approve", "request_changes", "reject") and review.reviewer != cr.requester:
            latest[review.reviewer] = review.decision
    return latest


def approvals(services: Services, cr: ChangeRequest) -> list[str]:
    """Reviewers (never the requester) whose latest decision is an approval."""
    return sorted(r for r, d in _latest_decisions(services, cr).items() if d == "approve")


def status_after_review(services: Services, cr: ChangeRequest, extra_approver: str | None = None) -> Status:
    latest = _latest_decisions(services, cr)
    if extra_approver:
        latest[extra_approver] = "approve"
    # Why: as on GitHub, one reviewer's standing request for changes blocks the approvals of others.
    if "request_changes" in latest.values():
        return Status.CHANGES_REQUESTED
    approved = sum(d == "approve" for d in latest.values())
    return Status.APPROVED if approved >= services.settings.required_approvals else Status.OPEN
