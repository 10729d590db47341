"""Calling GitHub for the GitHub backend (core.changes.github.backend): the clients, rate limits,
retries, conditional reads and paging.

- `GitHubConfig` (where and how to reach GitHub) and `connect` (a factory of PyGithub clients, one per
  thread; token or GitHub App).
- `GitHubTransport`, the backend's base: its per-thread client (`gh`, `gh_repo`), `_call`, `_fetch`,
  `_fetch_all`, the pull request index (`_sync_pulls`) and the reads of one pull request and its reviews.

Faults: every call goes through `_call`, which retries with back-off only where repeating the call is
harmless (reads; content-addressed git objects; ref and label writes that converge; creating a PR,
which GitHub refuses to duplicate for one head branch; reviews and comments only after checking that the
first attempt left nothing). A failure that remains becomes a ChangeError written for the user
(`GitHubUnavailable` when GitHub did not answer, answered 5xx, or the rate limit is spent); a branch
left without its PR is deleted, and if even that fails a retry of the same request resumes it.

Reading is bounded whatever the history (docs/github.md, "Listing at scale"): every GET goes through
`_fetch`, which sends the last answer's ETag (a 304 costs no rate limit); listing keeps an index of
the repository's pull requests brought up to date from the most recently updated one down to the last
sync (`_sync_pulls`), and lists only pull requests from the portal's own branches (`BRANCH_PREFIX`).
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple, TypeVar

import requests
from github import Auth, Github, GithubException, GithubIntegration

from core.changes.base import ChangeError
from core.changes.github.cache import CachedAnswer, ConditionalCache, PullIndex

T = TypeVar("T")
PER_PAGE = 100  # GitHub's largest page


class GitHubUnavailable(ChangeError):
    """GitHub did not answer, answered 5xx, or the rate limit is spent: nothing half-done was left."""


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
    common: dict[str, Any] = dict(base_url=cfg.base_url.rstrip("/"), timeout=int(cfg.timeout), retry=None)
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


class _Fetched(NamedTuple):
    payload: Any  # decoded JSON, or text
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


class GitHubTransport:
    """The backend's way to GitHub (GitHubChanges builds it: the attributes below are set there)."""

    cfg: GitHubConfig
    owner: str
    base_branch: str
    _clients: Callable[[], Github]
    _local: threading.local
    _sleep: Callable[[float], None]
    _clock: Callable[[], float]
    _answers: ConditionalCache
    _index: PullIndex

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
        page_url: str | None = url
        while page_url:
            page, headers, _, _ = self._fetch(page_url, params, tag=tag)
            items.extend(page or [])
            page_url, params = _next_link(headers), None
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

    def _listed_pull(self, raw: dict):
        """A PyGithub PullRequest from a list item: the list has no `merged`, so it is derived from
        `merged_at` here (otherwise PyGithub would fetch every pull request again to complete it)."""
        from github.PullRequest import PullRequest
        return self._object(PullRequest, dict(raw, merged=raw.get("merged_at") is not None))

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
