"""Access ending soon, as the home page shows it (moved from app/operations/expire.py): `ending_soon`
lists the time-bound grants on the base branch that end within some days (or ended), each an `Ending`
with the request that granted it and whether it is the viewer's own; `Ending.renewal` fills the grant
form for a renewal. A read model: no audit record, nothing written."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.services import Services
from core import expiry
from core.changes.model import Actor, ChangeRequest, Status
from core.expiry_lookup import granting_request, time_bound_grants


@dataclass
class Ending:
    """A time-bound grant as a person sees it: who gave it, and whether it is the viewer's own."""
    grant: expiry.Grant
    days_left: int  # negative: ended that many days ago (its revoke request is on its way)
    granted_by: ChangeRequest | None  # the merged grant-role request that gave it, when found
    mine: bool  # the viewer is the user, or asked for it: they may renew it

    def renewal(self, today: dt.date) -> dict:
        """The grant form's fields for a renewal: same user and role, an end date 90 days after the
        current one (or after today, if that has passed), a justification that names the earlier request."""
        g = self.grant
        until = max(g.until, today) + dt.timedelta(days=90)
        ref = self.granted_by.ref if self.granted_by else "the earlier grant"
        return {"name": g.user, "business_roles": [g.role], "until": until.isoformat(),
                "justification": f"Renewal of {ref} (until {g.until.isoformat()}): ",
                "renews": self.granted_by.id if self.granted_by else None}


def ending_soon(services: Services, viewer: Actor, within: int = 14) -> list[Ending]:
    """Time-bound grants on the base branch ending within `within` days (or ended), soonest first: all of
    them for an admin, else only the viewer's own (they are the user, or they asked for it). A read: no
    audit record, nothing written."""
    today = services.clock().date()
    grants = expiry.due(time_bound_grants(services), today, within)
    if not grants:
        return []
    merged = services.changes.list(statuses=[Status.MERGED, Status.DEPLOYED])
    out = []
    for g in grants:
        by = granting_request(merged, g)
        mine = g.user == viewer.username.upper() or (by is not None and by.requester == viewer.username)
        if mine or viewer.can("admin"):
            out.append(Ending(g, g.days_left(today), by, mine))
    return out
