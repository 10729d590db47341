"""How an operation runs: the actor's roles re-read through the identity port, a record of intent
written before it acts, then its outcome (ok, refused or failed) with the same operation id, refusals
included. No effect without its record: when the intent cannot be written, nothing is done.

The repair (complete_open_intents), run at start and before each operation, writes the outcome of an
intent that has none (its process was killed): "ok" when the effect is found done (the request merged or
deployed, the review recorded, the request opened), "failed" when its process is gone and the effect is
not found."""
from __future__ import annotations

import os
import re
import socket
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Callable, TypeVar

from app.audit_record import FAILED, INTENT, OK, REFUSED, AuditQuery, AuditRecord
from core.changes.base import ChangeError
from core.changes.model import Actor, ChangeRequest, Status
from core.faults import crash_point
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
           before: str = "", after: str = "", operation_id: str = "", once: bool = False):
    """Append one record to `services.audit`, stamped by `services.clock`. A store that fails raises
    AuditError: an action whose record cannot be written must not look recorded. `once`: an outcome,
    written only if the operation has none yet (the repair may have written it)."""
    return services.audit.write(actor.username if actor else "", actor.roles if actor else (), action, outcome, reason,
                                request_id=request_id, before=before, after=after, at=services.clock(),
                                operation_id=operation_id, once=once)


def _head(cr) -> str:
    if isinstance(cr, ChangeRequest):
        return cr.merged_sha or cr.head_sha or ""
    return ""


_RUNNING: set[str] = set()  # operation ids this process is running now (the repair leaves them alone)
STALE_AFTER = timedelta(minutes=10)  # an intent of another machine's process this old, without outcome, is over
_WHERE = re.compile(r"^process (\d+) on ([^\s;]+)")


def _intent_note(note: str) -> str:
    return f"process {os.getpid()} on {socket.gethostname()}" + (f"; {note}" if note else "")


def run_audited(services, actor: Actor | None, action: str, request_id: int | None, run: Callable[[Actor], T],
                before: Callable[[], str] = lambda: "", note: str = "", intent: str = "") -> T:
    """Re-read the actor's roles (current_actor: the one server-side role check every operation passes
    through), complete what a killed process left (complete_open_intents), write the record of intent
    (outcome "intent", reason: this process and `intent`), run `run(actor_now)` and write its outcome
    with the same operation_id: ok (with `note`), refused with the guard's message (ChangeError,
    FieldErrors; a login with no role now included: that one is a single refused record, nothing was
    attempted), or failed with the error's type only. The records name the roles held now. `before()`
    is read when a record is written: the commit the operation started from. An AuditError on the
    intent is raised before anything is done; exceptions of `run` are raised again unchanged, after
    their outcome is written. SNOWTOWER_CRASH_AT=<action>.after_intent / <action>.before_outcome
    kill the process at those steps (core.faults)."""
    operation = uuid.uuid4().hex
    try:
        checked = current_actor(services, actor)
    except ChangeError as exc:  # recorded with the roles held now: none
        record(services, actor and replace(actor, roles=()), action, request_id, REFUSED, str(exc), before(),
               operation_id=operation)
        raise
    actor = checked
    complete_open_intents(services)
    # Why first: an effect without its record is what an auditor cannot accept. If the store refuses the
    # intent, AuditError leaves here and nothing was done.
    record(services, actor, action, request_id, INTENT, _intent_note(intent), before(), operation_id=operation)
    _RUNNING.add(operation)
    try:
        crash_point(f"{action}.after_intent")
        try:
            result = run(actor)
        except FieldErrors as exc:
            record(services, actor, action, request_id, REFUSED,
                   "; ".join(f"{k}: {v}" for k, v in exc.by_field().items()), before(), operation_id=operation, once=True)
            raise
        except ChangeError as exc:
            record(services, actor, action, request_id, REFUSED, str(exc), before(), operation_id=operation, once=True)
            raise
        except Exception as exc:
            record(services, actor, action, request_id, FAILED, type(exc).__name__, before(), operation_id=operation,
                   once=True)
            raise
        if isinstance(result, ChangeRequest) and request_id is None:
            request_id = result.id
        crash_point(f"{action}.before_outcome")
        record(services, actor, action, request_id, OK, note, before(), _head(result), operation_id=operation, once=True)
    finally:
        _RUNNING.discard(operation)
    return result


def _gone(services, intent: AuditRecord) -> bool:
    """Whether the process that wrote `intent` can no longer write its outcome: it is this process and
    not running it, or a process of this machine that no longer exists, or the intent is STALE_AFTER old."""
    if intent.operation_id in _RUNNING:
        return False
    found = _WHERE.match(intent.reason)
    if found and found.group(2) == socket.gethostname():
        pid = int(found.group(1))
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except (PermissionError, OSError):  # alive under another user, or not knowable here
            pass
    return services.clock() - intent.occurred_at > STALE_AFTER


def _recorded(services, action: str, actor: str, request_id: int | None) -> list[AuditRecord]:
    return [r for r in services.audit.search(AuditQuery(actor=actor, action=action, request_id=request_id))
            if r.outcome == OK]


def _effect(services, intent: AuditRecord) -> tuple[int | None, str, str] | None:
    """(request id, commit after, what was found) when the effect of `intent` is done and no outcome
    record accounts for it yet; None when it is not found."""
    action, who, rid = intent.action, intent.actor.casefold(), intent.request_id
    if action == "submit":
        recipe = intent.reason.partition("; recipe ")[2]
        mine = [cr for cr in services.changes.list(requester=intent.actor) if not recipe or cr.recipe == recipe]
        recorded = {r.request_id for r in _recorded(services, "submit", intent.actor, None)}
        left = [cr for cr in mine if cr.id not in recorded and cr.requester.casefold() == who]
        if left:
            cr = min(left, key=lambda c: c.id)
            return cr.id, cr.head_sha, f"{cr.ref} was opened"
        return None
    if rid is None:
        return None
    cr = services.changes.get(rid)
    if cr is None:
        return None
    if action == "merge":
        if cr.status in (Status.MERGED, Status.DEPLOYED) and not _recorded(services, "merge", "", rid):
            return rid, cr.merged_sha or cr.head_sha, f"{cr.ref} is {cr.status.label} at {(cr.merged_sha or '')[:8]}"
        return None
    if action in ("approve", "request_changes", "reject", "withdraw", "resubmit"):
        done = [r for r in services.changes.reviews(cr) if r.decision == action and r.reviewer.casefold() == who]
        if len(done) > len(_recorded(services, action, intent.actor, rid)):
            return rid, done[-1].head_sha or cr.head_sha, f"the {action.replace('_', ' ')} of {cr.ref} is recorded"
    return None


def complete_open_intents(services) -> list[str]:
    """Write the outcome of every intent without one whose process is gone (_gone: this machine's process
    no longer exists, or another machine's intent is STALE_AFTER old): "ok", completed by the repair, when
    its effect is found done; "failed", interrupted, when not. Returns one line per outcome written.
    Raises AuditError when the store cannot be read or written."""
    done = []
    for intent in services.audit.open_intents():
        if intent.operation_id in _RUNNING:
            continue
        if getattr(services, "changes", None) is None and (intent.request_id is not None or intent.action == "submit"):
            continue  # the login commands' services reach no change backend: a request's intent waits for the portal
        # Why only then: a process still running writes its own outcome; completing it here would say it stopped.
        if not _gone(services, intent):
            continue
        effect = _effect(services, intent)
        actor = Actor(intent.actor, roles=tuple(r for r in intent.role.split(",") if r))
        if effect is not None:
            rid, after, found = effect
            written = record(services, actor, intent.action, rid, OK, f"completed by the repair: {found} (the process "
                             "that did it stopped before writing this outcome)", intent.commit_before, after,
                             operation_id=intent.operation_id, once=True)
        else:
            written = record(services, actor, intent.action, intent.request_id, FAILED,
                             "interrupted: its process stopped before writing an outcome and its effect was not found",
                             intent.commit_before, operation_id=intent.operation_id, once=True)
        if written is not None and written.action == "merge" and written.outcome == OK:
            from app.audit_anchor import anchor_head

            anchor_head(services, written.commit_after)
        if written is not None:
            done.append(f"{intent.action} of {intent.actor} (operation {intent.operation_id[:8]}): {written.outcome}")
    return done
