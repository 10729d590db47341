"""Revert a change whose deployment failed: a request, opened as the system actor DEPLOY_ACTOR, that puts
the files the merged change touched back as they were before it (recipes.revert, a three-way merge on
the current base branch), marked urgent and reviewed like any other request (no bypass: the usual
approvals by people other than the requester; DEPLOY_ACTOR has no approver role, so it never approves).

Triggers: GitHub mode, the merge-deploy workflow's `revert` job after a failed deployment runs
`snowtower revert --pr N --submit` for each pull request labelled `deploy-failed`; local backend, the
portal's deploy step (app.operations.merge) when it fails, or `snowtower revert --request N --submit`.
Never twice: an open revert of the same change covers it, and so does a merged one or one a reviewer
rejected. A run cut off after the branch was made and before the pull request (or its labels) is
finished by the next: it submits the same request (same requester, fields and title), which the GitHub
backend resumes instead of opening a second one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.changes.approval import latest_decisions
from core.changes.base import ChangeError
from core.changes.model import Actor, ChangeRequest, Status
from app.identity import DEPLOY_ACTOR
from app.operations.submit import SubmitRequest
from app.services import Services
from recipes.base import FieldErrors
from recipes.revert import MAX_FILES, REVERT

MAX_WALK = 20_000  # files compared in one config folder


@dataclass
class RevertOutcome:
    """What became of change `number`: `opened` (this run opened or resumed it), `covered_by` (an earlier
    revert: nothing opened), or `refused` (why none can be made: the message names the lines)."""
    number: int
    message: str
    opened: ChangeRequest | None = None
    covered_by: ChangeRequest | None = None
    refused: bool = False
    would_open: dict | None = None  # without submit: the request that would be opened

    def to_dict(self) -> dict:
        return {"number": self.number, "message": self.message, "opened": self.opened.id if self.opened else None,
                "covered_by": self.covered_by.id if self.covered_by else None, "refused": self.refused}


def changed_files(before: Path, after: Path) -> list[str]:
    """Files (relative, "/"-separated) whose bytes differ between two config folders, or that only one has.
    Raises ChangeError beyond MAX_WALK files."""
    def files(root: Path) -> dict[str, Path]:
        out = {}
        for p in root.rglob("*"):
            if p.is_file() or p.is_symlink():
                out[p.relative_to(root).as_posix()] = p
                if len(out) > MAX_WALK:
                    raise ChangeError(f"the config folder holds more than {MAX_WALK} files; revert this change by hand.")
        return out
    a, b = (files(before) if before.is_dir() else {}), (files(after) if after.is_dir() else {})
    return sorted(rel for rel in set(a) | set(b)
                  if rel not in a or rel not in b or a[rel].is_symlink() or b[rel].is_symlink()
                  or a[rel].read_bytes() != b[rel].read_bytes())


@dataclass
class RevertFailedDeployment:
    """execute() -> RevertOutcome. Raises ChangeError when `number` is not a merged change whose deployment
    failed (nothing is opened). The revert is submitted through SubmitRequest (validation, audit record,
    notification to approvers) as DEPLOY_ACTOR; a refusal (the base branch changed the same lines) is
    audited by SubmitRequest and returned as RevertOutcome.refused."""
    services: Services
    number: int
    submit: bool = True

    def execute(self) -> RevertOutcome:
        n = self.number
        if isinstance(n, bool) or not isinstance(n, int) or not 0 < n < 10**9:
            raise ChangeError("name the merged change by its number (1 or more).")
        changes = self.services.changes
        merged = changes.merged_change(n)
        if merged is None:
            raise ChangeError(f"#{n} is not a change merged into {self.services.settings.base_branch}: nothing to revert.")
        # Why: a revert request is opened for a failed deployment only, which the deploy step recorded (GitHub:
        # merge-deploy's label), never because someone asked on the command line for any merged change.
        if not merged.deploy_failed:
            raise ChangeError(f"#{n}'s deployment did not fail (or a later one deployed it): nothing to revert.")
        files = changed_files(changes.config_at(merged.parent_sha), changes.config_at(merged.merged_sha))
        if not files:
            raise ChangeError(f"#{n} changed nothing in the config folder: nothing to revert.")
        if len(files) > MAX_FILES:
            return RevertOutcome(n, f"#{n} changed {len(files)} files, more than {MAX_FILES}: revert it by hand.", refused=True)
        raw = {"request": n, "merged_sha": merged.merged_sha, "parent_sha": merged.parent_sha, "files": files,
               "justification": f"The deployment of #{n} failed. This restores the files it changed to their content "
                                "before it was merged. Opened by SnowTower; review it like any request."}
        covered = self._covered(n, merged.merged_sha)
        if covered is not None:
            outcome = RevertOutcome(n, f"#{n} is already covered by revert {covered.ref} ({covered.status.label}).",
                                    covered_by=covered)
            if self.submit and not covered.status.resolved and covered.requester == DEPLOY_ACTOR.username \
                    and changes.resumes(covered, REVERT.name, DEPLOY_ACTOR, dict(covered.request)):
                self._resume(covered, outcome)
            return outcome
        if not self.submit:
            return RevertOutcome(n, f"would open a revert of #{n} ({len(files)} file(s)).", would_open=raw)
        try:
            cr = SubmitRequest(self.services, DEPLOY_ACTOR, REVERT, raw, changes.base_head()).execute()
        except FieldErrors as exc:
            why = "; ".join(exc.by_field().values())
            return RevertOutcome(n, f"no revert request was opened for #{n}: {why}", refused=True)
        return RevertOutcome(n, f"opened {cr.ref}, marked urgent, to revert #{n}; it needs the usual approvals.", opened=cr)

    def _covered(self, n: int, merged_sha: str) -> ChangeRequest | None:
        """The revert of change `n` (at `merged_sha`) that makes another one wrong: one in review, merged or
        deployed, or rejected by a reviewer. A revert closed on GitHub by anyone else, or withdrawn, does not."""
        changes = self.services.changes
        for cr in changes.list():
            req = cr.request or {}
            if cr.recipe != REVERT.name or str(req.get("request")) != str(n) or req.get("merged_sha") != merged_sha:
                continue
            if not cr.status.resolved or cr.status in (Status.MERGED, Status.DEPLOYED):
                return cr
            # Why: on GitHub a closed pull request reads as rejected whoever closed it; only a reviewer's
            # rejection recorded by the portal means "do not revert".
            if cr.status == Status.REJECTED and "reject" in latest_decisions(changes.reviews(cr), changes.requester_names(cr)).values():
                return cr
        return None

    def _resume(self, cr: ChangeRequest, outcome: RevertOutcome) -> None:
        """Finish an open revert a cut-off run left (GitHub: its labels not yet added) through the backend's
        idempotent open(), which resumes the request with the same key instead of opening another; audited
        as a submit, no second notification. Best effort: the revert is open either way."""
        from app.operations.shared.audited import run_audited
        from app.operations.shared.body import render_body
        from app.operations.shared.preview import PreviewRequest

        def resume(actor: Actor) -> ChangeRequest:
            preview = PreviewRequest(self.services, REVERT, dict(cr.request), cr.base_sha).execute()
            if not preview.ok:
                raise ChangeError(f"{cr.ref} could not be rebuilt to finish it; it stays open as it is.")
            assert preview.changes is not None and preview.validation is not None  # preview.ok: both set
            return self.services.changes.open(
                recipe=REVERT.name, title=preview.changes.title, body=render_body(preview, actor), requester=actor,
                justification=preview.request_dict.get("justification", ""), request=preview.request_dict,
                files=preview.changes.files, base_sha=preview.base_sha, validation=preview.validation.to_dict(),
                labels=labels_of(REVERT))
        try:
            outcome.opened = run_audited(self.services, DEPLOY_ACTOR, "submit", cr.id, resume, note="resumed")
        except ChangeError:
            pass


def labels_of(recipe) -> tuple[str, ...]:
    """The extra labels a request of `recipe` gets on GitHub: `urgent` for urgent recipes."""
    return ("urgent",) if recipe.urgent else ()
