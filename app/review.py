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
from app.operations.shared.guards import approvals
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
    base_sha: str = ""  # the commit the request was made on
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
                             "passed" if cr.validation.get("valid") else "failed", risk, cr.base_sha,
                             urgent=bool(getattr(recipe_named(cr.recipe), "urgent", False))))
    # Urgent requests first (a failed deployment waits on them), each group newest first as listed.
    return sorted(rows, key=lambda r: not r.urgent)


# -- what the review leads with ---------------------------------------------------------------------------

def person(services: Services, username: str, snapshot=None) -> str:
    """The login `username` as people know it: "Full Name (team) · login" when the sign-in gives a name
    (users file, OIDC claims) and the SnowDDL config has a user of that name whose `comment` says the team
    or job; "Full Name · login" without one; the login alone when nothing else is known. `snapshot`: the
    config to look in (default the base branch's head; pass one the page has, to ask the backend no more)."""
    try:
        actor = services.identity.actor(username)
    except Exception:  # an identity source that cannot answer (a SiS query): the login stays readable
        actor = None
    name = actor.name if actor and actor.name and actor.name != username else ""
    team = team_of(services, username, snapshot)
    if not name:
        return f"{username} ({team})" if team else username
    return f"{name} ({team}) · {username}" if team else f"{name} · {username}"


def team_of(services: Services, username: str, snapshot=None) -> str:
    """The `comment` of the SnowDDL user named like this login on the base branch (one entry read, not the
    whole file), at most 80 characters; "" when there is none."""
    from recipes.common import entry

    try:
        snapshot = snapshot or services.snapshot()
        user = entry(snapshot, snapshot.file("user"), username) or {}
    except Exception:
        return ""
    comment = user.get("comment") if isinstance(user, dict) else None
    return " ".join(str(comment).split())[:80] if comment else ""


def summary(services: Services, cr: ChangeRequest) -> str:
    """One sentence of what `cr` does: its recipe's summary, computed again from the request record (kept
    server-side) on the request's base commit; the title when that no longer builds (e.g. an end date that
    has passed since). Never from the pull request's body, which others can edit."""
    key = (str(services.settings.workspace), cr.id, cr.base_sha, cr.head_sha)
    if key not in _SUMMARIES:
        recipe = recipe_named(cr.recipe)  # people's recipes and SnowTower's own (a revert)
        text = cr.title
        if recipe is not None:
            try:
                base = services.snapshot(cr.base_sha)
                text = recipe.build(base, recipe.parse(dict(cr.request), base)).summary or cr.title
            except Exception:  # a field that no longer parses on that base: the title still says it
                text = cr.title
        if len(_SUMMARIES) >= _CACHE_SIZE:
            _SUMMARIES.pop(next(iter(_SUMMARIES)))
        _SUMMARIES[key] = text
    return _SUMMARIES[key]


_SUMMARIES: dict[tuple, str] = {}


def next_request(rows: list[QueueRow], current: int, decided: set[int]) -> QueueRow | None:
    """The request to open after deciding on `current`: the next row in the queue's order (wrapping
    round) that is neither `current` nor one the viewer decided on (`decided`) nor resolved; None when
    nothing is left."""
    ids = [r.id for r in rows]
    start = ids.index(current) + 1 if current in ids else 0
    for r in rows[start:] + rows[:start]:
        if r.id != current and r.id not in decided and r.status in ("open", "changes requested", "approved"):
            return r
    return None
