"""The embedded default backend: a real git repository (one branch and one commit per request on
top of the base branch) and the review records in SQLite beside it."""
from __future__ import annotations

import re
from pathlib import Path

from core.changes.base import BaseMoved, ChangeBackend, ChangeError
from core.changes.git import GitRepo, RefMoved
from core.changes.model import Actor, ChangeRequest, Event, Review, Status, now
from core.changes.store import Store


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "change"


class LocalChanges(ChangeBackend):
    def __init__(self, repo: GitRepo, store: Store, cache_dir: Path, base_branch: str = "main", config_dir: str = "snowddl"):
        self.repo = repo
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
        return self.store.get(request_id)

    def list(self, requester: str | None = None, statuses: list[Status] | None = None) -> list[ChangeRequest]:
        return self.store.list(requester, statuses)

    def diff(self, cr: ChangeRequest) -> str:
        return self.repo.diff(cr.base_sha, cr.head_sha)

    def reviews(self, cr: ChangeRequest) -> list[Review]:
        return self.store.reviews(cr.id)

    def events(self, cr: ChangeRequest) -> list[Event]:
        return self.store.events(cr.id)

    def recent_commits(self, n: int = 5) -> list[dict]:
        return self.repo.log(self.base_branch, n)

    # -- writing ---------------------------------------------------------------------------------
    def _paths(self, files: dict[str, str | None]) -> dict[str, str | None]:
        return {f"{self.config_dir}/{rel}" if self.config_dir else rel: text for rel, text in files.items()}

    def open(self, *, recipe, title, body, requester: Actor, justification, request, files, base_sha, validation):
        if not files:
            raise ChangeError("the request changes no file")
        head = self.base_head()
        if head != base_sha:
            raise BaseMoved(
                f"{self.base_branch} moved since this preview was made ({base_sha[:8]} -> {head[:8]}): "
                "preview again to see the change on the current configuration."
            )
        message = f"{title}\n\n{body}".rstrip() + "\n"
        commit = self.repo.commit_files(base_sha, self._paths(files), message, (requester.name or requester.username, requester.email or f"{requester.username}@snowtower.local"))
        stamp = now()
        with self.store.transaction() as db:
            request_id = self.store.next_id(db)
            branch = f"snowtower/{request_id}-{_slug(title)}"
            cr = ChangeRequest(
                id=request_id, recipe=recipe, title=title, requester=requester.username, justification=justification,
                request=request, branch=branch, base_sha=base_sha, head_sha=commit, status=Status.OPEN,
                created_at=stamp, updated_at=stamp, files=sorted(files), validation=validation,
            )
            cr.id = self.store.insert(db, cr)
            self.store.add_event(db, Event(cr.id, stamp, requester.username, "submitted", f"branch {branch}"))
            # The branch is the last step: if it fails the transaction rolls back and nothing is left.
            self.repo.update_ref(f"refs/heads/{branch}", commit, None)
        return cr

    def review(self, cr, actor, decision, comment, new_status):
        stamp = now()
        with self.store.transaction() as db:
            current = self.store.get(cr.id, db)
            if current.status != cr.status:
                raise ChangeError(f"request {cr.ref} changed meanwhile (now {current.status.label}); reload and try again.")
            self.store.add_review(db, Review(cr.id, actor.username, decision, comment, stamp))
            action = {"approve": "approved", "request_changes": "changes_requested", "reject": "rejected",
                      "comment": "commented", "resubmit": "resubmitted"}[decision]
            self.store.add_event(db, Event(cr.id, stamp, actor.username, action, comment))
            if new_status != current.status:
                self.store.update(db, cr.id, status=new_status)
        return self.store.get(cr.id)

    def update_branch(self, cr, files, base_sha, actor, reason, validation, request=None):
        commit = self.repo.commit_files(
            base_sha, self._paths(files), f"{cr.title}\n\n{reason}\n", (actor.name or actor.username, actor.email or f"{actor.username}@snowtower.local")
        )
        with self.store.transaction() as db:
            values = dict(head_sha=commit, base_sha=base_sha, files=sorted(files), validation=validation)
            if request is not None:
                values["request"] = request
            self.store.update(db, cr.id, **values)
            self.store.add_event(db, Event(cr.id, now(), actor.username, "rebased", reason))
            try:
                self.repo.update_ref(f"refs/heads/{cr.branch}", commit, cr.head_sha)
            except RefMoved:
                raise ChangeError(f"the branch of {cr.ref} was changed by someone else; reload and try again.") from None
        return self.store.get(cr.id)

    def merge(self, cr, actor):
        head = self.base_head()
        if head != cr.base_sha:
            raise BaseMoved(f"{self.base_branch} moved since {cr.ref} was prepared; it must be re-applied first.")
        with self.store.transaction() as db:
            current = self.store.get(cr.id, db)
            if current.status.resolved:
                raise ChangeError(f"request {cr.ref} is already {current.status.label}.")
            stamp = now()
            self.store.update(db, cr.id, status=Status.MERGED, merged_sha=cr.head_sha)
            self.store.add_event(db, Event(cr.id, stamp, actor.username, "merged", f"{self.base_branch} at {cr.head_sha[:8]}"))
            try:
                # Fast-forward: the branch is one commit on the current head, checked just above and
                # made atomic by compare-and-swap on the ref.
                self.repo.update_ref(f"refs/heads/{self.base_branch}", cr.head_sha, head)
            except RefMoved:
                raise BaseMoved(f"{self.base_branch} moved while merging {cr.ref}; try again.") from None
        return self.store.get(cr.id)

    def record_deployment(self, cr: ChangeRequest, actor: Actor, detail: str) -> ChangeRequest:
        """Demo mode: merging deploys. Records the deployment and advances the baseline."""
        with self.store.transaction() as db:
            self.store.add_deployment(db, cr.merged_sha or cr.head_sha, cr.id, actor.username)
            self.store.update(db, cr.id, status=Status.DEPLOYED)
            self.store.add_event(db, Event(cr.id, now(), actor.username, "deployed", detail))
        return self.store.get(cr.id)
