"""The embedded default backend: a real git repository (one branch and one commit per request on
top of the base branch) and the review records in SQLite beside it."""
from __future__ import annotations

import builtins
import re
from pathlib import Path

from core.changes.approval import CLOSING, EVENT_ACTIONS, status_from_reviews
from core.changes.base import (AlreadyResolved, BaseMoved, ChangeBackend, ChangeError, HeadMoved, MergedChange,
                               resolved_message)
from core.changes.git import GitRepo, RefMoved
from core.changes.model import Actor, ChangeRequest, Event, Review, Status, now
from core.changes.store import Store
from core.faults import crash_point


BRANCH_PREFIX = "snowtower/"


def _who(actor: Actor) -> tuple[str, str]:
    return actor.name or actor.username, actor.email or f"{actor.username}@snowtower.local"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "change"


class LocalChanges(ChangeBackend):
    def __init__(self, repo: GitRepo, store: Store, cache_dir: Path, base_branch: str = "main", config_dir: str = "snowddl",
                 required_approvals: int = 1, deploys_on_merge: bool = False):
        self.repo = repo
        self.deploys_on_merge = deploys_on_merge  # the demo: merging is deployment (see deploy)
        self.required_approvals = required_approvals
        self._seen: dict[str, str] | None = None  # the branch heads at the last repair()
        self.store = store
        self.cache_dir = Path(cache_dir)
        self.base_branch = base_branch
        self.config_dir = config_dir

    # -- reading ---------------------------------------------------------------------------------
    def base_head(self) -> str:
        sha = self.repo.branch_head(self.base_branch)
        if not sha:
            raise ChangeError(f"the repository has no branch {self.base_branch}")
        return sha

    def config_at(self, sha: str) -> Path:
        # Commits never change, so the exported folder is cached by commit for good.
        return self.repo.export(sha, self.config_dir, self.cache_dir / "trees" / sha)

    def get(self, request_id: int) -> ChangeRequest | None:
        self.repair()
        return self.store.get(request_id)

    def list(self, requester: str | None = None, statuses: list[Status] | None = None) -> list[ChangeRequest]:
        self.repair()
        return self.store.list(requester, statuses)

    def diff(self, cr: ChangeRequest) -> str:
        return self.repo.diff(cr.base_sha, cr.head_sha)

    def reviews(self, cr: ChangeRequest) -> builtins.list[Review]:
        return self.store.reviews(cr.id)

    def events(self, cr: ChangeRequest) -> builtins.list[Event]:
        return self.store.events(cr.id)

    def recent_commits(self, n: int = 5) -> builtins.list[dict]:
        return self.repo.log(self.base_branch, n)

    # -- writing ---------------------------------------------------------------------------------
    def _paths(self, files: dict[str, str | None]) -> dict[str, str | None]:
        return {f"{self.config_dir}/{rel}" if self.config_dir else rel: text for rel, text in files.items()}

    def open(self, *, recipe, title, body, requester: Actor, justification, request, files, base_sha, validation,
             labels=()):
        if not files:
            raise ChangeError("the request changes no file")
        head = self.base_head()
        if head != base_sha:
            raise BaseMoved(
                f"{self.base_branch} moved since this preview was made ({base_sha[:8]} -> {head[:8]}): "
                "preview again to see the change on the current configuration."
            )
        message = f"{title}\n\n{body}".rstrip() + "\n"
        self.repair()
        commit = self.repo.commit_files(base_sha, self._paths(files), message, _who(requester))
        crash_point("submit.after_commit")
        stamp = now()
        with self.store.transaction() as db:
            request_id = self.store.next_id(db)
            branch = f"{BRANCH_PREFIX}{request_id}-{_slug(title)}"
            cr = ChangeRequest(
                id=request_id, recipe=recipe, title=title, requester=requester.username, justification=justification,
                request=request, branch=branch, base_sha=base_sha, head_sha=commit, status=Status.OPEN,
                created_at=stamp, updated_at=stamp, files=sorted(files), validation=validation,
            )
            cr.id = self.store.insert(db, cr)
            self.store.add_event(db, Event(cr.id, stamp, requester.username, "submitted", f"branch {branch}"))
            # The branch is the last step: if it fails the transaction rolls back and nothing is left.
            try:
                self.repo.update_ref(f"refs/heads/{branch}", commit, None)
            except RefMoved:
                raise ChangeError(f"branch {branch} already exists; nothing was submitted. Try again.") from None
            crash_point("submit.after_ref")  # the branch is there, the record not committed: repair removes the branch
        return cr

    def _current(self, db, cr: ChangeRequest) -> ChangeRequest:
        """The request as stored now, inside the caller's transaction; AlreadyResolved if it left the queue."""
        current = self.store.get(cr.id, db)
        if current is None:
            raise ChangeError(f"request {cr.ref} does not exist.")
        if current.status.resolved:
            raise AlreadyResolved(resolved_message(current, self.store.resolved_by(db, cr.id)))
        return current

    def _status(self, db, current: ChangeRequest) -> Status:
        # Recomputed from every review, inside the transaction that wrote the last one: two approvals
        # at the same moment are serialized by BEGIN IMMEDIATE and the second sees the first.
        return status_from_reviews(self.store.reviews(current.id, db), current.requester, self.required_approvals,
                                   current.head_sha)

    def review(self, cr, actor, decision, comment, seen_head=None):
        self.repair()
        stamp = now()
        with self.store.transaction() as db:
            current = self._current(db, cr)
            # Why: an approval covers the commit the reviewer saw, never content that replaced it.
            if seen_head and current.head_sha != seen_head:
                raise HeadMoved(f"{cr.ref} changed since you opened it ({seen_head[:8]} -> {current.head_sha[:8]}): "
                                "nothing was recorded. Reload and review the new version.")
            self.store.add_review(db, Review(cr.id, actor.username, decision, comment, stamp, current.head_sha))
            self.store.add_event(db, Event(cr.id, stamp, actor.username, EVENT_ACTIONS[decision], comment))
            status = CLOSING.get(decision) or self._status(db, current)
            if status != current.status:
                self.store.update(db, cr.id, status=status)
            crash_point(f"{decision}.before_commit")
        return self.store.get(cr.id)

    def update_branch(self, cr, files, base_sha, actor, reason, validation, request=None, decision="rebase"):
        if decision not in ("rebase", "resubmit", "void"):
            raise ValueError(f"update_branch records rebase, resubmit or void, not {decision!r}")
        self.repair()
        # The requester stays the author of the change; whoever rebuilt it is the committer.
        commit = self.repo.commit_files(base_sha, self._paths(files), f"{cr.title}\n\n{reason}\n",
                                        self.repo.author_of(cr.head_sha), _who(actor))
        stamp = now()
        with self.store.transaction() as db:
            current = self._current(db, cr)
            if current.head_sha != cr.head_sha:
                raise ChangeError(f"{cr.ref} was changed by someone else meanwhile; reload and try again.")
            values = dict(head_sha=commit, base_sha=base_sha, files=sorted(files), validation=validation)
            if request is not None:
                values["request"] = request
            self.store.update(db, cr.id, **values)
            # The decision and the new head in the same write: approvals never outlive the content they approved.
            self.store.add_review(db, Review(cr.id, actor.username, decision, reason, stamp, commit))
            self.store.add_event(db, Event(cr.id, stamp, actor.username, EVENT_ACTIONS[decision], reason))
            self.store.update(db, cr.id, status=self._status(db, self.store.get(cr.id, db)))
            try:
                self.repo.update_ref(f"refs/heads/{cr.branch}", commit, cr.head_sha)
            except RefMoved:
                raise ChangeError(f"the branch of {cr.ref} was changed by someone else; reload and try again.") from None
        return self.store.get(cr.id)

    def merge(self, cr, actor):
        self.repair()
        head = self.base_head()
        if head != cr.base_sha:
            raise BaseMoved(f"{self.base_branch} moved since {cr.ref} was prepared; it must be re-applied first.")
        with self.store.transaction() as db:
            current = self._current(db, cr)
            if current.head_sha != cr.head_sha:
                raise HeadMoved(f"{cr.ref} changed while it was being merged; nothing was merged. Reload and try again.")
            if current.status != Status.APPROVED:
                raise ChangeError(f"{cr.ref} is {current.status.label}, not approved; nothing was merged.")
            stamp = now()
            self.store.update(db, cr.id, status=Status.MERGED, merged_sha=cr.head_sha)
            self.store.add_event(db, Event(cr.id, stamp, actor.username, "merged", f"{self.base_branch} at {cr.head_sha[:8]}"))
            try:
                # Fast-forward: the branch is one commit on the current head, checked just above and
                # made atomic by compare-and-swap on the ref. If the process dies after this line and
                # before the commit of the transaction, repair() records the merge.
                self.repo.update_ref(f"refs/heads/{self.base_branch}", cr.head_sha, head)
            except RefMoved:
                raise BaseMoved(f"{self.base_branch} moved while merging {cr.ref}; try again.") from None
            crash_point("merge.after_ref")  # main moved, the record not committed: repair records merged, deployed
        self._seen = None
        return self.store.get(cr.id)

    def repair(self) -> builtins.list[str]:
        """Finish or undo what a crash left between a git ref and its SQLite record; see base.repair.

        - the base branch contains a request's head but the request is not merged (crash between
          moving the base branch and recording the merge): it is recorded as merged at that commit;
        - a request's branch points elsewhere than its recorded head (crash inside update_branch): the
          branch is put back on the recorded head;
        - a request branch without a record (crash inside open): it is deleted.
        Cheap when nothing moved: one `git for-each-ref`, compared with the last repair's."""
        heads = self.repo.heads()
        if heads == self._seen:
            return []
        done: list[str] = []
        with self.store.transaction() as db:
            heads = self.repo.heads()
            base = heads.get(self.base_branch)
            rows = db.execute("SELECT id, branch, head_sha, status FROM change_requests").fetchall()
            known = {row["branch"] for row in rows}
            for row in rows:
                if Status(row["status"]).resolved:
                    continue
                if base and self.repo.is_ancestor(row["head_sha"], base):
                    self.store.update(db, row["id"], status=Status.MERGED, merged_sha=row["head_sha"])
                    self.store.add_event(db, Event(row["id"], now(), "snowtower", "merged",
                                                   f"{self.base_branch} at {row['head_sha'][:8]} (recorded after an interrupted merge)"))
                    done.append(f"#{row['id']} recorded as merged at {row['head_sha'][:8]}")
                elif heads.get(row["branch"]) != row["head_sha"]:
                    self.repo.update_ref(f"refs/heads/{row['branch']}", row["head_sha"], heads.get(row["branch"]))
                    done.append(f"#{row['id']}: branch {row['branch']} put back on {row['head_sha'][:8]}")
            for branch, sha in heads.items():
                if branch.startswith(BRANCH_PREFIX) and branch not in known:
                    self.repo.delete_ref(f"refs/heads/{branch}", sha)
                    done.append(f"removed branch {branch}, left without a request by an interrupted submit")
        if self.deploys_on_merge:  # a merge whose deployment record a crash cut off is deployed now
            for cr in self.store.list(statuses=[Status.MERGED]):
                if any(e.action == "deploy_failed" for e in self.store.events(cr.id)):
                    continue  # its deployment failed (not cut off): its revert is in review, not retried here
                sha = cr.merged_sha or cr.head_sha  # what record_deployment deploys
                self.record_deployment(cr, Actor("snowtower"), f"demo deployment recorded after an interrupted merge: "
                                                               f"baseline is now {sha[:8]}")
                done.append(f"{cr.ref} recorded as deployed at {sha[:8]}")
        self._seen = self.repo.heads()
        return done

    def deploy(self, cr: ChangeRequest, actor: Actor) -> ChangeRequest:
        """With deploys_on_merge (the demo): records the deployment of merged `cr` and advances the
        baseline. Otherwise, or if `cr` is not merged: `cr` as it is now. See ChangeBackend.deploy."""
        if not self.deploys_on_merge:
            return cr
        return self.record_deployment(cr, actor, f"demo deployment: baseline is now {(cr.merged_sha or '')[:8]}")

    def record_deployment(self, cr: ChangeRequest, actor: Actor, detail: str) -> ChangeRequest:
        """Record the deployment of merged `cr` and advance the baseline, in one transaction. Idempotent:
        a request that is not (or no longer) merged, e.g. one another process deployed, is left as it is."""
        with self.store.transaction() as db:
            current = self.store.get(cr.id, db)
            if current is None:
                raise ChangeError(f"{cr.ref} is not in the request store; no deployment was recorded.")
            if current.status != Status.MERGED:
                return current
            self.store.add_deployment(db, current.merged_sha or current.head_sha, cr.id, actor.username)
            self.store.update(db, cr.id, status=Status.DEPLOYED)
            self.store.add_event(db, Event(cr.id, now(), actor.username, "deployed", detail))
        deployed = self.store.get(cr.id)
        if deployed is None:  # the row was updated in the transaction just committed
            raise ChangeError(f"{cr.ref} left the request store while its deployment was recorded.")
        return deployed

    def merged_change(self, number: int) -> MergedChange | None:
        """Request `number` if merged (its head was fast-forwarded onto the base branch): the commit, its
        parent, and whether its deployment failed (a "deploy_failed" event and not deployed since)."""
        cr = self.get(int(number))
        if cr is None or cr.status not in (Status.MERGED, Status.DEPLOYED) or not cr.merged_sha:
            return None
        parent = self.repo.rev(f"{cr.merged_sha}^1")
        if parent is None:
            return None
        failed = cr.status == Status.MERGED and any(e.action == "deploy_failed" for e in self.store.events(cr.id))
        return MergedChange(cr.id, cr.merged_sha, parent, failed, cr.title)

    def record_deploy_failure(self, cr: ChangeRequest, actor: Actor, detail: str) -> None:
        """Event "deploy_failed" on merged `cr` (the status stays merged: it is not deployed)."""
        with self.store.transaction() as db:
            current = self.store.get(cr.id, db)
            if current is None or current.status != Status.MERGED:
                return
            self.store.add_event(db, Event(cr.id, now(), actor.username, "deploy_failed", detail[:2000]))
