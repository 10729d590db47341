"""Guards shared by the operations, each with the reason it exists."""
from __future__ import annotations

from core.changes.approval import approvers
from core.changes.base import AlreadyResolved, ChangeError, HeadMoved, resolved_message
from core.changes.model import Actor, ChangeRequest
from core.expiry_lookup import time_bound_grants
from core.keys import contains_private_key
from app.identity import EXPIRY_ACTOR, POLICY_ACTOR, LocalLogins
from app.services import Services


def load_open(services: Services, request_id: int) -> ChangeRequest:
    cr = services.changes.get(request_id)
    if cr is None:
        raise ChangeError(f"request #{request_id} does not exist.")
    # Why: a merged, rejected or withdrawn request is history; acting on it again would rewrite the record. The
    # message names who resolved it, so a click meant for a request that left the queue meanwhile
    # says what happened to it (and never lands on another request: the id comes from the page).
    if cr.status.resolved:
        by = next((e.actor for e in reversed(services.changes.events(cr)) if e.action in ("merged", "rejected", "withdrawn")), None)
        raise AlreadyResolved(resolved_message(cr, by))
    return cr


def require_head(cr: ChangeRequest, seen_head: str | None) -> None:
    # Why: a decision covers the commit the reviewer saw; if the request changed since the page was
    # drawn, the click is about other content. (The backends check again inside their write.)
    if seen_head and seen_head != cr.head_sha:
        raise HeadMoved(f"{cr.ref} changed since you opened it ({seen_head[:8]} -> {cr.head_sha[:8]}): "
                        "nothing was done. Reload and review the new version.")


def is_requester(services: Services, actor: Actor, cr: ChangeRequest) -> bool:
    """True when `actor` is the requester of `cr` under any name they go by (logins are case-insensitive)."""
    return actor.username.casefold() in {name.casefold() for name in services.changes.requester_names(cr)}


def require_reviewer(services: Services, actor: Actor, cr: ChangeRequest) -> None:
    # Why: only people trusted to approve may decide on others' requests.
    if not actor.can("approver"):
        raise ChangeError("only approvers and admins may review requests.")
    # Why: four eyes. The requester can never review (approve, reject) their own request, whatever the UI
    # shows, under any name they go by (a request submitted under their GitHub login is theirs too).
    if is_requester(services, actor, cr):
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


def approvals(services: Services, cr: ChangeRequest) -> list[str]:
    """Reviewers (never the requester) whose latest decision that still counts is an approval
    (the one rule: core.changes.approval)."""
    return approvers(services.changes.reviews(cr), services.changes.requester_names(cr), cr.head_sha)


def require_policy_scope(services: Services, actor: Actor, cr: ChangeRequest, decision: str) -> None:
    """Refuse (ChangeError) a decision by the expiry policy identity on anything but what it exists for.
    Anyone else passes."""
    if actor.username.casefold() != POLICY_ACTOR.username.casefold():
        return
    # Why: the policy's approver role is written in code, so this guard, not the job that calls it, keeps
    # it to its one purpose: approving the expiry job's revokes of grants that ended, while the admins
    # allow it (expiry_auto_approve).
    if not services.settings.expiry_auto_approve:
        raise ChangeError("the expiry policy approves nothing while expiry_auto_approve is off.")
    req = cr.request or {}
    if decision != "approve" or cr.recipe != "revoke-role" or cr.requester != EXPIRY_ACTOR.username:
        raise ChangeError("the expiry policy approves only the expiry job's revokes of time-bound grants that ended.")
    today = services.clock().date()
    user = str(req.get("name", "")).upper()
    ended = {g.role for g in time_bound_grants(services) if g.user == user and g.ended(today)}
    waiting = [str(r).upper() for r in req.get("business_roles") or [] if str(r).upper() not in ended]
    if waiting or not req.get("business_roles"):
        raise ChangeError(f"the expiry policy approves only revokes of grants that ended: {user}'s "
                          f"{', '.join(waiting) or 'roles'} has not ended on {services.settings.base_branch}.")


def logins(services, actor: Actor) -> LocalLogins:
    """The users file's provider, when `actor` may manage it; ChangeError otherwise (not an admin, or an
    identity provider holds the logins)."""
    # Why: only an admin manages who may sign in and with which role.
    if not actor.can("admin"):
        raise ChangeError("only admins may manage logins.")
    people = getattr(services.identity, "people", services.identity)
    # Why: with OIDC or Streamlit in Snowflake the identity provider is the authority, not a file here.
    if not isinstance(people, LocalLogins):
        raise ChangeError(f"logins are managed by the identity provider here (auth = {people.kind}), not by SnowTower.")
    return people
