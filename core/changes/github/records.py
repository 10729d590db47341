"""The request record on a pull request, and what GitHub holds that counts as the portal's.

- Names and limits: the portal's label and branch prefix, the status labels, GitHub's body limit and
  how a longer description is cut into comments (`_details_parts`).
- `PullRecords` (a base of GitHubChanges): the portal's own login (`portal_login`), the signed request
  record of a pull request (`_record`, `_sign`), the change request it makes (`_to_cr`), the reviews that
  count (`_reviews_from`), and posting the portal's reviews, events and description comments.

Trust (docs/security.md): GitHub keeps who asked, the request, its branch, base and head commits and its
validation in the PR body as a record signed by the portal (HMAC-SHA256, core.changes.metadata.sign); a
PR counts only if the portal's own login opened it from the portal's branch prefix and its record
verifies and names the PR's head. Reviews made in the portal are posted by the portal's login as
GitHub reviews carrying the portal user, decision and head commit in metadata (event COMMENT, because
GitHub refuses approvals by the PR's author, the identity the portal uses); metadata posted by any other
account is text, never data. Native GitHub reviews count only from logins mapped to portal approvers
(settings.github_approvers) with write permission, and an approval only for the PR's current head.
"""
from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timezone
from typing import Callable

from github import GithubException

from core.changes import metadata as meta
from core.changes.approval import status_from_reviews
from core.changes.github.transport import GitHubTransport
from core.changes.model import Actor, ChangeRequest, Review, Status
from core.plaintext import fenced, inline_code, md_escape

LABEL = "snowtower"
BRANCH_PREFIX = "snowtower/"  # every branch the portal opens a pull request from starts with this
DEPLOYED_LABEL = "deployed"
DEPLOY_FAILED_LABEL = "deploy-failed"  # set by merge-deploy (app/jobs/deploy.py) when the apply or its verification failed
WITHDRAWN_LABEL = "withdrawn"  # a closed, unmerged PR with this label was withdrawn by its requester (else: rejected)


TAMPERED_REVIEW = ("A SnowTower review on GitHub was edited outside the portal: no decision made before it counts; "
                   "the request needs a new review.")


# https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request: GitHub refuses a pull request body
# or comment longer than 65,536 characters (422 "body is too long (maximum is 65536 characters)").
BODY_LIMIT = 65536
DETAILS_PART = 60000  # characters of the full description per comment (fenced, well under the limit)


def _details_sha(body: str) -> str:
    import hashlib
    return hashlib.sha256(body.rstrip().encode()).hexdigest()[:16]


def _details_parts(body: str) -> list[str]:
    """`body` cut into parts of at most DETAILS_PART characters, at line ends where it can be."""
    text, parts = body.rstrip(), []
    while text:
        cut = len(text) if len(text) <= DETAILS_PART else (text.rfind("\n", 0, DETAILS_PART) + 1 or DETAILS_PART)
        parts.append(text[:cut])
        text = text[cut:]
    return parts


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "change"


def _iso(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="seconds")
    return str(value or "")


WRITE_PERMISSIONS = ("admin", "maintain", "write")
PERMISSION_TTL = 300.0  # seconds a collaborator's permission is trusted before it is asked again
GITHUB_NAMESPACE = "github:"  # a GitHub login as a name (app.identity.github_name): never a portal login


def _login_of(name: str) -> str:
    """The GitHub login of `github:<login>`; any other name as it is (records made before the namespace)."""
    return name[len(GITHUB_NAMESPACE):] if name.lower().startswith(GITHUB_NAMESPACE) else name


class PullRecords(GitHubTransport):
    """Reading and writing what the portal keeps on its pull requests (GitHubChanges sets the attributes)."""

    _signing_key: bytes
    _login: str | None
    _permissions: dict[str, tuple[float, str]]
    required_approvals: int
    _is_approver: Callable[[str], bool]

    # -- trust -----------------------------------------------------------------------------------
    @property
    def portal_login(self) -> str:
        """The portal's own GitHub login, learned once: only what it posted is read back as data."""
        if self._login is None:
            learn = getattr(self._clients, "login", None) or (lambda: self.gh.get_user().login)
            try:
                login = self._call("reading the portal's GitHub identity", learn)
            except GithubException as exc:
                raise self._refused("reading the portal's GitHub identity", exc) from None
            self._login = str(login)
        return self._login

    def _is_me(self, login) -> bool:
        """Whether `login` is the portal's own: GitHub logins are case-insensitive (a setting may spell
        the portal's login in another case than GitHub returns it)."""
        return bool(login) and str(login).lower() == self.portal_login.lower()

    def _record(self, pr) -> dict | None:
        """The PR's request record if the portal made it, else None: opened by the portal's login from
        its branch prefix into the base branch, signed with the portal's key, naming this PR's branch and
        head commit (or, while an update is half-done, the head it replaces: `prev_head`, finished by
        `_resume`)."""
        if not pr.head.ref.startswith(BRANCH_PREFIX) or not pr.user or not self._is_me(pr.user.login):
            return None
        if pr.base.ref != self.base_branch:
            return None  # retargeted by a writer: approved for the base branch, never merged elsewhere
        data = meta.extract(pr.body, meta.REQUEST)
        if not meta.verify(data, self._signing_key) or data.get("branch") != pr.head.ref:
            return None
        if pr.head.sha not in (data.get("head_sha"), data.get("prev_head")):
            return None  # someone pushed to the branch: not what the portal built and reviewers saw
        return data

    def _requesters(self, requester: str) -> set[str]:
        # Why: a request submitted under a GitHub login (the issue form's workflow: `github:<login>`; before
        # that namespace, the bare login) belongs to the portal user that login is mapped to as well.
        mapped = self.cfg.approvers.get(_login_of(requester).lower())
        return {requester, mapped} if mapped else {requester}

    def _github_name(self, login: str) -> str:
        """The name a GitHub login is shown under: its mapped portal user, else `github:<login>` (never a
        bare login, which could read as the portal login of someone else)."""
        return self.cfg.approvers.get(login.lower()) or f"{GITHUB_NAMESPACE}{login.lower()}"

    def _sign(self, data: dict) -> str:
        return meta.embed("", meta.REQUEST, meta.sign(data, self._signing_key)).strip()

    def _permission(self, login: str) -> str:
        hit = self._permissions.get(login)
        if hit and time.monotonic() - hit[0] < PERMISSION_TTL:
            return hit[1]

        def read():
            try:
                return self.gh_repo.get_collaborator_permission(login)
            except GithubException as exc:
                if exc.status in (403, 404):
                    return "none"
                raise
        permission = self._call(f"reading the permission of {login}", read)
        self._permissions[login] = (time.monotonic(), permission)
        return permission

    def _is_portal_pull(self, raw: dict) -> bool:
        """Opened by the portal: from one of its own branches in this repository, into the base branch."""
        head, base = raw.get("head") or {}, raw.get("base") or {}
        return (base.get("ref") == self.base_branch and str(head.get("ref") or "").startswith(BRANCH_PREFIX)
                and str(head.get("label") or "").lower().startswith(f"{self.owner.lower()}:")
                and str((head.get("repo") or {}).get("full_name") or "").lower() == self.cfg.repository.lower())

    def _pending_unposted(self, data: dict, raw_reviews: list, pr) -> Review | None:
        """The decision an update_branch recorded in the signed record (`pending`) but has not posted as
        a review yet (a crash, or GitHub refusing it), as the Review it will be; None when posted."""
        pending = data.get("pending") or {}
        if not pending or not data.get("head_sha"):
            return None
        posted = self._reviews_from(raw_reviews, pr, with_pending=False)
        if any(r.decision == pending.get("decision") and r.head_sha == data["head_sha"] for r in posted):
            return None
        return Review(pr.number, str(pending.get("actor", "")), str(pending.get("decision", "")),
                      str(pending.get("reason", "")), _iso(pr.updated_at or pr.created_at), str(data["head_sha"]))

    def _to_cr(self, pr, raw_reviews: list) -> ChangeRequest:
        data = self._record(pr) or {}
        labels = {label.name for label in pr.labels}
        if pr.merged:
            status = Status.DEPLOYED if DEPLOYED_LABEL in labels else Status.MERGED
        elif pr.state == "closed":
            status = Status.WITHDRAWN if WITHDRAWN_LABEL in labels else Status.REJECTED
        else:
            status = status_from_reviews(self._reviews_from(raw_reviews, pr), self._requesters(data.get("requester", "")),
                                         self.required_approvals,
                                         pr.head.sha)
        return ChangeRequest(
            # The title from the signed record: anyone with write access can edit a PR's title.
            id=pr.number, recipe=data.get("recipe", ""), title=data.get("title") or pr.title, requester=data.get("requester", ""),
            justification=data.get("justification", ""), request=data.get("request", {}), branch=pr.head.ref,
            base_sha=data.get("base_sha", ""), head_sha=pr.head.sha, status=status, created_at=_iso(pr.created_at),
            updated_at=_iso(pr.updated_at or pr.created_at), files=data.get("files", []),
            validation=data.get("validation", {}), merged_sha=pr.merge_commit_sha if pr.merged else None,
            url=pr.html_url,
        )

    def _reviews_from(self, raw_reviews: list, pr, with_pending: bool = True) -> list[Review]:
        """The reviews that count, in order: the portal's own (posted by its login, decision and head
        commit in metadata) and native ones by mapped approvers with write permission (an approval
        only for the PR's current head). Anything else is shown as a comment, with its GitHub login.
        `with_pending`: last, the decision of an update the signed record names but whose review is not
        posted yet (it counts from the moment the record names the new head)."""
        out = self._reviews_posted(raw_reviews, pr)
        if with_pending and pr.state == "open":
            data = self._record(pr)
            pending = self._pending_unposted(data, raw_reviews, pr) if data else None
            if pending is not None:
                out.append(pending)
        return out

    def _reviews_posted(self, raw_reviews: list, pr) -> list[Review]:
        out = []
        nonces: set = set()
        for r in raw_reviews:
            login = r.user.login if r.user else ""
            at = _iso(r.submitted_at)
            if self._is_me(login):
                data = meta.extract(r.body, meta.REVIEW)
                # Each portal review has its own nonce: the same one twice is a body copied over another
                # review (which then lost what it said, maybe a reset), so the copy voids as an edit does.
                if (meta.verify(data, self._signing_key) and data.get("pr") == pr.number
                        and data.get("nonce") not in nonces):
                    nonces.add(data.get("nonce"))
                    out.append(Review(pr.number, str(data.get("reviewer", "")), str(data.get("decision", "comment")),
                                      str(data.get("comment", "")), at, str(data.get("head_sha", ""))))
                else:
                    # Why: someone with write access edited the portal's review (GitHub lets them). What it
                    # said is lost, so no earlier decision counts: a reset at the current head.
                    out.append(Review(pr.number, "snowtower", "void", TAMPERED_REVIEW, at, pr.head.sha))
                continue
            mapped = self.cfg.approvers.get(login.lower())
            decision = {"APPROVED": "approve", "CHANGES_REQUESTED": "request_changes"}.get(r.state, "comment")
            if decision == "approve" and getattr(r, "commit_id", None) != pr.head.sha:
                decision = "comment"  # an approval of an older commit approves nothing here
            # Why: a decision counts while the login can write to the repository and its portal user is an
            # approver now (a demoted approver's GitHub account loses its say with the role).
            if not mapped or (decision != "comment" and (self._permission(login) not in WRITE_PERMISSIONS
                                                         or not self._is_approver(mapped))):
                out.append(Review(pr.number, f"{GITHUB_NAMESPACE}{login.lower()}", "comment", meta.visible(r.body or ""), at,
                                  getattr(r, "commit_id", "") or ""))
                continue
            out.append(Review(pr.number, mapped, decision, meta.visible(r.body or ""), at, getattr(r, "commit_id", "") or ""))
        return out

    def _post_details(self, pr, body: str) -> None:
        """Post the parts of the full description the signed record announces (`details`) and that are
        not on the pull request yet, each once (marked with the text's hash and its number), then link
        the first from the body. Nothing when the record announces none or another text."""
        data = self._record(pr) or {}
        details = data.get("details") or {}
        if not details or details.get("sha") != _details_sha(body):
            return
        parts = _details_parts(body)
        from github.IssueComment import IssueComment
        comments = [self._object(IssueComment, raw) for raw in
                    self._call(f"reading the comments of #{pr.number}", lambda: self._fetch_all(f"{pr.issue_url}/comments"))]
        mine = [c for c in comments if c.user and self._is_me(c.user.login)]
        first_url = None
        for i, text in enumerate(parts, 1):
            mark = f"<!-- snowtower-details {details['sha']} {i}/{len(parts)} -->"
            found = next((c for c in mine if mark in (c.body or "")), None)
            if found is None:
                comment = f"**Full description, part {i} of {len(parts)}** (as written, in Markdown):\n\n{fenced(text, 'markdown')}\n\n{mark}"
                # _call runs both lambdas before this iteration ends: the loop variables they read are current.
                found = self._call(f"commenting on #{pr.number}",
                                   lambda: pr.create_issue_comment(comment), retry=False,  # noqa: B023
                                   done=lambda: next((c for c in pr.get_issue_comments()
                                                      if mark in (c.body or "")), None))  # noqa: B023
            first_url = first_url or found.html_url
        link = f"[Read the full description]({first_url})."
        if first_url and link not in (pr.body or ""):
            visible = meta.visible(pr.body)
            new_body = visible + "\n\n" + link + "\n\n" + meta.embed("", meta.REQUEST, data).strip() + "\n"
            self._call(f"updating #{pr.number}", lambda: pr.edit(body=new_body))

    def _post_review(self, pr, actor: Actor, decision: str, comment: str, head_sha: str) -> None:
        """A portal review: posted by the portal's login as a COMMENT review on `head_sha`, with the
        portal user, decision and head commit in metadata (the only reviews whose metadata is read)."""
        words = {"approve": "approved", "request_changes": "asked for changes", "reject": "rejected", "comment": "commented",
                 "resubmit": "edited and resubmitted the request", "void": "sent the request back to review",
                 "rebase": "re-applied the request on a newer base", "withdraw": "withdrew the request"}
        nonce = uuid.uuid4().hex
        # What people typed stays text on GitHub: the name escaped, the comment in a block it cannot close.
        text = (f"**{md_escape(actor.name or actor.username)}** ({inline_code(actor.username)}) {words[decision]} in SnowTower."
                + (f"\n\n{fenced(comment)}" if comment else ""))
        # Signed like the request record, naming the PR: anyone with write access can edit a review's body.
        body = meta.embed(text, meta.REVIEW, meta.sign({"reviewer": actor.username, "decision": decision, "comment": comment,
                                                        "head_sha": head_sha, "nonce": nonce, "pr": pr.number},
                                                       self._signing_key))

        def done():
            return True if any(nonce in (r.body or "") for r in pr.get_reviews()) else None

        def post():
            self.gh_repo.requester.requestJsonAndCheck(
                "POST", f"{pr.url}/reviews", input={"body": body, "event": "COMMENT", "commit_id": head_sha})
        self._call(f"recording the review on #{pr.number}", post, retry=False, done=done)

    def _post_event(self, pr, actor: Actor, action: str, detail: str, text: str) -> None:
        nonce = uuid.uuid4().hex
        body = meta.embed(text, meta.EVENT, {"actor": actor.username, "action": action, "detail": detail, "nonce": nonce})

        def done():
            return True if any(nonce in (c.body or "") for c in pr.get_issue_comments()) else None
        self._call(f"commenting on #{pr.number}", lambda: pr.create_issue_comment(body), retry=False, done=done)

    def _unfinished(self, pr, data: dict, raw_reviews: list | None = None) -> bool:
        """Whether an update_branch of `pr` stopped halfway: the branch is not where the signed record
        says, or the record's pending decision is not posted (reviews read when not given)."""
        if pr.head.sha != data.get("head_sha"):
            return True
        if not data.get("pending"):
            return False
        return self._pending_unposted(data, self._raw_reviews(pr) if raw_reviews is None else raw_reviews, pr) is not None
