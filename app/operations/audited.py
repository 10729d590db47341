"""How an operation writes its audit record: exactly one per execute(), refusals included."""
from __future__ import annotations

from typing import Callable, TypeVar

from app.audit import FAILED, OK, REFUSED
from core.changes.base import ChangeError
from core.changes.model import Actor, ChangeRequest
from recipes.base import FieldErrors

T = TypeVar("T")


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


def run_audited(services, actor: Actor | None, action: str, request_id: int | None, run: Callable[[], T],
                before: Callable[[], str] = lambda: "", note: str = "") -> T:
    """Run `run()` and write one record of its outcome: ok (with `note`), refused with the guard's
    message (ChangeError, FieldErrors), or failed with the error's type only. `before()` is read when
    the record is written: the commit the operation started from (operations remember it once they
    loaded the request, so recording costs no extra read). Exceptions are raised again unchanged,
    after their record is written."""
    try:
        result = run()
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
