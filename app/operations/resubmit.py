"""Resubmit: the requester edits a request a reviewer sent back, on the same branch, for a new review."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.base import ChangeError
from core.changes.model import Actor, ChangeRequest, Status
from core.fields import FieldError
from app.notifications import notify
from app.operations.shared.guards import clean_comment, load_open
from app.operations.shared.preview import PreviewRequest
from app.operations.shared.audited import run_audited
from app.services import Services
from recipes import RECIPES
from recipes.base import FieldErrors


@dataclass
class ResubmitRequest:
    services: Services
    actor: Actor
    request_id: int
    raw: dict
    note: str = ""

    def execute(self) -> ChangeRequest:
        cr = run_audited(self.services, self.actor, "resubmit", self.request_id, self._execute,
                         lambda: getattr(self, "commit_before", ""))
        notify(self.services, "request_resubmitted", cr, self.actor, self.note)
        return cr

    def _execute(self, actor: Actor) -> ChangeRequest:
        cr = load_open(self.services, self.request_id)
        self.commit_before = cr.head_sha
        # Why: a request speaks for its requester; nobody else may change what they asked for.
        if actor.username != cr.requester:
            raise ChangeError(f"only {cr.requester} can edit and resubmit {cr.ref}.")
        # Why: an open or approved request is being (or has been) reviewed as it is; changing it under the
        # reviewers' eyes would let unreviewed content through. Only a request sent back may change.
        if cr.status != Status.CHANGES_REQUESTED:
            raise ChangeError(f"{cr.ref} is {cr.status.label}; only a request with changes requested can be resubmitted.")
        self.note = clean_comment(self.note)
        recipe = RECIPES.get(cr.recipe)
        if recipe is None:
            raise ChangeError(f"{cr.ref} was made by recipe {cr.recipe}, which this version does not know.")
        # Why: the server computes the change again on the current base; nothing from the browser is trusted.
        head = self.services.changes.base_head()
        preview = PreviewRequest(self.services, recipe, self.raw, head).execute()
        if preview.field_errors:
            raise FieldErrors([FieldError(k, v) for k, v in preview.field_errors.items()])
        assert preview.changes is not None and preview.validation is not None  # set whenever no field has an error
        # Why: a change SnowDDL rejects would break every later deployment from the base branch.
        if not preview.validation.valid:
            raise ChangeError(f"{preview.rejection()}; nothing was resubmitted.")  # names a base invalid before
        # Why: the same branch keeps the conversation (and on GitHub the PR) in one place. Why "resubmit":
        # approvals were given to other content; the backend voids them in the same write that moves
        # the branch, and the request is back in the queue as open.
        note = self.note.strip()
        return self.services.changes.update_branch(
            cr, preview.changes.files, head, actor,
            "Edited by the requester after review" + (f": {note}" if note else ""),
            preview.validation.to_dict(), preview.request_dict, decision="resubmit",
        )
