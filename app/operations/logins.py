"""Manage local logins (the users file): add or replace one, set its roles, disable and enable it.

The command line (`snowtower users ...`) runs these as the job identity snowtower-cli; each writes one
audit record, refusals included. Unlock is app.operations.unlock_login."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.identity import UsersFileError, add_user, check_login, update_user
from app.operations.shared.audited import run_audited
from app.operations.shared.guards import logins
from core.changes.base import ChangeError
from core.changes.model import Actor

if TYPE_CHECKING:
    from app.services import LoginServices, Services


def _login(login: str) -> str:
    return str(login).strip().lower()[:100]


@dataclass
class SaveLogin:
    """Add a login, or replace its password, roles, name and email (enabling it again)."""
    services: Services | LoginServices
    actor: Actor
    login: str
    password: str = field(repr=False)
    roles: list[str]
    name: str = ""
    email: str = ""
    by: str = ""  # appended to the audit note (the command line: which account on the server)

    def execute(self) -> None:
        """Raises ChangeError (not an admin, bad login, role or password: nothing written)."""
        return run_audited(self.services, self.actor, "user_saved", None, self._execute,
                           note=f"login {_login(self.login)} with role(s) {', '.join(map(str, self.roles))[:200]}{self.by}")

    def _execute(self, actor: Actor) -> None:
        users_file = logins(self.services, actor)
        try:
            add_user(users_file.path, self.login, self.password, list(self.roles), name=self.name, email=self.email)
        except (ValueError, OSError) as exc:  # the message names the bad field, never the password
            raise ChangeError(str(exc)) from None
        self.services.lockout().clear(_login(self.login))


@dataclass
class UpdateLogin:
    """Set a login's roles (`roles`), or disable / enable it (`disabled`). A disabled login cannot sign
    in and has no role, so every operation refuses it at once; enabling gives back its roles."""
    services: Services | LoginServices
    actor: Actor
    login: str
    roles: list[str] | None = None
    disabled: bool | None = None
    by: str = ""  # appended to the audit note

    @property
    def action(self) -> str:
        return "user_roles_set" if self.disabled is None else {True: "user_disabled", False: "user_enabled"}[self.disabled]

    def execute(self) -> dict:
        """The login's entry after the change (see app.identity.read_users). Raises ChangeError."""
        note = f"login {_login(self.login)}" + (f" with role(s) {', '.join(map(str, self.roles))[:200]}" if self.roles else "")
        return run_audited(self.services, self.actor, self.action, None, self._execute, note=note + self.by)

    def _execute(self, actor: Actor) -> dict:
        users_file = logins(self.services, actor)
        try:
            check_login(self.login)
            return update_user(users_file.path, self.login, roles=self.roles, disabled=self.disabled)
        except (ValueError, UsersFileError, OSError) as exc:
            raise ChangeError(str(exc)) from None
