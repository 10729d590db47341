"""Unlock a login: an admin lifts a sign-in lock-out before it lapses by itself."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from core.changes.base import ChangeError
from core.changes.model import Actor
from portal.auth import lockout_for
from app.services import Services

LOGGER = logging.getLogger("snowtower.signin")


@dataclass
class UnlockLogin:
    services: Services
    actor: Actor
    login: str

    def execute(self) -> bool:
        """True if the login had failed attempts to forget. Raises ChangeError for a non-admin."""
        # Why: a lock-out protects a login from password guessing; only an admin may lift it early.
        if not self.actor.can("admin"):
            LOGGER.warning("unlock of %r refused: %s is not an admin", self.login, self.actor.username)
            raise ChangeError("only admins may unlock a login.")
        cleared = lockout_for(self.services.settings).clear(self.login)
        LOGGER.info("login %r unlocked by %s", self.login.lower(), self.actor.username)
        return cleared
