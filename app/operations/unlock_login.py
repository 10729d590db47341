"""Unlock a login: an admin lifts a sign-in lock-out before it lapses by itself."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from core.changes.base import ChangeError
from core.changes.model import Actor
from app.operations.shared.audited import run_audited
from app.operations.shared.guards import logins
from app.services import Services

LOGGER = logging.getLogger("snowtower.signin")


@dataclass
class UnlockLogin:
    services: Services
    actor: Actor
    login: str
    by: str = ""  # appended to the audit note (the command line: which account on the server)

    def execute(self) -> bool:
        """True if the login had failed attempts to forget. Raises ChangeError for a non-admin.
        Writes one audit record (action unlock_login), refusals included."""
        return run_audited(self.services, self.actor, "unlock_login", None, self._execute,
                           lambda: "", note=f"login {self.login.strip().lower()[:100]}{self.by}")

    def _execute(self, actor: Actor) -> bool:
        # Why: a lock-out protects a login from password guessing; only an admin may lift it early.
        if not actor.can("admin"):
            LOGGER.warning("unlock of %r refused: %s is not an admin", self.login, actor.username)
            raise ChangeError("only admins may unlock a login.")
        logins(self.services, actor)  # local logins only: an identity provider has its own lock-out
        cleared = self.services.lockout().clear(self.login)
        LOGGER.info("login %r unlocked by %s", self.login.lower(), actor.username)
        return cleared
