"""Accept a finding: an admin records that a finding's risk is accepted, with a reason, until a date."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.findings_state import MAX_ACCEPT_DAYS, MAX_REASON, StateError, states_for
from app.operations.shared.audited import run_audited
from core.changes.base import ChangeError
from core.changes.model import Actor
from core.plaintext import one_line

if TYPE_CHECKING:
    from app.services import Services


@dataclass
class AcceptFinding:
    services: Services
    actor: Actor
    key: str  # the finding's key, "CODE:OBJECT" (core.findings.Finding.key)
    reason: str
    until: dt.date

    def execute(self) -> None:
        """Mark the finding accepted until `until`. Raises ChangeError (refused: not an admin, no reason, a
        reason longer than MAX_REASON, an expiry not within the next MAX_ACCEPT_DAYS days, a finding never
        seen, no records in Streamlit in Snowflake). One audit record (action accept_finding), refusals included."""
        note = one_line(f"finding {self.key[:200]} accepted until {self.until}: {self.reason}", 800)
        return run_audited(self.services, self.actor, "accept_finding", None, self._execute, note=note)

    def _execute(self, actor: Actor) -> None:
        # Why: accepting hides a risk from the alerts and the open list: only an admin may, and never for ever.
        if not actor.can("admin"):
            raise ChangeError("only admins may accept a finding; nothing was done.")
        reason = (self.reason or "").strip()
        if not reason:
            raise ChangeError("a reason is required to accept a finding; nothing was done.")
        if len(reason) > MAX_REASON:
            raise ChangeError(f"the reason is longer than {MAX_REASON} characters; nothing was done.")
        if not isinstance(self.until, dt.date) or isinstance(self.until, dt.datetime):
            raise ChangeError("the expiry must be a date; nothing was done.")
        today = self.services.clock().date()
        if not today < self.until <= today + dt.timedelta(days=MAX_ACCEPT_DAYS):
            raise ChangeError(f"the expiry must be after today and at most {MAX_ACCEPT_DAYS} days ahead; nothing was done.")
        try:
            states_for(self.services).accept(self.key, actor.username, reason, self.until, self.services.clock())
        except StateError as exc:
            raise ChangeError(str(exc)) from exc
