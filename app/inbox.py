"""What Home puts first, per role (reads only): the requester's own requests and who acts next, the
approver's queue oldest first, the admin's requests ready to merge.

`next_step(cr)`: who acts next on a request, in words. `waiting_for(services, actor)`: open requests of
others the viewer has not decided on, oldest first. `ready_to_merge(services)`: approved requests, oldest
first. Figures from the account (findings, spend) are the portal's (portal/account.py): they need
Snowflake.
"""
from __future__ import annotations

from core.changes.model import Actor, ChangeRequest, Status
from app.services import Services

NEXT_STEP = {
    Status.OPEN: "an approver reviews it",
    Status.CHANGES_REQUESTED: "you: edit and resubmit it",
    Status.APPROVED: "an admin merges it",
    Status.MERGED: "the deployment runs",
    Status.DEPLOYED: "nobody: it is deployed",
    Status.REJECTED: "nobody: it was rejected",
    Status.WITHDRAWN: "nobody: it was withdrawn",
}


def next_step(cr: ChangeRequest) -> str:
    """Who acts next on `cr`, as the requester reads it ("an approver reviews it")."""
    return NEXT_STEP[cr.status]


def waiting_for(services: Services, actor: Actor) -> list[ChangeRequest]:
    """Open requests (status open) that another person asked for and the viewer has not approved on their
    current commit, oldest first: what waits for this approver. With one approval required an approved
    request is no longer open, so the reviews are read (one backend read per request) only when more than
    one approval is required."""
    out = []
    several = services.settings.required_approvals > 1
    for cr in services.changes.list(statuses=[Status.OPEN]):
        if cr.requester == actor.username:
            continue
        if several and any(r.reviewer == actor.username and r.head_sha in ("", cr.head_sha) and r.decision == "approve"
                           for r in services.changes.reviews(cr)):
            continue
        out.append(cr)
    return sorted(out, key=lambda cr: (cr.created_at, cr.id))


def ready_to_merge(services: Services) -> list[ChangeRequest]:
    """Approved requests, oldest first: what waits for an admin to merge."""
    return sorted(services.changes.list(statuses=[Status.APPROVED]), key=lambda cr: (cr.created_at, cr.id))
