"""Submit: turn a previewed request into a branch with one commit and a change-request record."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.approval import same_change
from core.changes.base import ChangeError, DuplicateRequest
from core.changes.model import Actor, ChangeRequest, Status
from core.fields import FieldError
from app.notifications import notify
from app.operations.shared.body import render_body
from app.operations.shared.preview import PreviewRequest
from app.operations.shared.audited import run_audited
from app.operations.shared.guards import is_requester
from app.services import Services
from recipes.base import FieldErrors, Recipe


MAX_CANDIDATES = 50  # open requests of one recipe compared with a new one (newest first): bounded work per submit


@dataclass
class SubmitRequest:
    services: Services
    actor: Actor
    recipe: Recipe
    raw: dict
    base_sha: str  # the base the requester previewed: a moved base is refused, not silently used
    allow_duplicate: bool = False  # the requester saw the open request asking for the same change and submits anyway

    def execute(self) -> ChangeRequest:
        cr = run_audited(self.services, self.actor, "submit", None, self._execute,
                         lambda: self.base_sha, intent=f"recipe {self.recipe.name}")
        notify(self.services, "request_created", cr, self.actor)
        return cr

    def _execute(self, actor: Actor) -> ChangeRequest:
        # Why: the requester's identity comes from the sign-in, never from the form.
        if not actor.username:
            raise ChangeError("sign in to submit a request.")
        # Why: the server computes the change again; a preview held in the browser is never trusted.
        preview = PreviewRequest(self.services, self.recipe, self.raw, self.base_sha).execute()
        if preview.field_errors:
            raise FieldErrors([FieldError(k, v) for k, v in preview.field_errors.items()])
        assert preview.changes is not None and preview.validation is not None  # set whenever no field has an error
        # Why: a change SnowDDL rejects would break every later deployment from the base branch.
        if not preview.validation.valid:
            raise ChangeError(f"{preview.rejection()}; nothing was submitted.")  # names a base invalid before
        # Why: two open requests for one change split the reviewers' work and the second merge fails or
        # does nothing; the requester is pointed at the open one and may still submit on purpose.
        existing = None if self.allow_duplicate else self.open_duplicate(preview.diff, preview.request_dict)
        if existing is not None:
            # Why: who asked for what is for the request's requester and its reviewers; anyone else who types
            # the same fields learns only that an open request asks for it, never whose it is.
            if is_requester(self.services, actor, existing) or actor.can("approver"):
                raise DuplicateRequest(f"{existing.ref} ({existing.title}), requested by {existing.requester}, is still "
                                       f"{existing.status.label} and asks for the same change; nothing was submitted.",
                                       existing)
            raise DuplicateRequest(f"an open request ({existing.ref}) already asks for the same change; nothing was "
                                   "submitted. Follow it with its requester, or submit yours anyway.", existing)
        return self.services.changes.open(
            recipe=self.recipe.name,
            title=preview.changes.title,
            body=render_body(preview, actor),
            requester=actor,
            justification=preview.request_dict.get("justification", ""),
            request=preview.request_dict,
            files=preview.changes.files,
            base_sha=preview.base_sha,
            validation=preview.validation.to_dict(),
            labels=("urgent",) if self.recipe.urgent else (),  # why: a revert of a failed deployment is seen first
        )

    def open_duplicate(self, diff: str, request: dict) -> ChangeRequest | None:
        """The newest open request (of any requester) by the same recipe, with the same fields (the
        justification aside), whose change adds and removes the same lines as `diff`
        (core.changes.approval.same_change), or None. Looks at MAX_CANDIDATES at most. A request the
        backend would resume with this one (GitHub: a retry of the same request after a fault, which
        finishes it) is not a duplicate."""
        # Why the fields too: changed lines carry no context, so "+    - BI_TOOL" granted to two users is
        # the same line in the same file; the fields say whose.
        def intent(fields: dict) -> dict:
            return {k: v for k, v in fields.items() if k != "justification"}
        waiting = [Status.OPEN, Status.CHANGES_REQUESTED, Status.APPROVED]
        backend = self.services.changes
        candidates = [cr for cr in backend.list(statuses=waiting) if cr.recipe == self.recipe.name
                      and intent(cr.request) == intent(request)
                      and not backend.resumes(cr, self.recipe.name, self.actor, request)]
        return next((cr for cr in candidates[:MAX_CANDIDATES] if same_change(self.services.changes.diff(cr), diff)), None)
