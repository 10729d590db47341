"""Look-ups over the time-bound grants (core.expiry) that the expiry job, its policy guard and the home
page share (moved from app/operations/expire.py):

- `time_bound_grants(services, sha)`: the grants on a commit of the base branch, read through
  `services.snapshot(sha)` (app.services.Services, or anything with that method returning a
  core.snowddl.commit_snapshot.Snapshot); [] when the expiry file is unreadable.
- `granting_request(requests, grant)`: the merged grant-role request (core.changes.model.ChangeRequest)
  that gave a grant, matched on the server's request records only.
"""
from __future__ import annotations

from core import expiry
from core.changes.model import ChangeRequest, Status


def time_bound_grants(services, sha: str | None = None) -> list[expiry.Grant]:
    """The time-bound grants on the base branch (file and legacy comments); [] if the file is unreadable."""
    snap = services.snapshot(sha)
    try:
        grants, _ = expiry.all_grants(snap.text(expiry.EXPIRY_FILE), snap.text(snap.file("user")))
    except expiry.ExpiryError:
        return []
    return grants


def granting_request(requests: list[ChangeRequest], grant: expiry.Grant) -> ChangeRequest | None:
    """The newest merged grant-role request that gave `grant` (same user, role and end date), if any.
    Matched on the server's request records only, never on text anyone typed."""
    for cr in requests:
        req = cr.request or {}
        if (cr.recipe == "grant-role" and cr.status in (Status.MERGED, Status.DEPLOYED)
                and str(req.get("name", "")).upper() == grant.user and req.get("until") == grant.until.isoformat()
                and grant.role in {str(r).upper() for r in req.get("business_roles") or []}):
            return cr
    return None
