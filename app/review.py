"""What reviewers read: the queue's rows and a request's risk flags (reads only; decisions are operations).

`queue(services, actor, closed=False)`: one QueueRow per open (or closed) request, urgent ones first, then newest first.
`risks(services, cr, actor)`: core.risk's flags for the request as the reviewer `actor` sees it,
cached per (base commit, head commit, reviewer, threshold): commits never change.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.changes.approval import approvers
from core.changes.model import Actor, ChangeRequest, Status
from core.risk import RiskFlag, level_of, risk_flags
from app.operations.guards import approvals
from app.services import Services
from recipes import recipe_named

OPEN = (Status.OPEN, Status.CHANGES_REQUESTED, Status.APPROVED)


@dataclass(frozen=True)
class QueueRow:
    """One request in the queue. `age_hours`: since it was opened, by services.clock; `validation`:
    "passed" | "failed"; `risk`: "high" | "medium" | "none" | "unknown" (flags could not be computed)."""
    id: int
    ref: str
    kind: str  # the recipe's name
    title: str
    requester: str
    status: str
    created_at: str
    age_hours: float
    approvals: int
    needed: int
    validation: str
    risk: str
    urgent: bool = False  # a revert of a failed deployment (its recipe is urgent): shown first, marked urgent


def decisions(services: Services, cr: ChangeRequest, actor: Actor) -> tuple[list[str], str | None]:
    """(the reviewers whose approval counts now, by the one rule of core.changes.approval; the viewer's
    latest decision on the current head: approve | request_changes | comment | None), from one read of
    the request's reviews."""
    reviews = services.changes.reviews(cr)
    mine = [r.decision for r in reviews if r.reviewer == actor.username and r.head_sha in ("", cr.head_sha)]
    return approvers(reviews, services.changes.requester_names(cr), cr.head_sha), (mine[-1] if mine else None)


def reviewer_names(actor: Actor) -> tuple[str, ...]:
    """The names the reviewer goes by in Snowflake's config, as far as the portal knows: login and email."""
    return tuple(x for x in (actor.username, actor.email) if x)


def risks(services: Services, cr: ChangeRequest, actor: Actor) -> list[RiskFlag]:
    """The risk flags of `cr` (its base commit -> its head commit, with its plan) for reviewer `actor`.
    Raises ValueError when settings.risk_warehouse_size_threshold is no warehouse size."""
    return list(_risks(services, cr.base_sha, cr.head_sha, reviewer_names(actor),
                       str(services.settings.risk_warehouse_size_threshold)))


_CACHE: dict[tuple, tuple[RiskFlag, ...]] = {}
_CACHE_SIZE = 256


def _risks(services: Services, base_sha: str, head_sha: str, reviewer: tuple[str, ...], threshold: str):
    key = (str(services.settings.workspace), services.settings.env_prefix, base_sha, head_sha, reviewer, threshold)
    if key not in _CACHE:
        flags = tuple(risk_flags(services.snapshot(base_sha), services.snapshot(head_sha), services.plan(base_sha, head_sha),
                                 reviewer=reviewer, warehouse_size_threshold=threshold))
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = flags
    return _CACHE[key]


def queue(services: Services, actor: Actor, closed: bool = False) -> list[QueueRow]:
    """Open requests (closed=False: open, changes requested, approved) or closed ones (every resolved
    status: merged, deployed, rejected, withdrawn), newest first. Closed requests' risk is "" (not
    computed: the history can be long, and nothing is left to decide)."""
    statuses = [s for s in Status if s.resolved] if closed else list(OPEN)
    now = services.clock()
    need = services.settings.required_approvals
    rows = []
    for cr in services.changes.list(statuses=statuses):
        risk = ""
        if not closed:
            try:
                risk = level_of(risks(services, cr, actor))
            except Exception:  # a bad threshold setting or a commit that cannot be read: the row says so
                risk = "unknown"
        age = (now - datetime.fromisoformat(cr.created_at)).total_seconds() / 3600
        rows.append(QueueRow(cr.id, cr.ref, cr.recipe, cr.title, cr.requester, cr.status.label, cr.created_at,
                             round(max(age, 0.0), 1), len(approvals(services, cr)), need,
                             "passed" if cr.validation.get("valid") else "failed", risk,
                             urgent=bool(getattr(recipe_named(cr.recipe), "urgent", False))))
    # Urgent requests first (a failed deployment waits on them), each group newest first as listed.
    return sorted(rows, key=lambda r: not r.urgent)
