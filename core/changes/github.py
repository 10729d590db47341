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

Faults: every call goes through `_call`, which retries with back-off only where repeating the call is
harmless (reads; content-addressed git objects; ref and label writes that converge; creating a PR,
which GitHub refuses to duplicate for one head branch; reviews and comments only after checking that the
first attempt left nothing). A failure that remains becomes a ChangeError written for the user; a branch
left without its PR is deleted, and if even that fails a retry of the same request resumes it.

Trust (docs/security.md): GitHub keeps who asked, the request, its branch, base and head commits and its
validation in the PR body as a record signed by the portal (HMAC-SHA256, core.changes.metadata.sign); a
PR counts only if the portal's own login opened it from the portal's branch prefix and its record
verifies and names the PR's head. Reviews made in the portal are posted by the portal's login as
GitHub reviews carrying the portal user, decision and head commit in metadata (event COMMENT, because
GitHub refuses approvals by the PR's author, the identity the portal uses); metadata posted by any other
account is text, never data. Native GitHub reviews count only from logins mapped to portal approvers
(settings.github_approvers) with write permission, and an approval only for the PR's current head.

Reading is bounded whatever the history (docs/github.md, "Listing at scale"): every GET goes through
`_fetch`, which sends the last answer's ETag (a 304 costs no rate limit); listing keeps an index of
the repository's pull requests brought up to date from the most recently updated one down to the last
sync (`_sync_pulls`), and lists only pull requests from the portal's own branches (`BRANCH_PREFIX`).
"""
from __future__ import annotations

import io
import json
import logging
import re
import shutil
import tarfile
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, NamedTuple, TypeVar

import requests
from github import Auth, Github, GithubException, GithubIntegration, InputGitTreeElement

from core.changes import metadata as meta
from core.changes.approval import CLOSING, EVENT_ACTIONS, status_from_reviews
from core.changes.base import (AlreadyResolved, BaseMoved, ChangeBackend, ChangeError, HeadMoved, MergedChange,
                               resolved_message)
from core.changes.github_cache import CachedAnswer, ConditionalCache, PullIndex
from core.changes.model import Actor, ChangeRequest, Event, Review, Status
from core.plaintext import fenced, inline_code, md_escape

T = TypeVar("T")
OPEN_CALLS = 9  # REST calls to open one change request (documented in docs/github.md; counted in a test)
LABEL = "snowtower"
BRANCH_PREFIX = "snowtower/"  # every branch the portal opens a pull request from starts with this
PER_PAGE = 100  # GitHub's largest page
DEPLOYED_LABEL = "deployed"
DEPLOY_FAILED_LABEL = "deploy-failed"  # set by merge-deploy (app/jobs/deploy.py) when the apply or its verification failed
# The audit log's anchors (app.audit_anchor): a commit status of this context on each merged commit,
# https://docs.github.com/en/rest/commits/statuses. Its description is at most 140 characters (GitHub
# answers 422 "description is too long (maximum is 140 characters)"); 1000 statuses per sha and context.
AUDIT_CONTEXT = "snowtower/audit"
STATUS_DESCRIPTION_LIMIT = 140
WITHDRAWN_LABEL = "withdrawn"  # a closed, unmerged PR with this label was withdrawn by its requester (else: rejected)


TAMPERED_REVIEW = ("A SnowTower review on GitHub was edited outside the portal: no decision made before it counts; "
                   "the request needs a new review.")


class GitHubUnavailable(ChangeError):
    """GitHub did not answer, answered 5xx, or the rate limit is spent: nothing half-done was left."""


class MergeBlocked(ChangeError):
    """GitHub refused the merge for a reason no rebuild answers (a required check pending or failing, a
    required review missing, the merge method disabled): the message says which; nothing was pushed."""


@dataclass(frozen=True)
class GitHubConfig:
    """Where and how to reach GitHub. Secrets are kept out of repr so they are never logged or shown."""

    repository: str  # owner/name
    base_url: str = "https://api.github.com"  # GitHub Enterprise Server: https://HOST/api/v3
    token: str | None = field(default=None, repr=False)
    app_id: str | None = None
    private_key: str | None = field(default=None, repr=False)
    installation_id: int | None = None
    timeout: int = 15  # seconds per request
    seconds_between_requests: float = 0.0  # PyGithub throttling, set deliberately (see docs/github.md)
    seconds_between_writes: float = 0.25
    attempts: int = 4  # per call, where retrying is safe
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    max_rate_limit_wait: float = 20.0  # wait for a rate-limit reset up to this long, else tell the user
    portal_login: str = ""  # the portal's own login; "": learned once from the credentials
    deploy_login: str = "github-actions[bot]"  # the merge-deploy workflow's login: its "deployed" events count
    approvers: dict = field(default_factory=dict)  # GitHub login (lower case) -> portal username
    recheck_seconds: float = 60.0  # listing and history: what an unchanged PR showed is asked again after this

    @property
    def owner_and_name(self) -> tuple[str, str]:
        owner, _, name = self.repository.partition("/")
        if not owner or not name or "/" in name:
            raise ChangeError(f"the GitHub repository must be given as OWNER/NAME, not {self.repository!r}.")
        return owner, name


def connect(cfg: GitHubConfig) -> Callable[[], Github]:
    """A factory of PyGithub clients for `cfg`: token, or GitHub App (app id + private key; the
    installation is looked up once when not given). PyGithub's own retries are off: `_call` decides
    what is safe to repeat. A factory, not a client: a PyGithub client must not be shared by threads
    (its connection object keeps the request being sent in attributes), so each thread gets its own."""
    common = dict(base_url=cfg.base_url.rstrip("/"), timeout=int(cfg.timeout), retry=None)
    if cfg.token:
        auth: Auth.Auth = Auth.Token(cfg.token)
    elif cfg.app_id and cfg.private_key:
        app = Auth.AppAuth(cfg.app_id, cfg.private_key)
        installation = cfg.installation_id
        if not installation:
            owner, name = cfg.owner_and_name
            try:
                installation = GithubIntegration(auth=app, **common).get_repo_installation(owner, name).id
            except GithubException as exc:
                raise ChangeError(f"the GitHub App {cfg.app_id} is not installed on {cfg.repository} "
                                  f"(GitHub said {exc.status}).") from None
            except requests.exceptions.RequestException:
                raise GitHubUnavailable(f"GitHub could not be reached at {cfg.base_url}.") from None
        auth = app.get_installation_auth(int(installation))  # its token is shared and renewed by PyGithub
    else:
        raise ChangeError("GitHub is configured without credentials: set a token, or a GitHub App id and private key.")

    def client() -> Github:
        return Github(auth=auth, lazy=True, per_page=100, seconds_between_requests=cfg.seconds_between_requests,
                      seconds_between_writes=cfg.seconds_between_writes, **common)

    def login() -> str:
        """The login GitHub shows for what these credentials write: the App's bot (`<slug>[bot]`, from
        GET /app with the App's own JWT), or a user token's user (GET /user). Integration tokens (an App
        installation token or a workflow's GITHUB_TOKEN, both `ghs_...`) cannot ask GET /user (GitHub
        answers 403 "Resource not accessible by integration",
        https://docs.github.com/en/rest/users/users#get-the-authenticated-user): their login must be
        set (settings github_portal_login). Raises ChangeError saying so."""
        if not cfg.token:
            return f"{GithubIntegration(auth=app, **common).get_app().slug}[bot]"
        # https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/
        if cfg.token.startswith("ghs_"):
            raise ChangeError(INTEGRATION_LOGIN)
        try:
            return client().get_user().login
        except GithubException as exc:
            if exc.status == 403 and "not accessible by integration" in _errors_text(exc):
                raise ChangeError(INTEGRATION_LOGIN) from None
            raise

    client.login = login  # type: ignore[attr-defined]
    return client


INTEGRATION_LOGIN = (
    "the GitHub token is a GitHub App installation token or a workflow's GITHUB_TOKEN, whose login GitHub does "
    "not tell (GET /user is refused to integrations): set github_portal_login to the login it writes as "
    "(\"<app-slug>[bot]\", or \"github-actions[bot]\" for GITHUB_TOKEN), or configure the GitHub App's id and "
    "private key instead of a token. Nothing was done.")


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


class _Fetched(NamedTuple):
    payload: object
    headers: dict
    answer: CachedAnswer | None  # the answer for the caller to remember (only when asked: keep=False)
    reused: bool  # a 304, or the remembered answer used without a call


def _shown(updated_at: str, head_sha: str | None) -> tuple:
    """The tag of answers shown for a pull request: it changes whenever the pull request does."""
    return ("shown", updated_at, head_sha)


def _next_link(headers: dict) -> str | None:
    """The `rel="next"` URL of a paginated answer's Link header, or None on the last page."""
    for part in (headers.get("link") or "").split(","):
        m = re.match(r'\s*<([^>]+)>\s*;\s*rel="next"', part)
        if m:
            return m.group(1)
    return None


def _errors_text(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    parts = [str(data.get("message") or exc.message or "")]
    for e in data.get("errors") or []:
        parts.append(e.get("message", "") if isinstance(e, dict) else str(e))
    return " ".join(p for p in parts if p)


WRITE_PERMISSIONS = ("admin", "maintain", "write")
PERMISSION_TTL = 300.0  # seconds a collaborator's permission is trusted before it is asked again
GITHUB_NAMESPACE = "github:"  # a GitHub login as a name (app.identity.github_name): never a portal login


def _login_of(name: str) -> str:
    """The GitHub login of `github:<login>`; any other name as it is (records made before the namespace)."""
    return name[len(GITHUB_NAMESPACE):] if name.lower().startswith(GITHUB_NAMESPACE) else name


class GitHubChanges(ChangeBackend):
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

    @property
    def gh(self) -> Github:
        """This thread's PyGithub client (Streamlit serves sessions from several threads)."""
        client = getattr(self._local, "gh", None)
        if client is None:
            client = self._local.gh = self._clients()
            self._local.repo = client.get_repo(self.cfg.repository)
        return client

    @property
    def gh_repo(self):
        self.gh  # noqa: B018 - makes this thread's client and repository
        return self._local.repo

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

    def requester_names(self, cr: ChangeRequest) -> set[str]:
        return self._requesters(cr.requester)

    def resumes(self, cr: ChangeRequest, recipe: str, requester: Actor, request: dict) -> bool:
        return meta.idempotency_key(recipe, requester.username, request) == meta.idempotency_key(cr.recipe, cr.requester, cr.request)

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

    # -- calling GitHub --------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T], *, retry: bool = True, done: Callable[[], T | None] | None = None) -> T:
        """Run one GitHub call. 5xx answers and time-outs are retried with back-off when `retry` (the call
        is harmless to repeat) or when `done` (checks whether the first attempt took effect) says it did
        not; a rate limit waits for its reset when that is soon. 4xx answers are raised as they are."""
        delay = self.cfg.backoff
        attempts = max(1, self.cfg.attempts)
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                return fn()
            except GithubException as exc:
                if self._rate_limited(exc):
                    wait = self._reset_in(exc)
                    if not last and wait <= self.cfg.max_rate_limit_wait:
                        self._sleep(max(wait, 0) + 0.1)
                        continue
                    at = datetime.fromtimestamp(time.time() + wait, timezone.utc).strftime("%H:%M:%S UTC")
                    raise GitHubUnavailable(f"GitHub's API rate limit is spent; {what} did not happen. "
                                            f"Try again after {at}.") from None
                if exc.status < 500 and exc.status != 0:
                    raise
                reason = f"GitHub answered {exc.status}"
            except requests.exceptions.RequestException as exc:
                reason = "GitHub did not answer in time" if isinstance(exc, requests.exceptions.Timeout) else "GitHub could not be reached"
            if not last and (retry or done is not None):
                if done is not None:
                    try:
                        result = done()
                    except (GithubException, requests.exceptions.RequestException):
                        result = None
                    if result is not None:
                        return result
                self._sleep(delay)
                delay *= 2
                continue
            raise GitHubUnavailable(f"{reason} while {what}; nothing was left half-done. Try again in a moment.")
        raise AssertionError("unreachable")

    @staticmethod
    def _rate_limited(exc: GithubException) -> bool:
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        if exc.status in (403, 429) and (headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers):
            return True
        return exc.status in (403, 429) and "rate limit" in _errors_text(exc).lower()

    @staticmethod
    def _reset_in(exc: GithubException) -> float:
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        if "retry-after" in headers:
            return float(headers["retry-after"])
        if "x-ratelimit-reset" in headers:
            return float(headers["x-ratelimit-reset"]) - time.time()
        return 60.0

    def _refused(self, what: str, exc: GithubException) -> ChangeError:
        return ChangeError(f"GitHub refused {what} ({exc.status}: {_errors_text(exc) or 'no detail'}).")

    # -- conditional reading -------------------------------------------------------------------------
    def _fetch(self, url: str, params: dict | None = None, accept: str | None = None, *, tag=None,
               keep: bool = True) -> "_Fetched":
        """GET `url` (absolute API URL) as a conditional request. Returns (payload, response headers,
        the answer to remember when `keep` is False, whether it was reused): payload is decoded JSON, or
        text when `accept` asks for another media type. `tag`: what the caller knows the answer depends
        on (a pull request's updated_at and head); when the last answer has the same tag and was checked
        less than `cfg.recheck_seconds` ago it is used without a call. Otherwise `If-None-Match` is
        sent and a 304 reuses the last answer (no rate limit spent). `keep=False`: the caller stores the
        answer itself (`self._answers.put`) once it has used it. Raises GithubException for 4xx/5xx
        answers (with their headers, for `_call`)."""
        key = (url, tuple(sorted((params or {}).items())), accept)
        known = self._answers.get(key)
        now = self._clock()
        if known is not None and tag is not None and known.tag == tag and now - known.checked_at < self.cfg.recheck_seconds:
            return _Fetched(known.payload, {"link": known.link}, None, True)
        headers = {"Accept": accept} if accept else {}
        if known is not None:
            headers["If-None-Match"] = known.etag
        status, answer_headers, text = self.gh_repo.requester.requestJson("GET", url, parameters=params, headers=headers)
        if status == 304 and known is not None:
            known.checked_at, known.tag = now, tag if tag is not None else known.tag
            return _Fetched(known.payload, {"link": known.link} | answer_headers, None, True)
        if status >= 300:
            try:
                data = json.loads(text) if text else {}
            except ValueError:
                data = {"message": text[:200]}
            raise GithubException(status, data, answer_headers)
        payload = text if accept and "json" not in accept else (json.loads(text) if text else None)
        entry = (CachedAnswer(answer_headers["etag"], payload, now, tag, answer_headers.get("link"))
                 if answer_headers.get("etag") else None)
        if entry is not None and keep:
            self._answers.put(key, entry)
            entry = None
        return _Fetched(payload, answer_headers, entry, False)

    def _fetch_all(self, url: str, *, tag=None) -> list:
        """Every item of a paginated list, each page a conditional request (`_fetch`)."""
        items: list = []
        params: dict | None = {"per_page": PER_PAGE}
        while url:
            page, headers, _, _ = self._fetch(url, params, tag=tag)
            items.extend(page or [])
            url, params = _next_link(headers), None
        return items

    def _object(self, klass, raw: dict):
        return self.gh.create_from_raw_data(klass, raw)

    def _sync_pulls(self) -> list[dict]:
        """Bring the index of pull requests up to date and return it, newest number first.

        Lists every pull request (all states, any base: a retargeted one must be seen leaving) by
        `updated_at`, newest first. The first page is a conditional request: 304 means nothing changed
        since the last sync (one call, no rate limit). Otherwise pages are read until one reaches pull
        requests older than the last sync. The first sync of a process reads the whole history once."""
        url = f"{self.gh_repo.url}/pulls"
        base = {"state": "all", "sort": "updated", "direction": "desc", "per_page": PER_PAGE}
        index = self._index
        with index.lock:
            def read():
                first, headers, answer, unchanged = self._fetch(url, base, keep=False)
                if unchanged and index.synced:
                    return  # 304: nothing changed since the last sync
                seen = list(first or [])
                reached_old = index.merge(seen)
                nxt = _next_link(headers)
                while nxt and not reached_old:
                    rows, headers, _, _ = self._fetch(nxt, keep=False)
                    reached_old = index.merge(rows or [])
                    seen.extend(rows or [])
                    nxt = _next_link(headers)
                index.newest(seen)  # only now: a sync that failed halfway is done again in full
                if answer is not None:  # only its ETag is needed again: a 304 means "the index is current"
                    answer.payload = None
                    self._answers.put((url, tuple(sorted(base.items())), None), answer)
            self._call("listing pull requests", read)
            return [index.pulls[n] for n in sorted(index.pulls, reverse=True)]

    def _is_portal_pull(self, raw: dict) -> bool:
        """Opened by the portal: from one of its own branches in this repository, into the base branch."""
        head, base = raw.get("head") or {}, raw.get("base") or {}
        return (base.get("ref") == self.base_branch and str(head.get("ref") or "").startswith(BRANCH_PREFIX)
                and str(head.get("label") or "").lower().startswith(f"{self.owner.lower()}:")
                and str((head.get("repo") or {}).get("full_name") or "").lower() == self.cfg.repository.lower())

    def _listed_pull(self, raw: dict):
        """A PyGithub PullRequest from a list item: the list has no `merged`, so it is derived from
        `merged_at` here (otherwise PyGithub would fetch every pull request again to complete it)."""
        from github.PullRequest import PullRequest
        return self._object(PullRequest, dict(raw, merged=raw.get("merged_at") is not None))

    # -- reading ---------------------------------------------------------------------------------
    def base_head(self) -> str:
        return self._branch_head(self.base_branch) or self._missing_base()

    def _missing_base(self):
        raise ChangeError(f"the repository {self.cfg.repository} has no branch {self.base_branch}")

    def _branch_head(self, branch: str) -> str | None:
        def read():
            try:
                return self._fetch(f"{self.gh_repo.url}/git/ref/heads/{urllib.parse.quote(branch)}").payload["object"]["sha"]
            except GithubException as exc:
                if exc.status == 404:
                    return None
                raise
        return self._call(f"reading branch {branch}", read)

    def config_at(self, sha: str) -> Path:
        """The config folder at `sha`, from one tarball download (cached by commit: commits never change)."""
        dest = self.cache_dir / "trees" / sha
        if dest.is_dir():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)

        def download() -> bytes:
            # The API answers with a short-lived download link (codeload, or the GHES host); the archive
            # itself comes from there without our credentials.
            link = self.gh_repo.get_archive_link("tarball", sha)
            response = requests.get(link, timeout=self.cfg.timeout)
            if response.status_code >= 400:
                raise GithubException(response.status_code, {"message": "archive download failed"}, {})
            return response.content

        data = self._call(f"downloading the configuration at {sha[:8]}", download)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=dest.parent))
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                members = []
                for m in tar.getmembers():
                    parts = m.name.split("/", 1)  # GitHub's tarballs have one top folder: OWNER-REPO-SHA/
                    rel = parts[1] if len(parts) == 2 else ""
                    prefix = f"{self.config_dir}/" if self.config_dir else ""
                    if rel.startswith(prefix) and rel != prefix:
                        m.name = rel[len(prefix):]
                        members.append(m)
                tar.extractall(tmp, members=members, filter="data")
            try:
                tmp.rename(dest)
            except OSError:  # another thread exported the same commit first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return dest

    def recent_commits(self, n: int = 5) -> list[dict]:
        def read():
            page = self._fetch(f"{self.gh_repo.url}/commits", {"sha": self.base_branch, "per_page": max(1, min(int(n), 100))}).payload
            return [{"sha": c["sha"], "author": (c["commit"].get("author") or {}).get("name", ""),
                     "at": _iso(datetime.fromisoformat((c["commit"].get("author") or {}).get("date") or "1970-01-01T00:00:00Z")),
                     "subject": (c["commit"].get("message") or "").split("\n", 1)[0]} for c in (page or [])[:n]]
        return self._call("reading recent commits", read)

    def _pull(self, number: int, *, tag=None):
        from github.PullRequest import PullRequest

        def read():
            try:
                raw = self._fetch(f"{self.gh_repo.url}/pulls/{int(number)}", tag=tag).payload
                return self._object(PullRequest, raw)
            except GithubException as exc:
                if exc.status == 404:
                    return None
                raise
        return self._call(f"reading pull request #{number}", read)

    def _raw_reviews(self, pr, *, tag=None) -> list:
        """The reviews of `pr` (PyGithub PullRequestReview objects): a conditional request, always
        current. For display only (listing, history), `tag=_shown(...)` reuses the answer last seen for
        the same updated_at and head for `cfg.recheck_seconds` without a call (GitHub moves a pull
        request's updated_at on every review, comment, label and push)."""
        from github.PullRequestReview import PullRequestReview
        raws = self._call(f"reading the reviews of #{pr.number}", lambda: self._fetch_all(f"{pr.url}/reviews", tag=tag))
        return [self._object(PullRequestReview, r) for r in raws]

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

    def list(self, requester: str | None = None, statuses: list[Status] | None = None) -> list[ChangeRequest]:
        """The portal's change requests, newest first. API calls: one conditional request when no pull
        request changed since the last call (no rate limit spent), plus one per open request whose
        reviews may have changed; never one per closed pull request (docs/github.md)."""
        # Only open pull requests when only unresolved statuses are asked for (the review queue).
        open_only = bool(statuses) and not any(s.resolved for s in statuses)
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
                        and not (data.get("nonce") in nonces or nonces.add(data.get("nonce")))):
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

    def reviews(self, cr: ChangeRequest) -> list[Review]:
        pr = self._pull(cr.id)
        return self._reviews_from(self._raw_reviews(pr), pr) if pr else []

    def events(self, cr: ChangeRequest) -> list[Event]:
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

    # -- writing ---------------------------------------------------------------------------------
    def _paths(self, files: dict[str, str | None]) -> dict[str, str | None]:
        return {f"{self.config_dir}/{rel}" if self.config_dir else rel: text for rel, text in files.items()}

    def _commit(self, base_sha: str, files: dict[str, str | None], message: str, who: Actor,
                author: tuple[str, str] | None = None) -> str:
        """One commit on `base_sha` with every file: base commit read, one tree, one commit (3 calls).
        `who` is its author, or its committer when `author` (name, email) is given."""
        base_commit = self._call("reading the base commit", lambda: self.gh_repo.get_git_commit(base_sha))
        elements = [InputGitTreeElement(path, "100644", "blob", content=text) if text is not None
                    else InputGitTreeElement(path, "100644", "blob", sha=None)
                    for path, text in sorted(self._paths(files).items())]
        tree = self._call("writing the files", lambda: self.gh_repo.create_git_tree(elements, base_commit.tree))
        from github.InputGitAuthor import InputGitAuthor
        person = InputGitAuthor(who.name or who.username, who.email or f"{who.username}@users.noreply.snowtower")
        extra = {"author": InputGitAuthor(*author), "committer": person} if author else {"author": person}
        commit = self._call("writing the commit", lambda: self.gh_repo.create_git_commit(message, tree, [base_commit], **extra))
        return commit.sha

    # PyGithub 2.10's lazy get_git_ref() object writes to /git/ref/... (singular), which GitHub only
    # serves for reading: refs are moved and deleted at /git/refs/... here.
    def _ref_url(self, branch: str) -> str:
        return f"{self.gh_repo.url}/git/refs/heads/{urllib.parse.quote(branch)}"

    def _move_ref(self, branch: str, sha: str) -> None:
        self.gh_repo.requester.requestJsonAndCheck("PATCH", self._ref_url(branch), input={"sha": sha, "force": True})

    def _delete_ref(self, branch: str) -> None:
        try:
            self.gh_repo.requester.requestJsonAndCheck("DELETE", self._ref_url(branch))
        except GithubException as exc:
            if exc.status != 422:  # 422: it does not exist (any more): the goal is reached
                raise

    def _find_open_pull(self, branch: str):
        pulls = self._call("looking for an open pull request",
                           lambda: list(self.gh_repo.get_pulls(state="open", head=f"{self.owner}:{branch}")))
        return pulls[0] if pulls else None

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
                if self._record(existing) is None:
                    raise ChangeError(f"pull request #{existing.number} holds this request's branch but was not made by "
                                      "SnowTower (or was changed outside it); nothing was submitted.")
                self._label(existing, recipe, tuple(str(x) for x in self._record(existing).get("labels") or ()))
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
                found = self._call(f"commenting on #{pr.number}", lambda: pr.create_issue_comment(comment), retry=False,
                                   done=lambda: next((c for c in pr.get_issue_comments() if mark in (c.body or "")), None))
            first_url = first_url or found.html_url
        link = f"[Read the full description]({first_url})."
        if first_url and link not in (pr.body or ""):
            visible = meta.visible(pr.body)
            new_body = visible + "\n\n" + link + "\n\n" + meta.embed("", meta.REQUEST, meta.extract(pr.body, meta.REQUEST)).strip() + "\n"
            self._call(f"updating #{pr.number}", lambda: pr.edit(body=new_body))

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

    # -- commit statuses: the audit log's anchors ---------------------------------------------------
    def create_status(self, sha: str, description: str, context: str = AUDIT_CONTEXT, state: str = "success") -> None:
        """Create a commit status on `sha` (POST /repos/{owner}/{repo}/statuses/{sha},
        https://docs.github.com/en/rest/commits/statuses#create-a-commit-status; needs the "Commit statuses"
        write permission). Repeating it is harmless (the same status twice), so it is retried like a read.
        Raises ValueError for a description over 140 characters (GitHub would answer 422), ChangeError when
        GitHub refuses (a commit it does not know, the 1000 statuses of a context used up) or cannot be
        reached (GitHubUnavailable)."""
        if len(description) > STATUS_DESCRIPTION_LIMIT:
            raise ValueError(f"a commit status description is at most {STATUS_DESCRIPTION_LIMIT} characters")
        url = f"{self.gh_repo.url}/statuses/{sha}"
        payload = {"state": state, "context": context, "description": description}
        try:
            self._call(f"writing the status {context} on {sha[:12]}",
                       lambda: self.gh_repo.requester.requestJsonAndCheck("POST", url, input=payload))
        except GithubException as exc:
            raise self._refused(f"the status {context} on {sha[:12]}", exc) from None

    def statuses(self, sha: str, context: str = AUDIT_CONTEXT) -> list[dict]:
        """Every status of `context` (case-insensitive, as GitHub compares it) on commit `sha` that the
        portal's own login created, newest first, as GitHub lists them (GET
        /repos/{owner}/{repo}/commits/{ref}/statuses, every page; superseded statuses stay in the list:
        https://docs.github.com/en/rest/commits/statuses#list-commit-statuses-for-a-reference). Statuses
        by any other login are never read as anchors. Raises ChangeError (GitHubUnavailable) when GitHub
        refuses or cannot be reached."""
        url = f"{self.gh_repo.url}/commits/{sha}/statuses"
        try:
            rows = self._call(f"reading the statuses of {sha[:12]}", lambda: self._fetch_all(url))
        except GithubException as exc:
            raise self._refused(f"reading the statuses of {sha[:12]}", exc) from None
        return [r for r in rows if isinstance(r, dict) and str(r.get("context") or "").lower() == context.lower()
                and self._is_me((r.get("creator") or {}).get("login"))]

    def merged_commits(self) -> list[tuple[int, str]]:
        """(pull request number, merge commit) of every pull request the portal opened and GitHub merged into
        the base branch, newest first: where the audit anchors are (the pull request index, `_sync_pulls`).
        Raises ChangeError (GitHubUnavailable) when GitHub cannot be reached."""
        return [(int(raw["number"]), str(raw["merge_commit_sha"])) for raw in self._sync_pulls()
                if raw.get("merged_at") and raw.get("merge_commit_sha") and self._is_portal_pull(raw)
                and self._is_me((raw.get("user") or {}).get("login"))]

    def reviewer_logins(self, requester: str) -> list[str]:
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

    def _create_branch(self, branch: str, commit: str) -> None:
        ref = f"refs/heads/{branch}"
        try:
            self._call(f"creating branch {branch}", lambda: self.gh_repo.create_git_ref(ref, commit))
        except GithubException as exc:
            if exc.status != 422:
                raise
            # The branch exists without an open PR (checked in step 1): an earlier attempt (or a retry of
            # this very call whose answer was lost) left it. Point it at this commit and go on.
            current = self._branch_head(branch)
            if current != commit:
                self._call(f"updating branch {branch}",
                           lambda: self._move_ref(branch, commit))

    def _create_pull(self, title: str, branch: str, body: str):
        try:
            return self.gh_repo.create_pull(base=self.base_branch, head=branch, title=title, body=body,
                                            maintainer_can_modify=False)
        except GithubException as exc:
            # GitHub opens one PR per head branch: "already exists" means an earlier try (whose answer
            # was lost) opened it. That one is ours.
            if exc.status == 422 and "already exists" in _errors_text(exc):
                found = self._find_open_pull(branch)
                if found is not None:
                    return found
            raise

    def _remove_orphan(self, branch: str) -> None:
        """Delete a branch that has no pull request. If GitHub fails here too, a retry of the same
        request finds the branch and reuses it (see _create_branch)."""
        try:
            if self._find_open_pull(branch) is None:
                self._call(f"removing branch {branch}", lambda: self._delete_ref(branch))
        except (ChangeError, GithubException):
            pass

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

    def _delete_branch(self, branch: str) -> None:
        try:
            self._call(f"removing branch {branch}", lambda: self._delete_ref(branch))
        except (ChangeError, GithubException):
            pass  # a leftover branch of a closed PR is harmless; GitHub can delete it on merge too

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
