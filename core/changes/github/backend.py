"""The GitHub backend: each change request is a pull request on the infrastructure repository.

Opening one is a fixed number of REST calls whatever the number of files (9 at most, see OPEN_CALLS):
look for an open PR of the same request (idempotency key) -> read the base branch's head -> read the base
commit -> one tree with every file inline -> one commit -> the branch, created directly at that commit
-> the pull request (its body carries the metadata) -> the labels -> review requests to the GitHub
accounts of the approvers (settings.github_approvers; best effort, skipped when there are none). A
description longer than GitHub's body limit (65,536 characters) adds its comments: the body keeps a
summary and a link (`_post_details`).

GitHub's answers are told apart, not guessed (docs/github.md, "What GitHub refuses"): a rebuild moves
the branch before it posts its review (GitHub reviews only commits of the pull request); a merge's 405
is a conflict (re-applied) only when GitHub says the pull request does not merge; a pending or failing
required check, a missing required review or a disabled merge method is MergeBlocked, with nothing
pushed; "Base branch was modified" is retried with back-off. The portal's login comes from the
settings or GET /app, never GET /user with an integration token.

`GitHubChanges` is built from its bases, one concern each: core.changes.github.transport (calling GitHub:
retries, rate limits, conditional reads, paging; faults), core.changes.github.records (the signed
request record and the reviews that count; trust), core.changes.github.git_data (branches, commits, the
configuration at a commit) and core.changes.github.statuses (the audit anchors).
"""
from __future__ import annotations

import builtins
import logging
import re
import threading
import time
from pathlib import Path
from typing import Callable

from github import Github, GithubException

from core.changes import metadata as meta
from core.changes.approval import CLOSING, EVENT_ACTIONS, status_from_reviews
from core.changes.base import (AlreadyResolved, BaseMoved, ChangeBackend, ChangeError, HeadMoved, MergedChange,
                               resolved_message)
from core.changes.github.cache import ConditionalCache, PullIndex
from core.changes.github.git_data import GitData
from core.changes.github.records import (BODY_LIMIT, DEPLOY_FAILED_LABEL, DEPLOYED_LABEL, LABEL, WITHDRAWN_LABEL,
                                         _details_parts, _details_sha, _iso, _slug)
from core.changes.github.statuses import CommitStatuses
from core.changes.github.transport import GitHubConfig, _errors_text, _shown
from core.changes.model import Actor, ChangeRequest, Event, Review, Status
from core.plaintext import inline_code, md_escape

OPEN_CALLS = 9  # REST calls to open one change request (documented in docs/github.md; counted in a test)


class MergeBlocked(ChangeError):
    """GitHub refused the merge for a reason no rebuild answers (a required check pending or failing, a
    required review missing, the merge method disabled): the message says which; nothing was pushed."""


class GitHubChanges(GitData, CommitStatuses, ChangeBackend):
    def __init__(self, clients: Callable[[], Github], cfg: GitHubConfig, cache_dir: Path, base_branch: str = "main",
                 config_dir: str = "snowddl", required_approvals: int = 1, sleep: Callable[[float], None] = time.sleep,
                 signing_key: bytes = b"", clock: Callable[[], float] = time.monotonic,
                 is_approver: Callable[[str], bool] = lambda username: False):
        """`is_approver(portal username) -> bool`: whether that portal user may approve now (the sign-in's
        users file, read again each time); a mapped GitHub login's decisions count only while it holds."""
        if not signing_key:
            raise ChangeError("the GitHub backend needs a signing key for request records (see docs/security.md).")
        self._signing_key = signing_key
        self._login: str | None = cfg.portal_login or None
        self._permissions: dict[str, tuple[float, str]] = {}
        self._clients = clients
        self._local = threading.local()
        self.cfg = cfg
        self.owner, self.name = cfg.owner_and_name
        self.cache_dir = Path(cache_dir)
        self.base_branch = base_branch
        self.config_dir = config_dir
        self.required_approvals = required_approvals
        self._sleep = sleep
        self._clock = clock
        self._is_approver = is_approver
        self._answers = ConditionalCache()  # shared by this backend's threads: ETag and last answer per GET
        self._index = PullIndex()

    def requester_names(self, cr: ChangeRequest) -> set[str]:
        return self._requesters(cr.requester)

    def resumes(self, cr: ChangeRequest, recipe: str, requester: Actor, request: dict) -> bool:
        return meta.idempotency_key(recipe, requester.username, request) == meta.idempotency_key(cr.recipe, cr.requester, cr.request)

    def repository_access(self) -> str:
        """What the portal's credentials may do on the repository, for the Status page: GitHub's
        permission name (admin, maintain, write, triage, read, none), from the repository's own answer
        (`permissions`, given to tokens) or else the collaborator permission of the portal's login.
        Raises ChangeError (GitHubUnavailable) when GitHub cannot be reached or refuses the credentials."""
        try:
            repo = self._call("reading the repository", lambda: self._fetch(self.gh_repo.url).payload)
        except GithubException as exc:
            raise self._refused("reading the repository", exc) from None
        flags = repo.get("permissions") or {}
        for name, flag in (("admin", "admin"), ("maintain", "maintain"), ("write", "push"), ("triage", "triage"),
                           ("read", "pull")):
            if flags.get(flag):
                return name
        return self._permission(self.portal_login)

    # -- reading ---------------------------------------------------------------------------------
    def base_head(self) -> str:
        return self._branch_head(self.base_branch) or self._missing_base()

    def _missing_base(self):
        raise ChangeError(f"the repository {self.cfg.repository} has no branch {self.base_branch}")

    def get(self, request_id: int) -> ChangeRequest | None:
        pr = self._pull(int(request_id))
        if pr is None:
            return None
        data = self._record(pr)
        if data is None:
            return None  # not a SnowTower pull request, or one whose record does not verify
        raw_reviews = self._raw_reviews(pr) if pr.state == "open" else []
        if pr.state == "open" and self._unfinished(pr, data, raw_reviews):
            try:
                pr = self._resume(pr, data, raw_reviews)
                raw_reviews = self._raw_reviews(pr)
            except ChangeError as exc:
                # Why: a request GitHub will not let the portal finish stays readable and actionable (it
                # can be withdrawn, rejected or changed again); its pending decision counts meanwhile.
                logging.getLogger(__name__).warning("#%s: %s", pr.number, exc)
        cr = self._to_cr(pr, raw_reviews)
        if pr.state == "open" and cr.status in (Status.REJECTED, Status.WITHDRAWN):  # a closing stopped before the PR was closed
            try:
                self._close(pr, cr.status)
            except GithubException as exc:
                raise self._refused(f"finishing the {cr.status.label} request #{pr.number}", exc) from None
        return cr

    def _close(self, pr, status: Status) -> None:
        """Close `pr` as `status` (REJECTED or WITHDRAWN) and delete its branch. The withdrawn label goes
        on before the PR closes: a closed PR without it reads as rejected. Each step is safe to repeat."""
        if status == Status.WITHDRAWN:
            self._call(f"labelling #{pr.number}", lambda: pr.add_to_labels(WITHDRAWN_LABEL))
        self._call(f"closing #{pr.number}", lambda: pr.edit(state="closed"))
        self._delete_branch(pr.head.ref)

    def _resume(self, pr, data: dict, raw_reviews: list | None = None):
        """Finish an update_branch that stopped after the signed record named the new head (the commit
        exists; the record is the portal's): move the branch there if it is still at the head it
        replaces, then post the decision (`pending` in the record) naming the new head, unless it is
        already there. Records written by earlier versions (decision posted before the move) resume
        the same way. Returns the pull request as it is now. Raises ChangeError (with GitHub's reason)
        when GitHub refuses a step; the request stays readable meanwhile (`get` shows it as it is, with
        the pending decision counted)."""
        try:
            if pr.head.sha != data["head_sha"]:
                self._call(f"finishing the update of #{pr.number}", lambda: self._move_ref(pr.head.ref, data["head_sha"]))
                pr = self._pull(pr.number)
                raw_reviews = None
            if pr is not None and pr.head.sha == data["head_sha"] and self._pending_unposted(
                    data, self._raw_reviews(pr) if raw_reviews is None else raw_reviews, pr) is not None:
                pending = data["pending"]
                who = Actor(str(pending.get("actor", "")), str(pending.get("actor_name", "")))
                self._post_review(pr, who, str(pending["decision"]), str(pending.get("reason", "")), data["head_sha"])
        except GithubException as exc:
            raise self._refused(f"finishing the update of #{pr.number}", exc) from None
        return self._pull(pr.number)

    def list(self, requester: str | None = None, statuses: list[Status] | None = None) -> list[ChangeRequest]:
        """The portal's change requests, newest first. API calls: one conditional request when no pull
        request changed since the last call (no rate limit spent), plus one per open request whose
        reviews may have changed; never one per closed pull request (docs/github.md)."""
        # Only open pull requests when only unresolved statuses are asked for (the review queue).
        open_only = bool(statuses) and not any(s.resolved for s in statuses or ())
        out = []
        for raw in self._sync_pulls():
            if not self._is_portal_pull(raw) or (open_only and raw.get("state") != "open"):
                continue
            pr = self._listed_pull(raw)
            if self._record(pr) is None:
                continue  # not opened by the portal, not signed by it, or pushed to since (docs/security.md)
            cr = self._to_cr(pr, [])
            if requester and cr.requester != requester:
                continue
            if pr.state == "open" and (not statuses or any(not s.resolved for s in statuses)):
                cr = self._to_cr(pr, self._raw_reviews(pr, tag=_shown(_iso(pr.updated_at), pr.head.sha)))
            if statuses and cr.status not in statuses:
                continue
            out.append(cr)
        return out

    def reviews(self, cr: ChangeRequest) -> builtins.list[Review]:
        pr = self._pull(cr.id)
        return self._reviews_from(self._raw_reviews(pr), pr) if pr else []

    def events(self, cr: ChangeRequest) -> builtins.list[Event]:
        """The request's history, for display: what was read for the same updated_at and head (as `cr`
        shows them) less than `cfg.recheck_seconds` ago is reused without a call."""
        tag = _shown(cr.updated_at, cr.head_sha)
        pr = self._pull(cr.id, tag=tag)
        if pr is None:
            return []
        data = self._record(pr) or {}
        events = [Event(cr.id, _iso(pr.created_at), data.get("requester", ""), "submitted", f"branch {pr.head.ref}")]
        # Events count only from the portal itself and the merge-deploy workflow; anyone else's comment
        # carrying an event block is text.
        for r in self._reviews_from(self._raw_reviews(pr, tag=tag), pr):
            events.append(Event(cr.id, r.at, r.reviewer, EVENT_ACTIONS.get(r.decision, "commented"), r.comment))
        from github.IssueComment import IssueComment
        trusted = {self.portal_login.lower(), (self.cfg.deploy_login or "").lower()} - {""}
        merged_by = None
        comments = self._call(f"reading the comments of #{pr.number}", lambda: self._fetch_all(f"{pr.issue_url}/comments", tag=tag))
        for c in (self._object(IssueComment, raw) for raw in comments):
            ev = meta.extract(c.body, meta.EVENT) if c.user and str(c.user.login).lower() in trusted else None
            if not ev:
                continue
            if ev.get("action") == "merged":  # who merged it in the portal (GitHub only knows the portal's login)
                merged_by = str(ev.get("actor", "")) or None
                continue
            # The deploy workflow is a GitHub account, not a portal user: shown as github:<its login>.
            actor = str(ev.get("actor", "")) if self._is_me(c.user.login) else self._github_name(c.user.login)
            events.append(Event(cr.id, _iso(c.created_at), actor, str(ev.get("action", "commented")),
                                str(ev.get("detail", ""))))
        if pr.merged:
            by = merged_by or (self._github_name(pr.merged_by.login) if getattr(pr, "merged_by", None) else "github")
            events.append(Event(cr.id, _iso(pr.merged_at), by, "merged", f"{self.base_branch} at {(pr.merge_commit_sha or '')[:8]}"))
        # Times have one-second resolution: within a second, keep the lifecycle's own order.
        rank = {"submitted": 0, "merged": 8, "deployed": 9}
        return sorted(events, key=lambda e: (e.at, rank.get(e.action, 5)))

    def diff(self, cr: ChangeRequest) -> str:
        # The diff depends only on the head (and the base it forked from): reused for the same head.
        return self._call(f"reading the diff of #{cr.id}",
                          lambda: self._fetch(f"{self.gh_repo.url}/pulls/{int(cr.id)}", accept="application/vnd.github.diff",
                                              tag=_shown(cr.updated_at, cr.head_sha)).payload)

    def _label(self, pr, recipe: str, labels=()) -> None:
        # Adding labels that are already there changes nothing: safe to repeat.
        self._call(f"labelling #{pr.number}", lambda: pr.add_to_labels(LABEL, recipe, *labels))

    def open(self, *, recipe, title, body, requester: Actor, justification, request, files, base_sha, validation,
             labels=()):
        if not files:
            raise ChangeError("the request changes no file")
        key = meta.idempotency_key(recipe, requester.username, request)
        branch = f"snowtower/{key[:10]}-{_slug(title)}"
        # The portal's own login before anything is written: a pull request it cannot recognise as its own
        # afterwards would be left behind (ChangeError when the credentials do not tell it).
        self.portal_login  # noqa: B018
        try:
            # 1. The same request already open (a retry after a fault, a double click): resume it.
            existing = self._find_open_pull(branch)
            if existing is not None:
                record = self._record(existing)
                if record is None:
                    raise ChangeError(f"pull request #{existing.number} holds this request's branch but was not made by "
                                      "SnowTower (or was changed outside it); nothing was submitted.")
                self._label(existing, recipe, tuple(str(x) for x in record.get("labels") or ()))
                self._post_details(existing, body)
                return self._to_cr(existing, [])
            # 2. Refuse a stale preview, as the local backend does.
            head = self.base_head()
            if head != base_sha:
                raise BaseMoved(f"{self.base_branch} moved since this preview was made ({base_sha[:8]} -> {head[:8]}): "
                                "preview again to see the change on the current configuration.")
            # 3-5. One atomic commit for every file.
            message = f"{title}\n\nRequested by {requester.username} through SnowTower.\n"
            commit = self._commit(base_sha, files, message, requester)
            # 6. The branch, created directly at the commit.
            self._create_branch(branch, commit)
        except GithubException as exc:
            raise self._refused("opening the change request", exc) from None
        # 7. The pull request; if it cannot be opened, the branch is removed again.
        data = {"v": meta.VERSION, "key": key, "recipe": recipe, "title": title, "requester": requester.username,
                "requester_name": requester.name, "justification": justification, "request": request,
                "branch": branch, "base_sha": base_sha, "head_sha": commit, "files": sorted(files),
                "validation": validation, **({"labels": list(labels)} if labels else {})}
        pr_body = body.rstrip() + "\n\n" + self._sign(data) + "\n"
        if len(pr_body) > BODY_LIMIT:
            # Why: GitHub refuses a longer body. The body keeps a summary; the full text goes to comments.
            parts = _details_parts(body)
            data["details"] = {"sha": _details_sha(body), "parts": len(parts)}
            summary = (f"**{md_escape(title)}** requested by {md_escape(requester.name or requester.username)} "
                       f"({inline_code(requester.username)}).\n\n**Validation:** "
                       f"{'passed' if validation.get('valid') else 'FAILED'}\n\n"
                       f"The full description (fields, justification and plan, {len(body.rstrip()):,} characters) is longer "
                       f"than GitHub allows in a pull request body: it is in {len(parts)} comment(s) below, from "
                       f"{inline_code(self.portal_login)}.")
            pr_body = summary + "\n\n" + self._sign(data) + "\n"
        try:
            pr = self._call("opening the pull request", lambda: self._create_pull(title, branch, pr_body))
        except (ChangeError, GithubException) as exc:
            self._remove_orphan(branch)
            if isinstance(exc, GithubException):
                raise self._refused("the pull request", exc) from None
            raise
        # 8. Labels. If this fails the PR stays (it is complete apart from labels); a retry resumes it.
        try:
            self._label(pr, recipe, tuple(labels))
        except (ChangeError, GithubException) as exc:
            raise ChangeError(f"pull request #{pr.number} was opened but GitHub failed while labelling it ({exc}). "
                              "Submit again to finish it: no second pull request will be opened.") from None
        # 9. The full description when the body could not hold it; a retry posts what is missing.
        try:
            self._post_details(pr, body)
        except (ChangeError, GithubException) as exc:
            raise ChangeError(f"pull request #{pr.number} was opened but GitHub failed while adding its full description "
                              f"({exc}). Submit again to finish it: no second pull request will be opened.") from None
        # 10. Review requests: the approvers' GitHub accounts see it in their queue (best effort).
        self._request_reviews(pr, requester.username)
        return self._to_cr(pr, [])

    def merged_change(self, number: int) -> MergedChange | None:
        """Pull request `number` if merged into the base branch (by the portal or by hand): its merge commit,
        that commit's first parent, and whether it is labelled `deploy-failed` (by merge-deploy) and not
        `deployed`. Two calls: the pull request, the merge commit."""
        pr = self._pull(int(number))
        if pr is None or not pr.merged or pr.base.ref != self.base_branch or not pr.merge_commit_sha:
            return None
        sha = pr.merge_commit_sha
        try:
            parents = self._call(f"reading commit {sha[:12]}", lambda: self.gh_repo.get_git_commit(sha).parents)
        except GithubException as exc:
            raise self._refused(f"reading commit {sha[:12]}", exc) from None
        if not parents:
            return None
        labels = {label.name for label in pr.labels}
        record = self._record(pr) or {}
        return MergedChange(pr.number, sha, parents[0].sha, DEPLOY_FAILED_LABEL in labels and DEPLOYED_LABEL not in labels,
                            str(record.get("title") or ""))

    def reviewer_logins(self, requester: str) -> builtins.list[str]:
        """The GitHub logins to ask for a review of `requester`'s request: mapped (settings.github_approvers)
        to a portal user who is an approver now, never one of the requester's own accounts, never the portal."""
        own = {n.casefold() for n in self._requesters(requester)}
        return sorted(login for login, user in self.cfg.approvers.items()
                      if login.casefold() not in own and user.casefold() not in own
                      and login.casefold() != (self._login or "").casefold() and self._is_approver(user))

    def _request_reviews(self, pr, requester: str) -> None:
        logins = self.reviewer_logins(requester)
        if not logins:
            return
        try:  # asking twice changes nothing on GitHub: safe to repeat
            self._call(f"requesting reviews on #{pr.number}", lambda: pr.create_review_request(reviewers=logins))
        except (ChangeError, GithubException) as exc:
            # Why best effort: the request is open and complete; the approvers are also told by the portal's
            # notifications. A login without access to the repository (422) is the usual cause.
            logging.getLogger(__name__).warning("review requests on #%s failed: %s", pr.number,
                                                str(getattr(exc, "status", "")) + " " + _errors_text(exc)
                                                if isinstance(exc, GithubException) else exc)

    def _open_pull(self, cr: ChangeRequest, *, must_finish: bool = True):
        """The PR of `cr` if it is still open and its record verifies; else the reason as a ChangeError.
        A half-done update is finished first; if GitHub refuses that, ChangeError says so when
        `must_finish`, else (closing it, or updating it again from where its branch is) it goes on."""
        pr = self._pull(cr.id)
        data = self._record(pr) if pr is not None else None
        if pr is None or data is None:
            raise ChangeError(f"{cr.ref} is not a SnowTower request (or its record does not verify); nothing was done.")
        if pr.state != "open":
            again = self._to_cr(pr, [])
            raise AlreadyResolved(resolved_message(again, self._resolved_by(pr)))
        if self._unfinished(pr, data):
            try:
                pr = self._resume(pr, data)
            except ChangeError as exc:
                if must_finish:
                    raise ChangeError(f"{cr.ref}: its last update could not be finished on GitHub ({exc}) Nothing was "
                                      "recorded; it can still be withdrawn, rejected or edited and resubmitted.") from None
                logging.getLogger(__name__).warning("%s: %s", cr.ref, exc)
        return pr, data

    def _resolved_by(self, pr) -> str | None:
        cr = self._to_cr(pr, [])
        wanted = "merged" if pr.merged else cr.status.value  # rejected | withdrawn: the event of that name
        return next((e.actor for e in reversed(self.events(cr)) if e.action == wanted), None)

    def review(self, cr, actor, decision, comment, seen_head=None):
        pr, _ = self._open_pull(cr, must_finish=decision not in CLOSING)
        # Why: an approval covers the commit the reviewer saw. GitHub has no transaction: the check is
        # made here and the review names the commit, so one recorded after a resubmission (which names
        # the new head) never counts (core.changes.approval).
        head = pr.head.sha
        if seen_head and seen_head != head:
            raise HeadMoved(f"{cr.ref} changed since you opened it ({seen_head[:8]} -> {head[:8]}): nothing was recorded. "
                            "Reload and review the new version.")
        try:
            # The decision first: if closing stops halfway, the next read finishes it from the decision (get).
            self._post_review(pr, actor, decision, comment, head)
            if decision in CLOSING:
                self._close(pr, CLOSING[decision])
        except GithubException as exc:
            raise self._refused(f"the review of {cr.ref}", exc) from None
        return self.get(cr.id)

    def _merge_refused(self, cr: ChangeRequest, text: str) -> ChangeError:
        """What a 405 from GitHub's merge means, told apart by GitHub's message and the pull request as
        it is now (https://docs.github.com/en/rest/pulls/pulls#merge-a-pull-request): BaseMoved only for
        a conflict or a head behind its base (the request is re-applied); anything else is MergeBlocked,
        with what is missing and nothing pushed."""
        lower = text.lower()
        if "base branch was modified" in lower:
            return MergeBlocked(f"GitHub was still taking in the latest change of {self.base_branch} and refused to merge "
                                f"{cr.ref} ({text}). Nothing was merged; try again in a moment.")
        m = re.search(r'required status check "([^"]+)"', text, re.IGNORECASE)
        if m:
            check = m.group(1)
            if "failing" in lower or "failed" in lower:
                return MergeBlocked(f"{cr.ref} cannot be merged: the required check {check} failed on it ({text}). "
                                    "Nothing was merged; see the check on the pull request, then ask for changes or re-run it.")
            return MergeBlocked(f"{cr.ref} is waiting for check {check}: GitHub merges it once that check has passed "
                                f"({text}). Nothing was merged; merge again when it is green.")
        if re.search(r"approving review|code owner|review.* required|changes requested", lower):
            return MergeBlocked(f"{cr.ref} cannot be merged yet: the branch protection of {self.base_branch} requires "
                                f"approving reviews on GitHub ({text}). Approvals in SnowTower are posted as comments: an "
                                "approver with write access approves on GitHub, or the portal's login is allowed to bypass "
                                "that rule (docs/github.md). Nothing was merged.")
        if "not allowed on this repository" in lower:
            return MergeBlocked(f"{cr.ref} cannot be merged: {text} SnowTower merges by squashing; a repository admin "
                                "must allow squash merging (docs/github.md). Nothing was merged.")
        again = self._pull(cr.id)
        if again is not None and again.mergeable is False:
            return BaseMoved(f"{cr.ref} conflicts with {self.base_branch}; it must be re-applied first.")
        if again is not None and again.mergeable_state == "behind":
            return BaseMoved(f"{cr.ref} is behind {self.base_branch}; it must be re-applied first.")
        return MergeBlocked(f"GitHub refused to merge {cr.ref} ({text or 'no detail'}). Nothing was merged or changed; "
                            "see the pull request on GitHub.")

    def update_branch(self, cr, files, base_sha, actor, reason, validation, request=None, decision="rebase"):
        if decision not in ("rebase", "resubmit", "void"):
            raise ValueError(f"update_branch records rebase, resubmit or void, not {decision!r}")
        pr, data = self._open_pull(cr, must_finish=False)
        if pr.head.sha != cr.head_sha:
            raise ChangeError(f"{cr.ref} was changed by someone else meanwhile; reload and try again.")
        try:
            # The requester stays the author of the change; whoever rebuilt it is the committer.
            first = self._call("reading the request's commit", lambda: self.gh_repo.get_git_commit(cr.head_sha))
            commit = self._commit(base_sha, files, f"{cr.title}\n\n{reason}\n", actor,
                                  author=(first.author.name, first.author.email))
            # Order matters for a crash at any step (GitHub has no transaction):
            # 1. the signed record names the new head, the head it replaces and the decision still to
            #    record: from here on, the next read finishes the update (_resume), merging the old head is
            #    refused (the record names another), and the decision counts already (_reviews_from adds a
            #    pending decision not yet posted), so no approval of the old content covers the new one;
            record = {k: v for k, v in data.items() if k != meta.SIGNATURE}
            record.update(base_sha=base_sha, head_sha=commit, prev_head=cr.head_sha, files=sorted(files), validation=validation,
                          pending={"decision": decision, "reason": reason, "actor": actor.username, "actor_name": actor.name})
            if request is not None:
                record["request"] = request
            new_body = meta.visible(pr.body) + "\n\n" + self._sign(record) + "\n"
            self._call(f"updating #{pr.number}", lambda: pr.edit(body=new_body))
            # 2. the branch: compared just before the forced move (GitHub has no compare-and-swap on refs).
            current = self._branch_head(cr.branch)
            if current != cr.head_sha:
                raise ChangeError(f"the branch of {cr.ref} was changed by someone else; reload and try again.")
            self._call(f"updating branch {cr.branch}", lambda: self._move_ref(cr.branch, commit))
        except GithubException as exc:
            raise self._refused(f"updating {cr.ref}", exc) from None
        # 3. the decision, naming the new head, now a commit of the pull request: GitHub refuses a review of
        #    a commit that is not (422 "The commitOID is not part of the pull request"). The update is done
        #    and its decision counts already (the record's `pending`): if posting fails, the next read posts it.
        try:
            self._post_review(pr, actor, decision, reason, commit)
        except (ChangeError, GithubException) as exc:
            logging.getLogger(__name__).warning("%s: recording the %s review failed, the next read retries: %s", cr.ref,
                                                decision, exc)
        return self.get(cr.id)

    def merge(self, cr, actor):
        head = self.base_head()
        if head != cr.base_sha:
            raise BaseMoved(f"{self.base_branch} moved since {cr.ref} was prepared; it must be re-applied first.")
        pr = self._pull(cr.id)
        if pr is None:
            raise ChangeError(f"pull request {cr.ref} no longer exists on GitHub.")
        if pr.merged:
            return self.get(cr.id)
        if pr.state != "open":
            raise ChangeError(f"request {cr.ref} is already closed on GitHub.")
        data = self._record(pr)
        if data is not None and self._unfinished(pr, data):
            try:  # a half-done update is finished before anything is merged
                pr = self._resume(pr, data)
            except ChangeError as exc:
                raise ChangeError(f"{cr.ref}: its last update could not be finished on GitHub ({exc}) Nothing was merged.") from None
            data = self._record(pr)
        # Why: the guards run again here, on what GitHub holds now, not on what a page or caller read.
        if data is None or pr.head.sha != cr.head_sha or data.get("head_sha") != cr.head_sha:
            raise HeadMoved(f"{cr.ref} changed (or its record no longer verifies) since it was approved; nothing was merged.")
        status = status_from_reviews(self._reviews_from(self._raw_reviews(pr), pr), self._requesters(data.get("requester", "")),
                                     self.required_approvals,
                                     pr.head.sha)
        if status != Status.APPROVED:
            raise ChangeError(f"{cr.ref} is {status.label}, not approved; nothing was merged.")
        # GitHub computes mergeability in the background; null means "not yet": asked again, bounded.
        delay = self.cfg.backoff
        for _ in range(max(1, self.cfg.attempts) - 1):
            if pr.mergeable is not None:
                break
            self._sleep(delay)
            delay *= 2
            pr = self._pull(cr.id)
        if pr.mergeable is False:
            raise BaseMoved(f"{cr.ref} conflicts with {self.base_branch}; it must be re-applied first.")
        if pr.mergeable_state == "behind":  # protection requires the branch to contain the base's head
            raise BaseMoved(f"{cr.ref} is behind {self.base_branch}; it must be re-applied first.")

        def merged_already():
            again = self.gh_repo.get_pull(cr.id)
            return True if again.merged else None

        delay = self.cfg.backoff
        attempts = max(1, self.cfg.attempts)
        for attempt in range(1, attempts + 1):
            try:
                self._call(f"merging {cr.ref}", lambda: pr.merge(
                    merge_method="squash", sha=cr.head_sha, commit_title=f"{cr.title} (#{cr.id})",
                    commit_message=f"Requested by {cr.requester}; merged by {actor.username} in SnowTower."),
                    retry=False, done=merged_already)
                break
            except GithubException as exc:
                if exc.status == 409:  # `sha` is not the head any more: someone pushed meanwhile
                    raise HeadMoved(f"{cr.ref} changed on GitHub while merging; nothing was merged. Reload it.") from None
                if exc.status != 405:
                    raise self._refused(f"merging {cr.ref}", exc) from None
                text = _errors_text(exc)
                if "base branch was modified" in text.lower() and attempt < attempts:
                    # GitHub's passing 405 while it recomputes the merge: the same merge is tried again.
                    self._sleep(delay)
                    delay *= 2
                    if self.base_head() != cr.base_sha:
                        raise BaseMoved(f"{self.base_branch} moved while merging {cr.ref}; it must be re-applied first.") from None
                    continue
                raise self._merge_refused(cr, text) from None
        try:  # who merged, for the history (GitHub records the portal's login): text only, best effort
            self._post_event(pr, actor, "merged", f"{self.base_branch} at {cr.head_sha[:8]}", f"Merged in SnowTower by {actor.username}.")
        except (ChangeError, GithubException):
            pass
        self._delete_branch(cr.branch)
        return self.get(cr.id)
