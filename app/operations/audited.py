"""How an operation runs: the actor's roles re-read through the identity port, then exactly one audit
record per execute(), refusals included."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, TypeVar

from app.audit import FAILED, OK, REFUSED
from core.changes.base import ChangeError
from core.changes.model import Actor, ChangeRequest
from recipes.base import FieldErrors

T = TypeVar("T")

NO_LONGER_ALLOWED = "your login is no longer allowed to do this (disabled, removed or without a role); nothing was done."


class NotSignedIn(ChangeError):
    """The operation was asked for without a signed-in actor."""


class NoLongerAllowed(ChangeError):
    """The actor has no role now (its login was disabled, removed or stripped of its roles since sign-in)."""


def current_actor(services, actor: Actor | None) -> Actor:
    """`actor` with the roles `services.identity` gives its login now: the roles every guard checks.
    Raises NotSignedIn (no login) or NoLongerAllowed (no role now). The roles the page's Actor carries
    are never used: a login demoted since the page was drawn acts with what it has left."""
    if actor is None or not actor.username:
        raise NotSignedIn("sign in to do this; nothing was done.")
    roles = services.identity.roles_of(actor.username)
    if not roles:
        raise NoLongerAllowed(NO_LONGER_ALLOWED)
    return replace(actor, roles=tuple(r for r in ("requester", "approver", "admin") if r in roles))


def record(services, actor: Actor | None, action: str, request_id: int | None, outcome: str, reason: str = "",
           before: str = "", after: str = "") -> None:
    """Append one record to `services.audit`, stamped by `services.clock`. A store that fails raises
    AuditError: an action whose record cannot be written must not look recorded."""
    services.audit.write(actor.username if actor else "", actor.roles if actor else (), action, outcome, reason,
                         request_id=request_id, before=before, after=after, at=services.clock())


def _head(cr) -> str:
    if isinstance(cr, ChangeRequest):
        return cr.merged_sha or cr.head_sha or ""
    return ""


def run_audited(services, actor: Actor | None, action: str, request_id: int | None, run: Callable[[Actor], T],
                before: Callable[[], str] = lambda: "", note: str = "") -> T:
    """Re-read the actor's roles (current_actor: the one server-side role check every operation passes
    through), run `run(actor_now)` and write one record of its outcome: ok (with `note`), refused with the
    guard's message (ChangeError, FieldErrors; a login with no role now included), or failed with the
    error's type only. The record names the roles held now. `before()` is read when the record is
    written: the commit the operation started from (operations remember it once they loaded the request,
    so recording costs no extra read). Exceptions are raised again unchanged, after their record is written."""
    try:
        checked = current_actor(services, actor)
    except ChangeError as exc:  # recorded with the roles held now: none
        record(services, actor and replace(actor, roles=()), action, request_id, REFUSED, str(exc), before())
        raise
    actor = checked
    try:
        result = run(actor)
    except FieldErrors as exc:
        record(services, actor, action, request_id, REFUSED,
               "; ".join(f"{k}: {v}" for k, v in exc.by_field().items()), before())
        raise
    except ChangeError as exc:
        record(services, actor, action, request_id, REFUSED, str(exc), before())
        raise
    except Exception as exc:
        record(services, actor, action, request_id, FAILED, type(exc).__name__, before())
        raise
    if isinstance(result, ChangeRequest) and request_id is None:
        request_id = result.id
    record(services, actor, action, request_id, OK, note, before(), _head(result))
    return result
