"""Submit: turn a previewed request into a branch with one commit and a change-request record."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.base import ChangeError
from core.changes.model import Actor, ChangeRequest
from core.fields import FieldError
from app.operations.body import render_body
from app.operations.preview import PreviewRequest
from app.operations.audited import run_audited
from app.services import Services
from recipes.base import FieldErrors, Recipe


@dataclass
class SubmitRequest:
    services: Services
    actor: Actor
    recipe: Recipe
    raw: dict
    base_sha: str  # the base the requester previewed: a moved base is refused, not silently used

    def execute(self) -> ChangeRequest:
        return run_audited(self.services, self.actor, "submit", None, self._execute,
                           lambda: self.base_sha)

    def _execute(self, actor: Actor) -> ChangeRequest:
        # Why: the requester's identity comes from the sign-in, never from the form.
        if not actor.username:
            raise ChangeError("sign in to submit a request.")
        # Why: the server computes the change again; a preview held in the browser is never trusted.
        preview = PreviewRequest(self.services, self.recipe, self.raw, self.base_sha).execute()
        if preview.field_errors:
            raise FieldErrors([FieldError(k, v) for k, v in preview.field_errors.items()])
        # Why: a change SnowDDL rejects would break every later deployment from the base branch.
        if not preview.validation.valid:
            raise ChangeError("SnowDDL rejects the resulting configuration; nothing was submitted.")
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
        )
