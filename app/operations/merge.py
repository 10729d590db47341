"""Merge an approved request into the base branch; in the demo, merging deploys."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from core.changes.approval import same_change
from core.changes.base import BaseMoved, ChangeError, ReturnedToReview
from core.changes.model import Actor, ChangeRequest, Status
from app.operations.shared.guards import approvals, load_open, require_head
from app.operations.shared.preview import PreviewRequest
from app.notifications import notify
from app.audit_anchor import anchor_head
from app.operations.shared.audited import run_audited
from core.faults import crash_point
from app.services import Services
from recipes import recipe_named


@dataclass
class MergeRequest:
    services: Services
    actor: Actor
    request_id: int
    head_sha: str | None = None  # the head commit on the admin's screen (None: the current one)
    confirm_unsafe: bool = False  # the admin's second, explicit confirmation of the plan's unsafe statements

    def execute(self) -> ChangeRequest:
        cr = run_audited(self.services, self.actor, "merge", self.request_id, self._execute,
                         lambda: getattr(self, "commit_before", ""))
        # The audit head, outcome of this merge included, noted on the merged commit (app.audit_anchor).
        anchor_head(self.services, cr.merged_sha or "")
        notify(self.services, "request_merged", cr, self.actor)
        if cr.status == Status.DEPLOYED:  # the demo: merging deployed it
            notify(self.services, "request_deployed", cr, self.actor)
        if getattr(self, "deploy_failure", ""):
            # Why: a change merged but not deployed leaves the config ahead of the account; its revert is opened
            # as a request (urgent), reviewed like any other: rollback never bypasses approval.
            from app.operations.revert import RevertFailedDeployment

            try:
                outcome = RevertFailedDeployment(self.services, cr.id).execute().message
            except Exception as exc:  # the merge stands; the admins are told why no revert was opened
                outcome = f"no revert request was opened: {exc}" if isinstance(exc, ChangeError) else \
                    f"no revert request was opened ({type(exc).__name__}); run snowtower revert --request {cr.id} --submit"
            notify(self.services, "request_deploy_failed", cr, self.actor, f"{self.deploy_failure} Revert: {outcome}")
        return cr

    def _execute(self, actor: Actor) -> ChangeRequest:
        cr = load_open(self.services, self.request_id)
        self.commit_before = cr.head_sha
        # Why: merging deploys to the account; only admins hold that power.
        if not actor.can("admin"):
            raise ChangeError("only admins may merge requests.")
        require_head(cr, self.head_sha)
        # Why: approvals are counted again here, not read from the status a page showed.
        have = approvals(self.services, cr)
        need = self.services.settings.required_approvals
        if cr.status == Status.CHANGES_REQUESTED:
            raise ChangeError(f"changes were requested on {cr.ref}; it can be merged once they are made and approved.")
        if cr.status != Status.APPROVED or len(have) < need:
            raise ChangeError(f"{cr.ref} needs {need} approval(s) from someone other than its requester; it has {len(have)}.")
        if not cr.validation.get("valid"):
            raise ChangeError(f"{cr.ref} did not pass validation; it cannot be merged.")
        # Why: unsafe statements (DROP, REVOKE, policies) take something away when deployed; merging them
        # needs a second, explicit confirmation, asked here whatever a page or script sent.
        unsafe = self.services.plan(cr.base_sha, cr.head_sha).unsafe_count
        if unsafe and not self.confirm_unsafe:
            raise ChangeError(f"{cr.ref} deploys {unsafe} unsafe statement(s) (they drop or revoke something): "
                              "confirm them explicitly to merge. Nothing was merged.")
        # Why: if the base moved, the YAML on the branch is stale; the recipe's intent is applied again on
        # the new base (and validated) instead of merging old text over newer changes.
        if self.services.changes.base_head() != cr.base_sha:
            cr = self._reapply(cr, actor)
        try:
            cr = self.services.changes.merge(cr, actor)
        except BaseMoved:
            fresh = self.services.changes.get(cr.id)
            assert fresh is not None  # the request just merged against: it exists
            cr = self._reapply(fresh, actor)
            cr = self.services.changes.merge(cr, actor)
        crash_point("merge.after_merge")
        # Where the backend itself deploys (the demo), merging is deployment; on GitHub a workflow deploys.
        try:
            cr = self.services.changes.deploy(cr, actor)
        except Exception as exc:  # merged, not deployed: recorded, and execute() opens its revert
            self.deploy_failure = f"The deployment failed ({type(exc).__name__}: {' '.join(str(exc).split())[:400]})."
            logging.getLogger(__name__).warning("deployment of %s failed", cr.ref, exc_info=True)
            self.services.changes.record_deploy_failure(cr, actor, self.deploy_failure)
            return self.services.changes.get(cr.id) or cr
        crash_point("merge.after_deploy")
        if cr.status == Status.DEPLOYED:
            # The demo account follows: a new user appears in USERS, a new warehouse starts metering.
            # If this is interrupted, the next start of the portal finishes it (the sync is idempotent).
            try:
                self.services.sync_demo_account()
            except Exception:  # deployed all the same; the stand-in catches up on the next start
                logging.getLogger(__name__).warning("demo account sync after %s failed", cr.ref, exc_info=True)
        return cr

    def _reapply(self, cr: ChangeRequest, actor: Actor) -> ChangeRequest:
        recipe = recipe_named(cr.recipe)
        if recipe is None:
            raise ChangeError(f"{cr.ref} was made by recipe {cr.recipe}, which this version does not know.")
        head = self.services.changes.base_head()
        preview = PreviewRequest(self.services, recipe, dict(cr.request), head).execute()
        if preview.field_errors:
            problems = "; ".join(f"{k}: {v}" for k, v in preview.field_errors.items())
            raise ChangeError(f"{cr.ref} no longer applies to the current configuration ({problems}). Reject it or ask for changes.")
        assert preview.changes is not None and preview.validation is not None  # set whenever no field has an error
        if not preview.validation.valid:
            raise ChangeError(f"{cr.ref} re-applied on the current configuration fails validation; it was not merged.")
        base = self.services.settings.base_branch
        # Why: approvals cover the lines the approvers read. If the rebuilt change adds or removes other
        # lines (context aside), they approved something else: void them and send it back to review.
        if not same_change(self.services.changes.diff(cr), preview.diff):
            reason = (f"Rebuilt on {base} at {head[:8]} because {base} moved, the change differs from the approved "
                      "one: approvals were voided and it needs a new review")
            self.services.changes.update_branch(cr, preview.changes.files, head, actor, reason,
                                                preview.validation.to_dict(), decision="void")
            raise ReturnedToReview(f"{cr.ref} was not merged: {reason[0].lower()}{reason[1:]}.")
        return self.services.changes.update_branch(
            cr, preview.changes.files, head, actor, f"Re-applied on {base} at {head[:8]}",
            preview.validation.to_dict(), decision="rebase",
        )
