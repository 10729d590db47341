"""Identity: who may sign in, and the lock-out that protects their logins.

The signed-in person reaches every operation as a core.changes.model.Actor (login, name, roles) made
by the sign-in (portal.auth, from the users file); operations never take a role from a form.
"""
from __future__ import annotations

from core.lockout import Lockout
from core.workspace import Workspace


def lockout_for(settings) -> Lockout:
    """The sign-in lock-out of a workspace's settings (its counts live in the workspace database)."""
    return Lockout(Workspace(settings.workspace).db_path, settings.signin_max_attempts, settings.signin_lockout_minutes)
