"""The password provider (auth = local): `LocalLogins`, the users file's logins with their roles now
(the file parsed again whenever it changes); `lockout_for` (the sign-in lock-out of a workspace) and
`cookie_key` (the key that signs local logins' session cookies; SetupError outside the demo when it is
missing or guessable).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from app.host import SecretsSource, host_secrets
from app.identity.port import SetupError
from app.mode import Mode
from app.identity.users_file import MIN_COOKIE_KEY, UsersFileError, read_users
from core.changes.model import Actor
from core.lockout import Lockout
from core.workspace import Workspace

def _actor(username: str, entry: dict) -> Actor:
    name = f"{entry.get('first_name', '')} {entry.get('last_name', '')}".strip()
    return Actor(username=username, name=name or username, email=entry.get("email", ""), roles=tuple(entry["roles"]))


@dataclass
class LocalLogins:
    """Logins from the users file `path`; `mode` "demo" admits the demo logins. The file is parsed again
    whenever it changes (mtime, size); unreadable or missing: nobody has a role."""
    path: Path
    mode: str = "demo"
    lockout: Lockout | None = None
    kind: str = "local"
    _seen: dict = field(default_factory=dict, repr=False)

    def users(self) -> dict:
        """login -> entry (see read_users). Raises UsersFileError."""
        st = self.path.stat() if self.path.is_file() else None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino) if st else None
        if stamp is None or self._seen.get("stamp") != stamp:
            users = read_users(self.path, self.mode)["credentials"]["usernames"]
            self._seen.update(stamp=stamp, users=users)
        return self._seen["users"]

    def entry(self, username: str) -> dict | None:
        try:
            return self.users().get(str(username).strip().lower())
        except (OSError, UsersFileError):
            return None

    def roles_of(self, username: str) -> frozenset[str]:
        entry = self.entry(username)
        return frozenset(entry["roles"]) if entry else frozenset()

    def actor(self, username: str) -> Actor | None:
        entry = self.entry(username)
        return _actor(str(username).strip().lower(), entry) if entry and entry["roles"] else None


def lockout_for(settings) -> Lockout:
    """The sign-in lock-out of a workspace's settings (its counts live in the workspace database)."""
    return Lockout(Workspace(settings.workspace).db_path, settings.signin_max_attempts, settings.signin_lockout_minutes)


def _secret(env: str, section: str, key: str, secrets: SecretsSource = host_secrets) -> str:
    value = os.environ.get(env)
    if not value:
        try:
            source = secrets()
            value = dict(source.get(section, {})).get(key) if source is not None else None
        except Exception:  # no secrets.toml
            value = None
    return str(value or "")


def cookie_key(settings, file_key: str = "", secrets: SecretsSource = host_secrets) -> str:
    """The key that signs local logins' session cookies: environment SNOWTOWER_COOKIE_KEY, then
    the host's secrets [snowtower] cookie_key (`secrets`: app.host; st.secrets in the portal). In the demo, the users file's own random key may stand in.
    Raises SetupError outside the demo when the key is missing or guessable (app.settings.weak_key: a
    published default, a placeholder, shorter than MIN_COOKIE_KEY characters or too few different ones; a
    guessable key lets anyone forge a signed-in cookie)."""
    key = settings.cookie_key.get_secret_value() if getattr(settings, "cookie_key", None) else ""
    key = key or _secret("SNOWTOWER_COOKIE_KEY", "snowtower", "cookie_key", secrets)  # set after the settings were read
    from app.settings import weak_key

    weak = weak_key(key)
    if Mode.of(settings).is_demo:
        return file_key if weak else key
    if not key:
        raise SetupError("no cookie key: set [snowtower] cookie_key in the secrets (or SNOWTOWER_COOKIE_KEY) "
                         f"to a random value of {MIN_COOKIE_KEY} characters or more.")
    if weak:
        raise SetupError(f"the cookie key {weak}: set [snowtower] cookie_key in the secrets (or SNOWTOWER_COOKIE_KEY) "
                         f"to a random value of {MIN_COOKIE_KEY} characters or more.")
    return key
