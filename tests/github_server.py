"""A small, stateful GitHub REST server for tests, on 127.0.0.1 (a free port), backed by a real git
repository: blobs, trees and commits are real git objects, refs move with compare-and-swap, merges are
real three-way merges (`git merge-tree`), so mergeability and conflicts are computed, not scripted.

It speaks the part of the REST API that SnowTower uses, in the shapes PyGithub reads, under a
GitHub Enterprise style prefix (`/api/v3`): repository, git refs / trees / commits / blobs, commits
list, tarball, pulls (create, list, get, diff, edit, files, merge), reviews, issue labels and comments,
commit statuses (create, list newest first), and GitHub App installation tokens (JWTs checked against the app's public key).

As GitHub does: lists are paginated (`per_page` at most 100, `Link: <...>; rel="next"`); the pull
request list sorts by `created` or `updated` and leaves out the fields only a single pull request has
(`merged`, `mergeable`, `mergeable_state`); a pull request's `updated_at` moves on every review,
comment, label, edit, push to its branch, close and merge; every 200 answer to a GET carries an
`ETag`, and a GET whose `If-None-Match` matches it is answered `304 Not Modified` without a body,
which does not count against the rate limit (`rate_cost`).

The rules of the real API that SnowTower relies on are enforced, each next to the documentation page
it follows: a review's `commit_id` must be a commit of the pull request (422); merging answers 405 for
a conflict, a pending or failing required status check, missing required approving reviews, a merge
method the repository does not allow, a head behind its base under strict protection, and
(transiently, `fail(..., "405-base-modified")`) "Base branch was modified"; 409 for a stale `sha`;
`GET /user` is refused (403) to integration tokens (App installation tokens, `GITHUB_TOKEN`); bodies
of pull requests and comments are at most 65,536 characters (422); a force-push of an identical patch
re-points earlier reviews to the new head; `mergeable` is null while GitHub computes it
(`mergeable_unknown_reads`); a commit status is refused (422) for a commit GitHub does not know, a state
outside error/failure/pending/success, a description over 140 characters, or past 1000 statuses per
commit and context, and (403) to a login without push access. Branch protection (`protection`, a `Protection`) is a setting of the
server: off by default, on for the whole suite with `SNOWTOWER_TEST_GITHUB_PROTECTION=1`
(tests/github_support.py).

Every request is counted (`calls`; with its status in `answers`) and any of them can be made to fail
(`fail(...)`): a 5xx, a time-out, a 403 rate limit with its reset time, a 409 or a 422, before the
request takes effect or after it did (the response is lost), for a number of times.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
import threading
import time
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import jwt as pyjwt

from core.changes.git import GitError, GitRepo, RefMoved

PREFIX = "/api/v3"
# https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request and .../issues/comments: GitHub
# refuses bodies longer than this many characters (422 "body is too long (maximum is 65536 characters)").
BODY_LIMIT = 65536
# https://docs.github.com/en/rest/commits/statuses#create-a-commit-status: "a limit of 1000 statuses per sha
# and context"; a description longer than 140 characters is refused (422, GitHub's message, seen in use).
STATUSES_PER_CONTEXT = 1000
STATUS_DESCRIPTION_LIMIT = 140


@dataclass
class Protection:
    """Branch protection of the base branch, as GitHub applies it to merges through the API
    (https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches).
    `required_checks`: status check names that must have succeeded on the head commit;
    `required_approving_reviews`: approving reviews by people with write access (never the author);
    `dismiss_stale_reviews`: only approvals of the current head count; `strict`: the head must contain
    the base branch's head ("Require branches to be up to date before merging"); `bypass`: logins
    allowed to merge anyway (a ruleset's bypass list, e.g. the portal's app)."""

    required_checks: tuple[str, ...] = ()
    required_approving_reviews: int = 0
    dismiss_stale_reviews: bool = False
    strict: bool = False
    bypass: tuple[str, ...] = ()


def recommended_protection() -> Protection:
    """The protection docs/github.md recommends: the `pr-validation` check required, one approving
    review required, branches up to date, the portal's login allowed to bypass the review rule (its
    approvals are portal reviews, posted as comments)."""
    return Protection(required_checks=("pr-validation",), required_approving_reviews=1, strict=True,
                      bypass=("snowtower-bot", "snowtower[bot]"))


def _stamp(t: datetime | None = None) -> str:
    return (t or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None, errors: list | None = None):
        super().__init__(message)
        self.status, self.message, self.headers, self.errors = status, message, headers or {}, errors


@dataclass
class Fault:
    method: str
    path: str  # regex, searched in the path after /api/v3 (e.g. r"/pulls$")
    kind: str  # "500" | "502" | "timeout" | "ratelimit" | "409" | "422" | "405-base-modified"
    times: int = 1
    after: bool = False  # True: the request takes effect, then its response is lost
    hits: int = 0
    skip: int = 0  # let this many matching requests through first (e.g. fail only a list's second page)

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and method == self.method and re.search(self.path, path) is not None


@dataclass
class Pull:
    number: int
    title: str
    body: str
    head: str
    base: str
    author: str
    created_at: str
    state: str = "open"
    merged: bool = False
    merged_at: str | None = None
    closed_at: str | None = None
    merge_commit_sha: str | None = None
    head_sha_at_close: str | None = None
    merged_by: str | None = None
    head_owner: str = ""  # the head branch's repository owner when it is not this repository (a fork)
    labels: list[str] = field(default_factory=list)
    reviews: list[dict] = field(default_factory=list)
    comments: list[dict] = field(default_factory=list)
    updated_at: str = ""
    requested_reviewers: list[str] = field(default_factory=list)


class FakeGitHub:
    def __init__(self, root: Path, owner: str = "acme", name: str = "snowflake-infra", tokens: dict[str, str] | None = None,
                 timeout_sleep: float = 3.0, template: Path | None = None):
        self.root = Path(root)
        self.owner, self.name = owner, name
        path = self.root / "server.git"
        if template is not None:  # a seeded, packed repository made once per test session: fewer files
            shutil.copytree(template, path)
        else:
            path.mkdir(parents=True)
            subprocess.run(["git", "init", "--bare", "--quiet", "--template=", "--initial-branch=main", str(path)], check=True)
        self.git = GitRepo(path)
        self.tokens = dict(tokens or {"bot-token": "snowtower-bot"})
        self.apps: dict[int, dict] = {}  # app id -> {"public_key": pem, "installation": id}
        # login -> repository permission (admin | maintain | write | triage | read); others: none
        self.permissions: dict[str, str] = {}
        self.signing_key = b""  # the portal's key, for tests that seed pull requests as the portal made them
        self.logins: dict[str, str] = {}  # commit email -> the GitHub login it belongs to
        self.lock = threading.RLock()
        self.pulls: dict[int, Pull] = {}
        self.next_number = 1
        self.next_id = 1000
        self.calls: list[tuple[str, str]] = []
        self.answers: list[tuple[str, str, int]] = []  # (method, path, status) of every answer sent
        self.faults: list[Fault] = []
        self.timeout_sleep = timeout_sleep
        self._merges: dict[tuple[str, str], str | None] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._ref_cache: dict[str, str] | None = None
        self.protection: Protection | None = None  # branch protection of every base branch (None: off)
        # commit sha -> {check name: "pending" | "success" | "failure"}: the checks reported on each commit
        self.checks: dict[str, dict[str, str]] = {}
        # commit sha -> the commit statuses created on it, oldest first (POST /statuses/{sha})
        self.statuses: dict[str, list[dict]] = {}
        # the state a required check has on a commit nothing reported on (None: not reported yet,
        # "success": a CI that passes at once, for the suite run with protection on)
        self.default_check: str | None = None
        # https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/configuring-pull-request-merges/about-merge-methods-on-github
        self.merge_methods: set[str] = {"merge", "squash", "rebase"}
        # https://docs.github.com/en/rest/guides/using-the-rest-api-to-interact-with-your-git-database#checking-mergeability-of-pull-requests
        # GitHub computes mergeability in the background: after a push to either branch, the first
        # `mergeable_unknown_reads` reads of the pull request answer `mergeable: null`.
        self.mergeable_unknown_reads = 0
        self._unknown_left: dict[tuple[int, str | None, str | None], int] = {}
        # When a list: every answer is kept as {"method", "path", "status", "payload", "fault"}, for the
        # contract test against GitHub's OpenAPI description (tests/test_github_openapi.py).
        self.responses: list[dict] | None = None

    # -- life cycle and test helpers ---------------------------------------------------------------
    def start(self) -> "FakeGitHub":
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.host + PREFIX

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def seed(self, files: dict[str, str], branch: str = "main") -> str:
        sha = self.git.commit_files(None, files, "Initial configuration\n", ("Platform", "platform@example.com"))
        self.git.update_ref(f"refs/heads/{branch}", sha, None)
        return sha

    def pack(self) -> None:
        self.git.git("repack", "-a", "-d", "-q")
        self.git.git("prune-packed")

    def fail(self, method: str, path: str, kind: str, times: int = 1, after: bool = False, skip: int = 0) -> Fault:
        fault = Fault(method, path, kind, times, after, skip=skip)
        with self.lock:
            self.faults.append(fault)
        return fault

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()
            self.answers.clear()

    @property
    def rate_cost(self) -> int:
        """Answers that count against GitHub's primary rate limit: all but 304 Not Modified."""
        with self.lock:
            return sum(status != 304 for _, _, status in self.answers)

    def add_pull(self, title: str, body: str, head: str, *, head_sha: str, base: str = "main", state: str = "open",
                 author: str = "snowtower-bot", head_owner: str = "", at: datetime | None = None) -> Pull:
        """A pull request recorded directly (no HTTP, for seeding long histories quickly): `state` is
        "open" (its branch is created at `head_sha`), "closed" or "merged" (no branch left); `at`: when
        it was opened and last updated (default now)."""
        with self.lock:
            pr = Pull(self.next_number, title, body, head, base, author, _stamp(at), head_owner=head_owner)
            self.next_number += 1
            if state == "open":
                if not head_owner:
                    self.git.update_ref(f"refs/heads/{head}", head_sha, None)
                    self._ref_cache = None
                else:
                    pr.head_sha_at_close = head_sha
            else:
                pr.state, pr.closed_at, pr.head_sha_at_close = "closed", pr.created_at, head_sha
                if state == "merged":
                    pr.merged, pr.merged_at, pr.merge_commit_sha = True, pr.closed_at, head_sha
            pr.updated_at = pr.closed_at or pr.created_at
            self.pulls[pr.number] = pr
            return pr

    def touch(self, pr: Pull) -> None:
        """As GitHub: any activity on a pull request moves its updated_at."""
        pr.updated_at = _stamp()

    def branches(self) -> list[str]:
        out = self.git.git("for-each-ref", "--format=%(refname)", "refs/heads/")
        return sorted(r[len("refs/heads/"):] for r in out.split())

    def set_check(self, sha: str, name: str, state: str) -> None:
        """Report check `name` on commit `sha` as "pending", "success" or "failure" (as a workflow run does)."""
        with self.lock:
            self.checks.setdefault(sha, {})[name] = state

    def recompute(self, reads: int) -> None:
        """GitHub starts computing every open pull request's mergeability again (as after a push to the
        base branch): the next `reads` reads of each answer `mergeable: null`."""
        with self.lock:
            self.mergeable_unknown_reads = reads
            self._unknown_left.clear()

    def add_app(self, app_id: int, public_pem: str, installation_id: int) -> None:
        self.apps[app_id] = {"public_key": public_pem, "installation": installation_id}

    # -- JSON shapes -------------------------------------------------------------------------------
    @property
    def repo_url(self) -> str:
        return f"{self.base_url}/repos/{self.owner}/{self.name}"

    def _user(self, login: str) -> dict:
        return {"login": login, "id": abs(hash(login)) % 10**6, "type": "Bot" if login.endswith("[bot]") else "User",
                "url": f"{self.base_url}/users/{login}"}

    def _repo_json(self) -> dict:
        return {"id": 1, "name": self.name, "full_name": self.full_name, "owner": self._user(self.owner),
                "url": self.repo_url, "html_url": f"{self.host}/{self.full_name}", "default_branch": "main",
                "private": True}

    def _ref_json(self, ref: str, sha: str) -> dict:
        return {"ref": ref, "url": f"{self.repo_url}/git/{ref}", "object": {"sha": sha, "type": "commit",
                "url": f"{self.repo_url}/git/commits/{sha}"}}

    def _commit_json(self, sha: str) -> dict:
        raw = self.git.git("cat-file", "commit", sha)
        header, _, message = raw.partition("\n\n")
        tree, parents, author = None, [], {}
        for line in header.splitlines():
            key, _, value = line.partition(" ")
            if key == "tree":
                tree = value
            elif key == "parent":
                parents.append(value)
            elif key == "author":
                m = re.match(r"(.*) <(.*)> (\d+)", value)
                if m:
                    author = {"name": m.group(1), "email": m.group(2),
                              "date": _stamp(datetime.fromtimestamp(int(m.group(3)), timezone.utc))}
        return {"sha": sha, "url": f"{self.repo_url}/git/commits/{sha}", "message": message,
                "tree": {"sha": tree, "url": f"{self.repo_url}/git/trees/{tree}"}, "author": author, "committer": author,
                "parents": [{"sha": p, "url": f"{self.repo_url}/git/commits/{p}"} for p in parents]}

    def _commit_row(self, sha: str) -> dict:
        """A commit as the commits endpoints show it (https://docs.github.com/en/rest/commits/commits#get-a-commit):
        sha and parents at the top, the git commit (message, tree, author, committer) under `commit`."""
        data = self._commit_json(sha)
        inner = {k: data[k] for k in ("url", "message", "tree", "author", "committer")}
        return {"sha": sha, "url": f"{self.repo_url}/commits/{sha}", "html_url": f"{self.host}/{self.full_name}/commit/{sha}",
                "commit": inner, "parents": data["parents"]}

    def _head(self, branch: str) -> str | None:
        # All branch heads in one `git for-each-ref`, kept for the rest of this request (under the lock;
        # forgotten at the start of each request and after each ref write).
        if self._ref_cache is None:
            out = self.git.git("for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/")
            self._ref_cache = {name[len("refs/heads/"):]: sha for sha, name in (line.split(" ", 1) for line in out.splitlines())}
        return self._ref_cache.get(branch)

    def _merge_tree(self, base_branch_sha: str, head_sha: str) -> str | None:
        key = (base_branch_sha, head_sha)  # commits never change: so neither does their merge
        if key not in self._merges:
            self._merges[key] = self._merge_tree_uncached(base_branch_sha, head_sha)
        return self._merges[key]

    def _merge_tree_uncached(self, base_branch_sha: str, head_sha: str) -> str | None:
        proc = subprocess.run(["git", "merge-tree", "--write-tree", base_branch_sha, head_sha], capture_output=True,
                              env=self.git._env())
        return proc.stdout.decode().split("\n", 1)[0].strip() if proc.returncode == 0 else None

    def _pull_json(self, pr: Pull, full: bool = True) -> dict:
        """A pull request as GitHub shows it alone (`full`), or as an item of the pull request list,
        which has no `merged`, `mergeable` or `mergeable_state`."""
        head_sha = (self._head(pr.head) if not pr.head_owner else None) or pr.head_sha_at_close
        base_sha = self._head(pr.base)
        mergeable, mergeable_state = None, "unknown"
        if full and pr.state == "open" and head_sha and base_sha:
            key = (pr.number, base_sha, head_sha)
            left = self._unknown_left.setdefault(key, self.mergeable_unknown_reads)
            if left > 0:  # still computing: null, as GitHub answers until its background job finished
                self._unknown_left[key] = left - 1
            else:
                mergeable = self._merge_tree(base_sha, head_sha) is not None
                # https://docs.github.com/en/graphql/reference/enums#mergestatestatus (the REST field's values)
                if not mergeable:
                    mergeable_state = "dirty"
                elif self._protection_refusal(pr, head_sha, base_sha, who=None, kinds=("strict",)):
                    mergeable_state = "behind"
                elif self._protection_refusal(pr, head_sha, base_sha, who=None):
                    mergeable_state = "blocked"
                else:
                    mergeable_state = "clean"
        url = f"{self.repo_url}/pulls/{pr.number}"
        head_owner = pr.head_owner or self.owner
        data = {
            "number": pr.number, "id": pr.number, "url": url, "issue_url": f"{self.repo_url}/issues/{pr.number}",
            "html_url": f"{self.host}/{self.full_name}/pull/{pr.number}", "state": pr.state, "title": pr.title,
            "body": pr.body, "user": self._user(pr.author), "created_at": pr.created_at,
            "updated_at": pr.updated_at or pr.created_at, "closed_at": pr.closed_at, "merged_at": pr.merged_at,
            "merged": pr.merged, "merge_commit_sha": pr.merge_commit_sha, "mergeable": mergeable,
            "merged_by": self._user(pr.merged_by) if pr.merged_by else None,
            "mergeable_state": mergeable_state,
            "labels": [{"name": n, "url": f"{self.repo_url}/labels/{n}"} for n in pr.labels],
            "requested_reviewers": [self._user(login) for login in pr.requested_reviewers],
            "head": {"ref": pr.head, "sha": head_sha, "label": f"{head_owner}:{pr.head}",
                     "repo": {"full_name": f"{head_owner}/{self.name}", "name": self.name}},
            "base": {"ref": pr.base, "sha": base_sha, "label": f"{self.owner}:{pr.base}",
                     "repo": {"full_name": self.full_name, "name": self.name}},
        }
        if not full:  # https://docs.github.com/en/rest/pulls/pulls#list-pull-requests (pull-request-simple)
            for key in ("merged", "mergeable", "mergeable_state", "merged_by"):
                del data[key]
        return data

    def _page(self, rows: list, query: dict, path: str) -> tuple[int, list, dict]:
        """One page of `rows` as GitHub pages lists: `per_page` (default 30, at most 100) and `page`,
        with a `Link` header to the next page."""
        per_page = max(1, min(int(query.get("per_page") or 30), 100))
        page = max(1, int(query.get("page") or 1))
        headers = {}
        if page * per_page < len(rows):
            nxt = urlencode(dict(query, per_page=str(per_page), page=str(page + 1)))
            headers["Link"] = f'<{self.host}{PREFIX}{path}?{nxt}>; rel="next"'
        return 200, rows[(page - 1) * per_page:page * per_page], headers

    # -- dispatch ----------------------------------------------------------------------------------
    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _do(self):
                server._handle(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _do

        return Handler

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(h.path)
        path, query = parsed.path, {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        method = h.command
        with self.lock:
            self.calls.append((method, path))
            fault = next((f for f in self.faults if f.matches(method, path.removeprefix(PREFIX))), None)
            if fault and fault.skip > 0:
                fault.skip -= 1
                fault = None
            if fault:
                fault.times -= 1
                fault.hits += 1
        if fault and not fault.after:
            return self._fault(h, fault)
        try:
            body = json.loads(raw) if raw else {}
            status, payload, headers = self._route(method, path, query, body, h.headers)
        except HTTPError as exc:
            status, headers = exc.status, exc.headers
            payload = {"message": exc.message, "documentation_url": "https://docs.github.com/rest"}
            if exc.errors:
                payload["errors"] = exc.errors
        except Exception as exc:  # a bug in this server: answer 500 loudly rather than hang the client
            status, headers, payload = 500, {}, {"message": f"test server error: {exc!r}"}
        if fault:
            return self._fault(h, fault)
        self._send(h, status, payload, headers)

    def _record(self, h, status: int) -> None:
        with self.lock:
            self.answers.append((h.command, urlparse(h.path).path, status))

    def _fault(self, h, fault: Fault) -> None:
        kind = fault.kind
        if kind == "timeout":
            time.sleep(self.timeout_sleep)
            return self._send(h, 504, {"message": "gateway timeout"}, {}, fault=True)
        if kind == "ratelimit":
            reset = int(time.time()) + 1
            return self._send(h, 403, {"message": "API rate limit exceeded for installation."},
                              {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}, fault=True)
        if kind == "ratelimit-long":
            reset = int(time.time()) + 3600
            return self._send(h, 403, {"message": "API rate limit exceeded for installation."},
                              {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}, fault=True)
        if kind == "405-base-modified":
            # https://docs.github.com/en/rest/pulls/pulls#merge-a-pull-request: GitHub answers this 405 while
            # it recomputes the merge after the base branch moved; the same merge succeeds a moment later.
            return self._send(h, 405, {"message": "Base branch was modified. Review and try the merge again.",
                                       "documentation_url": "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}, {}, fault=True)
        status = int(kind)
        message = {500: "Server Error", 502: "Bad Gateway", 409: "Conflict", 422: "Validation Failed"}.get(status, "error")
        self._send(h, status, {"message": message}, {}, fault=True)

    def _send(self, h, status: int, payload, headers: dict, fault: bool = False) -> None:
        if self.responses is not None:
            with self.lock:
                self.responses.append({"method": h.command, "path": urlparse(h.path).path, "status": status,
                                       "payload": payload, "fault": fault})
        if isinstance(payload, bytes):
            data, ctype = payload, headers.pop("Content-Type", "application/octet-stream")
        elif isinstance(payload, str):
            data, ctype = payload.encode(), headers.pop("Content-Type", "text/plain; charset=utf-8")
        elif payload is None:
            data, ctype = b"", "application/json"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json; charset=utf-8"
        if h.command == "GET" and status == 200:
            # As GitHub: a validator for the representation; a matching If-None-Match gets 304 and no body.
            etag = '"' + hashlib.sha1(ctype.encode() + b"\0" + data).hexdigest() + '"'
            headers = dict(headers, ETag=etag)
            if h.headers.get("If-None-Match") == etag:
                status, data = 304, b""
        self._record(h, status)
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (time-out): as on the real network

    def _auth(self, headers) -> str:
        value = headers.get("Authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer" and token.count(".") == 2:
            return self._app_from_jwt(token)
        login = self.tokens.get(token)
        if not login:
            raise HTTPError(401, "Bad credentials")
        return login

    def _app_from_jwt(self, token: str) -> str:
        try:
            iss = int(pyjwt.decode(token, options={"verify_signature": False})["iss"])
            app = self.apps[iss]
            pyjwt.decode(token, app["public_key"], algorithms=["RS256"])
        except Exception:
            raise HTTPError(401, "A JSON web token could not be decoded") from None
        return f"app:{iss}"

    def _route(self, method: str, path: str, query: dict, body: dict, headers):
        m = re.match(r"^/_codeload/([0-9a-f]{40})\.tar\.gz$", path)
        if m and method == "GET":
            return 200, self._tarball(m.group(1)), {"Content-Type": "application/x-gzip"}
        if not path.startswith(PREFIX):
            raise HTTPError(404, "Not Found")
        path = path[len(PREFIX):]
        who = self._auth(headers)
        if who.startswith("app:"):
            return self._route_app(int(who[4:]), method, path)
        with self.lock:
            self._ref_cache = None  # tests may move refs directly between requests
            try:
                return self._route_repo(who, method, path, query, body, headers)
            finally:
                self._ref_cache = None

    def _route_app(self, app_id: int, method: str, path: str):
        installation = self.apps[app_id]["installation"]
        if method == "GET" and path == "/app":
            return 200, {"id": app_id, "slug": "snowtower", "name": "SnowTower", "owner": self._user(self.owner)}, {}
        if method == "GET" and path == f"/repos/{self.owner}/{self.name}/installation":
            return 200, {"id": installation, "app_id": app_id, "account": self._user(self.owner)}, {}
        if method == "POST" and path == f"/app/installations/{installation}/access_tokens":
            token = f"ghs_test_{self.next_id}"
            self.next_id += 1
            self.tokens[token] = "snowtower[bot]"
            expires = datetime.now(timezone.utc) + timedelta(hours=1)
            return 201, {"token": token, "expires_at": _stamp(expires), "permissions": {}}, {}
        raise HTTPError(404, "Not Found")

    def _route_repo(self, who: str, method: str, path: str, query: dict, body: dict, headers):
        base = f"/repos/{self.owner}/{self.name}"
        if path == "/user" and method == "GET":
            # https://docs.github.com/en/rest/users/users#get-the-authenticated-user: for users only. An App
            # installation token or a workflow's GITHUB_TOKEN is refused (both act as "<name>[bot]").
            if who.endswith("[bot]"):
                raise HTTPError(403, "Resource not accessible by integration")
            return 200, self._user(who), {}
        if not path.startswith(base):
            raise HTTPError(404, "Not Found")
        rest = path[len(base):]
        if rest == "" and method == "GET":  # as GitHub answers a token: what its user may do here
            level = ("none", "read", "triage", "write", "maintain", "admin")
            have = level.index(self.permissions.get(who, "none")) if self.permissions.get(who) in level else 0
            flags = {"pull": have >= 1, "triage": have >= 2, "push": have >= 3, "maintain": have >= 4, "admin": have >= 5}
            return 200, {**self._repo_json(), "permissions": flags}, {}

        m = re.match(r"^/collaborators/([^/]+)/permission$", rest)
        if m and method == "GET":
            login = m.group(1)
            permission = self.permissions.get(login, "none")
            return 200, {"permission": "write" if permission == "maintain" else ("read" if permission == "triage" else permission),
                         "role_name": permission, "user": self._user(login)}, {}

        # git refs
        m = re.match(r"^/git/(refs?)/(heads/.+)$", rest)
        if m:
            ref = "refs/" + m.group(2)
            current = self._head(m.group(2)[len("heads/"):])
            if m.group(1) == "ref" and method != "GET":  # as GitHub: /git/ref/ is for reading only
                raise HTTPError(404, "Not Found")
            if method == "GET":
                if not current:
                    raise HTTPError(404, "Not Found")
                return 200, self._ref_json(ref, current), {}
            if method == "PATCH":
                if not current:
                    raise HTTPError(422, "Reference does not exist")
                new = body["sha"]
                if not body.get("force") and not self._is_ancestor(current, new):
                    raise HTTPError(422, "Update is not a fast forward")
                self.git.update_ref(ref, new, current)
                self._ref_cache = None
                self._repoint_reviews(m.group(2)[len("heads/"):], current, new)
                self._touch_heads(m.group(2)[len("heads/"):])
                return 200, self._ref_json(ref, new), {}
            if method == "DELETE":
                if not current:
                    raise HTTPError(422, "Reference does not exist")
                self.git.delete_ref(ref, current)
                self._ref_cache = None
                return 204, None, {}
        if rest == "/git/refs" and method == "POST":
            ref, sha = body["ref"], body["sha"]
            if not self._exists(sha, "commit"):
                raise HTTPError(422, "Object does not exist")
            try:
                self.git.update_ref(ref, sha, None)
                self._ref_cache = None
            except RefMoved:
                raise HTTPError(422, "Reference already exists") from None
            return 201, self._ref_json(ref, sha), {}

        # git objects
        m = re.match(r"^/git/commits/([0-9a-f]{40})$", rest)
        if m and method == "GET":
            if not self._exists(m.group(1), "commit"):
                raise HTTPError(404, "Not Found")
            return 200, self._commit_json(m.group(1)), {}
        if rest == "/git/commits" and method == "POST":
            return 201, self._create_commit(body), {}
        if rest == "/git/trees" and method == "POST":
            return 201, self._create_tree(body), {}
        if rest == "/git/blobs" and method == "POST":
            sha = self.git.git("hash-object", "-w", "--stdin", input=body["content"].encode()).strip()
            return 201, {"sha": sha, "url": f"{self.repo_url}/git/blobs/{sha}"}, {}
        if rest == "/commits" and method == "GET":
            sha = self.git.rev(query.get("sha") or "refs/heads/main")
            if not sha:
                raise HTTPError(404, "Not Found")
            # https://docs.github.com/en/rest/commits/commits#list-commits: paginated like every list
            per_page = max(1, min(int(query.get("per_page") or 30), 100))
            page = max(1, int(query.get("page") or 1))
            shas = self.git.git("rev-list", f"--max-count={per_page * page + 1}", sha).split()
            status, shas, link = self._page(shas, query, path)
            return status, [self._commit_row(s) for s in shas], link
        m = re.match(r"^/commits/([0-9a-f]{40})$", rest)
        if m and method == "GET":
            if not self._exists(m.group(1), "commit"):
                raise HTTPError(404, "Not Found")
            return 200, self._commit_row(m.group(1)), {}
        m = re.match(r"^/commits/([0-9a-f]{40})/pulls$", rest)
        if m and method == "GET":  # pull requests associated with a commit: merged by it, or headed at it
            sha = m.group(1)
            rows = [p for p in sorted(self.pulls.values(), key=lambda p: -p.number)
                    if p.merge_commit_sha == sha or (self._head(p.head) or p.head_sha_at_close) == sha]
            status, rows, link = self._page(rows, query, path)
            return status, [self._pull_json(p, full=False) for p in rows], link
        m = re.match(r"^/tarball/(.+)$", rest)
        if m and method == "GET":
            sha = self.git.rev(m.group(1)) or self.git.rev(f"refs/heads/{m.group(1)}")
            if not sha:
                raise HTTPError(404, "Not Found")
            return 302, None, {"Location": f"{self.host}/_codeload/{sha}.tar.gz"}

        # pulls
        if rest == "/pulls" and method == "POST":
            return 201, self._create_pull(who, body), {}
        if rest == "/pulls" and method == "GET":
            state = query.get("state", "open")
            sort = query.get("sort", "created")
            descending = query.get("direction", "desc" if sort == "created" else "asc") == "desc"
            key = (lambda p: (p.updated_at or p.created_at, p.number)) if sort == "updated" else (lambda p: p.number)
            rows = [p for p in sorted(self.pulls.values(), key=key, reverse=descending)
                    if (state == "all" or p.state == state)
                    and (not query.get("head") or query["head"] == f"{p.head_owner or self.owner}:{p.head}")
                    and (not query.get("base") or query["base"] == p.base)]
            status, rows, link = self._page(rows, query, path)
            return status, [self._pull_json(p, full=False) for p in rows], link
        m = re.match(r"^/pulls/(\d+)(/.*)?$", rest)
        if m:
            pr = self.pulls.get(int(m.group(1)))
            if pr is None:
                raise HTTPError(404, "Not Found")
            return self._pull_route(who, pr, method, m.group(2) or "", body, headers, query, path)
        m = re.match(r"^/issues/(\d+)$", rest)
        if m and method == "GET":
            pr = self.pulls.get(int(m.group(1)))
            if pr is None:
                raise HTTPError(404, "Not Found")
            data = self._pull_json(pr)
            return 200, {k: data[k] for k in ("number", "id", "title", "body", "state", "user", "labels", "created_at",
                                              "html_url", "closed_at")} | {
                "url": data["issue_url"], "pull_request": {"url": data["url"], "merged_at": data["merged_at"]}}, {}
        m = re.match(r"^/issues/(\d+)/(labels|comments)$", rest)
        if m:
            pr = self.pulls.get(int(m.group(1)))
            if pr is None:
                raise HTTPError(404, "Not Found")
            if m.group(2) == "labels" and method == "POST":
                for name in (body if isinstance(body, list) else body.get("labels", [])):
                    if name not in pr.labels:
                        pr.labels.append(name)
                self.touch(pr)
                return 200, [{"name": n} for n in pr.labels], {}
            if m.group(2) == "comments" and method == "POST":
                self._check_body(body.get("body"), "IssueComment")
                comment = {"id": self._new_id(), "body": body["body"], "user": self._user(who), "created_at": _stamp(),
                           "updated_at": _stamp()}
                comment["url"] = f"{self.repo_url}/issues/comments/{comment['id']}"
                comment["html_url"] = f"{self.host}/{self.full_name}/pull/{pr.number}#issuecomment-{comment['id']}"
                pr.comments.append(comment)
                self.touch(pr)
                return 201, comment, {}
            if m.group(2) == "comments" and method == "GET":
                return self._page(pr.comments, query, path)
        found = self._route_statuses(who, method, rest, body, query, path)
        if found is not None:
            return found
        return self._route_deploy(method, rest, body)

    # -- commit statuses (https://docs.github.com/en/rest/commits/statuses) ---------------------------
    def _route_statuses(self, who: str, method: str, rest: str, body: dict, query: dict, path: str):
        m = re.match(r"^/statuses/([^/]+)$", rest)
        if m and method == "POST":
            return 201, self._create_status(who, m.group(1), body), {}
        # "List commit statuses for a reference" (GET /commits/{ref}/statuses, and its legacy route GET
        # /statuses/{ref}): "Statuses are returned in reverse chronological order. The first status in the
        # list will be the latest one." The ref can be a SHA, a branch name or a tag name; paginated like
        # every list. GitHub's description documents 200 (and 301) only: a commit nobody reported on, or
        # one it does not know, lists nothing.
        m = re.match(r"^/commits/([^/]+)/statuses$", rest) or (re.match(r"^/statuses/([^/]+)$", rest) if method == "GET" else None)
        if m and method == "GET":
            ref = m.group(1)
            sha = ref if re.fullmatch(r"[0-9a-f]{40}", ref) else (self._head(ref) or self.git.rev(f"refs/tags/{ref}"))
            rows = list(reversed(self.statuses.get(sha or "", [])))
            return self._page(rows, query, path)
        return None

    def _create_status(self, who: str, sha: str, body: dict) -> dict:
        """POST /repos/{owner}/{repo}/statuses/{sha}, "Create a commit status"
        (https://docs.github.com/en/rest/commits/statuses#create-a-commit-status), with GitHub's refusals."""
        # "Users with push access in a repository can create commit statuses for a given SHA." (The 403
        # wording is GitHub's for a token without the permission; not confirmed for a read-only user.)
        if self.permissions.get(who, "none") not in ("admin", "maintain", "write"):
            raise HTTPError(403, "Resource not accessible by integration")
        # Seen from GitHub (422, e.g. rust-lang/homu#141): a SHA that is no commit of the repository.
        if not re.fullmatch(r"[0-9a-f]{40}", sha) or not self._exists(sha, "commit"):
            raise HTTPError(422, f"No commit found for SHA: {sha}")
        state = body.get("state")
        # The request body's `state` is one of error, failure, pending, success (the operation's schema).
        if state not in ("error", "failure", "pending", "success"):
            raise HTTPError(422, "Validation Failed", errors=[{"resource": "Status", "code": "custom", "field": "state",
                                                              "message": "state is not included in the list"}])
        description = body.get("description")
        # Seen from GitHub (422, e.g. zalando/zappr#378): a description is at most 140 characters.
        if description is not None and len(description) > STATUS_DESCRIPTION_LIMIT:
            raise HTTPError(422, "Validation Failed", errors=[{
                "resource": "Status", "code": "custom", "field": "description",
                "message": f"description is too long (maximum is {STATUS_DESCRIPTION_LIMIT} characters)"}])
        # "context ... This field is case-insensitive", default "default".
        context = body.get("context") or "default"
        same = [s for s in self.statuses.get(sha, []) if s["context"].lower() == context.lower()]
        # "there is a limit of 1000 statuses per sha and context within a repository. Attempts to create more
        # than 1000 statuses will result in a validation error." (the message's wording is not confirmed)
        if len(same) >= STATUSES_PER_CONTEXT:
            raise HTTPError(422, "Validation Failed", errors=[{
                "resource": "Status", "code": "custom",
                "message": "This SHA and context has reached the maximum number of statuses."}])
        now = _stamp()
        status = {"url": f"{self.repo_url}/statuses/{sha}", "avatar_url": None, "id": self._new_id(),
                  "node_id": f"SC_{self.next_id}", "state": state, "description": description,
                  "target_url": body.get("target_url"), "context": context, "created_at": now, "updated_at": now,
                  "creator": self._user(who)}
        self.statuses.setdefault(sha, []).append(status)
        # A status is what branch protection's required status checks read: the latest one of a context counts.
        self.checks.setdefault(sha, {})[context] = state
        return status

    # -- what the merge-deploy job (app/jobs/deploy.py) uses -----------------------------------------
    def _route_deploy(self, method: str, rest: str, body: dict):
        # Tags as refs: "Get a reference" (GET /git/ref/tags/{tag}, 404 when missing), "Update a reference"
        # (PATCH /git/refs/tags/{tag}; 422 "Update is not a fast forward" unless force) and "Create a
        # reference" (POST /git/refs, above) - docs.github.com/en/rest/git/refs
        m = re.match(r"^/git/(refs?)/(tags/.+)$", rest)
        if m:
            ref = "refs/" + m.group(2)
            current = self.git.rev(ref)
            if m.group(1) == "ref" and method != "GET":
                raise HTTPError(404, "Not Found")
            if method == "GET":
                if not current:
                    raise HTTPError(404, "Not Found")
                return 200, self._ref_json(ref, current), {}
            if method == "PATCH":
                if not current:
                    raise HTTPError(422, "Reference does not exist")
                new = body["sha"]
                if not self._exists(new, "commit"):
                    raise HTTPError(422, "Object does not exist")
                if not body.get("force") and not self._is_ancestor(current, new):
                    raise HTTPError(422, "Update is not a fast forward")
                self.git.update_ref(ref, new, current)
                return 200, self._ref_json(ref, new), {}
        # "Get a tree" (GET /git/trees/{tree_sha}, a commit's sha names its tree; 404 when missing), not
        # recursive - docs.github.com/en/rest/git/trees
        m = re.match(r"^/git/trees/([0-9a-f]{40})$", rest)
        if m and method == "GET":
            sha = m.group(1)
            if not (self._exists(sha, "tree") or self._exists(sha, "commit")):
                raise HTTPError(404, "Not Found")
            entries = []
            for line in self.git.git("ls-tree", sha).splitlines():
                info, _, name = line.partition("\t")
                mode, kind, obj = info.split()
                entries.append({"path": name, "mode": mode, "type": kind, "sha": obj,
                                "url": f"{self.repo_url}/git/{kind}s/{obj}"})
            tree = self.git.git("rev-parse", f"{sha}^{{tree}}").strip()
            return 200, {"sha": tree, "url": f"{self.repo_url}/git/trees/{tree}", "tree": entries, "truncated": False}, {}
        # "Get a blob" (GET /git/blobs/{file_sha}: content base64-encoded, 404 when missing) -
        # docs.github.com/en/rest/git/blobs
        m = re.match(r"^/git/blobs/([0-9a-f]{40})$", rest)
        if m and method == "GET":
            import base64

            if not self._exists(m.group(1), "blob"):
                raise HTTPError(404, "Not Found")
            data = subprocess.run(["git", "cat-file", "blob", m.group(1)], capture_output=True, env=self.git._env(),
                                  check=True).stdout
            return 200, {"sha": m.group(1), "size": len(data), "encoding": "base64", "url": f"{self.repo_url}/git/blobs/{m.group(1)}",
                         "content": base64.encodebytes(data).decode()}, {}
        # "Remove a label from an issue" (DELETE /issues/{n}/labels/{name}: 200 with the labels left, 404
        # "Label does not exist" when the issue does not carry it) - docs.github.com/en/rest/issues/labels
        m = re.match(r"^/issues/(\d+)/labels/(.+)$", rest)
        if m and method == "DELETE":
            from urllib.parse import unquote

            pr = self.pulls.get(int(m.group(1)))
            name = unquote(m.group(2))
            if pr is None or name not in pr.labels:
                raise HTTPError(404, "Label does not exist")
            pr.labels.remove(name)
            self.touch(pr)
            return 200, [{"name": n, "url": f"{self.repo_url}/labels/{n}"} for n in pr.labels], {}
        raise HTTPError(404, "Not Found")

    def _pull_route(self, who: str, pr: Pull, method: str, sub: str, body: dict, headers, query: dict, path: str):
        if sub == "" and method == "GET":
            if "diff" in (headers.get("Accept") or ""):
                head = self._head(pr.head) or pr.head_sha_at_close
                base = self.git.git("merge-base", self._head(pr.base), head).strip() if pr.state == "open" else f"{head}~1"
                return 200, self.git.diff(base, head), {"Content-Type": "text/plain; charset=utf-8"}
            return 200, self._pull_json(pr), {}
        if sub == "" and method == "PATCH":
            self._check_body(body.get("body"), "PullRequest")
            if "body" in body:
                pr.body = body["body"]
            if "title" in body:
                pr.title = body["title"]
            if body.get("state") == "closed" and pr.state == "open":
                pr.state, pr.closed_at, pr.head_sha_at_close = "closed", _stamp(), self._head(pr.head)
            if body.get("state") == "open" and pr.state == "closed" and not pr.merged:
                if not self._head(pr.head):  # GitHub reopens a pull request only while its head branch exists
                    raise HTTPError(422, "Validation Failed", errors=[{"field": "state", "code": "invalid"}])
                pr.state, pr.closed_at = "open", None
            if "base" in body:  # retargeting: anyone with write access may change the base branch
                if not self._head(body["base"]):
                    raise HTTPError(422, "Validation Failed", errors=[{"field": "base", "code": "invalid"}])
                pr.base = body["base"]
            pr.updated_at = _stamp()
            return 200, self._pull_json(pr), {}
        if sub == "/reviews" and method == "GET":
            return self._page(pr.reviews, query, path)
        m = re.match(r"^/reviews/(\d+)$", sub)
        if m and method == "PUT":  # editing a review's body: its author, or anyone with write access (as GitHub)
            review = next((r for r in pr.reviews if r["id"] == int(m.group(1))), None)
            if review is None:
                raise HTTPError(404, "Not Found")
            if review["user"]["login"] != who and self.permissions.get(who, "none") not in ("admin", "maintain", "write"):
                raise HTTPError(403, "Must have write access to edit this review")
            review["body"] = body.get("body", "")
            self.touch(pr)
            return 200, review, {}
        if sub == "/reviews" and method == "POST":
            event = body.get("event", "COMMENT")
            if pr.state != "open":
                raise HTTPError(422, "Unprocessable Entity", errors=["Can not review a closed pull request"])
            if event in ("APPROVE", "REQUEST_CHANGES") and who == pr.author:
                verb = "approve" if event == "APPROVE" else "request changes on"
                raise HTTPError(422, "Unprocessable Entity", errors=[f"Can not {verb} your own pull request"])
            if event in ("COMMENT", "REQUEST_CHANGES") and not body.get("body"):
                raise HTTPError(422, "Unprocessable Entity", errors=["Body is required"])
            commit_id = body.get("commit_id") or self._head(pr.head)
            # https://docs.github.com/en/rest/pulls/reviews#create-a-review-for-a-pull-request: `commit_id` is
            # "the SHA of the commit that needs a review"; a commit that is not one of the pull request's is
            # refused with GitHub's GraphQL wording (422 "The commitOID is not part of the pull request").
            if commit_id not in self._pull_commits(pr):
                raise HTTPError(422, "Unprocessable Entity", errors=["The commitOID is not part of the pull request"])
            state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}[event]
            review = {"id": self._new_id(), "user": self._user(who), "body": body.get("body", ""), "state": state,
                      "submitted_at": _stamp(), "commit_id": commit_id}
            pr.reviews.append(review)
            self.touch(pr)
            return 200, review, {}
        if sub == "/requested_reviewers" and method == "POST":  # as GitHub: never the author, only collaborators
            logins = list(body.get("reviewers") or [])
            if pr.author in logins:
                raise HTTPError(422, "Unprocessable Entity", errors=["Review cannot be requested from pull request author."])
            if any(self.permissions.get(login, "none") == "none" for login in logins):
                raise HTTPError(422, "Unprocessable Entity", errors=["Reviews may only be requested from collaborators."])
            pr.requested_reviewers += [login for login in logins if login not in pr.requested_reviewers]
            self.touch(pr)
            return 201, self._pull_json(pr, full=False), {}
        if sub == "/commits" and method == "GET":
            shas = self._pull_commits(pr)
            rows = []
            for sha in shas:
                row = self._commit_row(sha)
                login = self.logins.get(row["commit"]["author"].get("email", ""))
                rows.append(row | {"author": self._user(login) if login else None, "committer": None})
            return self._page(rows, query, path)
        if sub == "/files" and method == "GET":
            head = self._head(pr.head) or pr.head_sha_at_close  # a closed one's files stay listed
            stop = f"{pr.merge_commit_sha}^1" if pr.merged else self._head(pr.base)
            base = self.git.git("merge-base", stop, head).strip()
            out = self.git.git("diff", "--name-status", base, head)
            status = {"A": "added", "M": "modified", "D": "removed"}
            # https://docs.github.com/en/rest/pulls/pulls#list-pull-requests-files: paginated (30 by default, 100 at most)
            return self._page([{"filename": line.split("\t")[1], "status": status.get(line[0], "modified")}
                               for line in out.splitlines()], query, path)
        if sub == "/merge" and method == "PUT":
            return 200, self._merge(pr, body, who), {}
        raise HTTPError(404, "Not Found")

    # -- operations --------------------------------------------------------------------------------
    def _touch_heads(self, branch: str) -> None:
        for p in self.pulls.values():  # a push to a pull request's branch updates the pull request
            if p.state == "open" and p.head == branch and not p.head_owner:
                self.touch(p)

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _exists(self, sha: str, kind: str) -> bool:
        proc = subprocess.run(["git", "cat-file", "-t", sha], capture_output=True, env=self.git._env())
        return proc.returncode == 0 and proc.stdout.decode().strip() == kind

    def _is_ancestor(self, old: str, new: str) -> bool:
        proc = subprocess.run(["git", "merge-base", "--is-ancestor", old, new], capture_output=True, env=self.git._env())
        return proc.returncode == 0

    def _create_tree(self, body: dict) -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if body.get("base_tree"):
                if not self._exists(body["base_tree"], "tree"):
                    raise HTTPError(422, "base_tree is not a valid tree")
                self.git.git("read-tree", body["base_tree"], env=env)
            for entry in body.get("tree", []):
                if entry.get("sha") is None and "content" not in entry:
                    self.git.git("update-index", "--force-remove", "--", entry["path"], env=env)
                    continue
                blob = entry.get("sha") or self.git.git("hash-object", "-w", "--stdin", input=entry["content"].encode()).strip()
                self.git.git("update-index", "--add", "--cacheinfo", f"{entry.get('mode', '100644')},{blob},{entry['path']}", env=env)
            sha = self.git.git("write-tree", env=env).strip()
        return {"sha": sha, "url": f"{self.repo_url}/git/trees/{sha}", "tree": []}

    def _create_commit(self, body: dict) -> dict:
        if not self._exists(body["tree"], "tree"):
            raise HTTPError(422, "Tree SHA does not exist")
        args = ["commit-tree", body["tree"], "-F", "-"]
        for parent in body.get("parents", []):
            if not self._exists(parent, "commit"):
                raise HTTPError(422, "Parent SHA does not exist or is not a commit object")
            args += ["-p", parent]
        author = body.get("author") or {"name": "snowtower-bot", "email": "bot@example.com"}
        committer = body.get("committer") or {"name": "GitHub", "email": "noreply@github.com"}
        env = {"GIT_AUTHOR_NAME": author["name"], "GIT_AUTHOR_EMAIL": author["email"],
               "GIT_COMMITTER_NAME": committer["name"], "GIT_COMMITTER_EMAIL": committer["email"]}
        sha = self.git.git(*args, input=body["message"].encode(), env=env).strip()
        return self._commit_json(sha)

    def _create_pull(self, who: str, body: dict) -> dict:
        head, base = body["head"].split(":")[-1], body["base"]
        if not self._head(head):
            raise HTTPError(422, "Validation Failed", errors=[{"field": "head", "code": "invalid"}])
        if not self._head(base):
            raise HTTPError(422, "Validation Failed", errors=[{"field": "base", "code": "invalid"}])
        for p in self.pulls.values():
            if p.state == "open" and p.head == head and p.base == base:
                raise HTTPError(422, "Validation Failed", errors=[
                    {"resource": "PullRequest", "code": "custom",
                     "message": f"A pull request already exists for {self.owner}:{head}."}])
        self._check_body(body.get("body"), "PullRequest")
        pr = Pull(self.next_number, body["title"], body.get("body") or "", head, base, who, _stamp())
        self.next_number += 1
        self.pulls[pr.number] = pr
        return self._pull_json(pr)

    def _merge(self, pr: Pull, body: dict, who: str = "") -> dict:
        # https://docs.github.com/en/rest/pulls/pulls#merge-a-pull-request: 405 "if merge cannot be
        # performed", 409 "if sha was provided and pull request head did not match".
        if pr.state != "open":
            raise HTTPError(405, "Pull Request is not mergeable")
        head, base_sha = self._head(pr.head), self._head(pr.base)
        if body.get("sha") and body["sha"] != head:
            raise HTTPError(409, "Head branch was modified. Review and try the merge again.")
        method = body.get("merge_method", "merge")
        # https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/configuring-pull-request-merges/about-merge-methods-on-github
        if method not in self.merge_methods:
            raise HTTPError(405, {"merge": "Merge commits", "squash": "Squash merges", "rebase": "Rebase merges"}.get(
                method, "Merges") + " are not allowed on this repository.")
        tree = self._merge_tree(base_sha, head)
        if tree is None:
            raise HTTPError(405, "Pull Request is not mergeable")
        refusal = self._protection_refusal(pr, head, base_sha, who=who)
        if refusal:
            raise HTTPError(405, refusal)
        title = body.get("commit_title") or f"{pr.title} (#{pr.number})"
        message = title + ("\n\n" + body["commit_message"] if body.get("commit_message") else "") + "\n"
        parents = ["-p", base_sha] + (["-p", head] if method == "merge" else [])
        env = {"GIT_AUTHOR_NAME": pr.author, "GIT_AUTHOR_EMAIL": f"{pr.author}@users.noreply.github.com",
               "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}
        sha = self.git.git("commit-tree", tree, *parents, "-F", "-", input=message.encode(), env=env).strip()
        try:
            self.git.update_ref(f"refs/heads/{pr.base}", sha, base_sha)
            self._ref_cache = None
        except (RefMoved, GitError):
            # main moved while this merge was computed: GitHub's passing 405 (see the "405-base-modified" fault)
            raise HTTPError(405, "Base branch was modified. Review and try the merge again.") from None
        pr.state, pr.merged, pr.merged_at, pr.closed_at = "closed", True, _stamp(), _stamp()
        pr.merge_commit_sha, pr.head_sha_at_close, pr.merged_by = sha, head, who or None
        pr.updated_at = pr.closed_at
        return {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}

    def _protection_refusal(self, pr: Pull, head: str, base_sha: str, *, who: str | None,
                            kinds: tuple[str, ...] = ("strict", "checks", "reviews")) -> str | None:
        """GitHub's 405 message when branch protection forbids merging `pr` now, else None
        (https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches).
        `who`: the login merging (one on the bypass list merges anyway); None: as the pull request shows
        to anyone (mergeable_state)."""
        rules = self.protection
        if rules is None or (who is not None and who in rules.bypass):
            return None
        if "strict" in kinds and rules.strict and not self._is_ancestor(base_sha, head):
            # "Require branches to be up to date before merging" (wording of the API's 405 not confirmed
            # from a public answer; SnowTower reads mergeable_state "behind", not this text)
            return "Head branch is out of date. Review and try the merge again."
        if "checks" in kinds:
            for name in rules.required_checks:
                state = self.checks.get(head, {}).get(name, self.default_check)
                # Seen from GitHub: 405 'Required status check "NAME" is expected.' while it has not reported.
                if state in (None, "pending"):
                    return f'Required status check "{name}" is expected.'
                if state != "success":
                    return f'Required status check "{name}" is failing.'
        if "reviews" in kinds and rules.required_approving_reviews:
            latest: dict[str, dict] = {}
            for r in pr.reviews:  # each reviewer's latest approving or requesting-changes review
                if r["state"] in ("APPROVED", "CHANGES_REQUESTED"):
                    latest[r["user"]["login"]] = r
            have = sum(1 for login, r in latest.items()
                       if r["state"] == "APPROVED" and login != pr.author
                       and self.permissions.get(login, "none") in ("admin", "maintain", "write")
                       and (not rules.dismiss_stale_reviews or r["commit_id"] == head))
            need = rules.required_approving_reviews
            if have < need:
                # Seen from GitHub: 405 "At least 1 approving review is required by reviewers with write access."
                return (f"At least {need} approving review{' is' if need == 1 else 's are'} required by reviewers "
                        "with write access.")
        return None

    def _pull_commits(self, pr: Pull) -> list[str]:
        """The pull request's commits, oldest first: on its head and not on its base (for a merged one,
        not on the base as it was before the merge)."""
        head = (self._head(pr.head) if not pr.head_owner else None) or pr.head_sha_at_close
        stop = f"{pr.merge_commit_sha}^1" if pr.merged else self._head(pr.base)
        if not head or not stop:
            return []
        return self.git.git("rev-list", "--reverse", head, f"^{stop}").split()

    def _check_body(self, text, resource: str) -> None:
        if text is not None and len(text) > BODY_LIMIT:
            raise HTTPError(422, "Validation Failed", errors=[{"resource": resource, "code": "custom", "field": "body",
                                                               "message": f"body is too long (maximum is {BODY_LIMIT} characters)"}])

    def _patch_id(self, base_branch: str, sha: str) -> str:
        mb = self.git.git("merge-base", self._head(base_branch), sha).strip()
        out = self.git.git("patch-id", "--stable", input=self.git.git("diff", mb, sha).encode())
        return out.split(" ")[0] if out else ""

    def _repoint_reviews(self, branch: str, old: str, new: str) -> None:
        """After a force-push whose patch is the same as before (a rebase that changed nothing of the
        diff), GitHub shows the pull request's earlier reviews against the new head: they keep counting
        for required reviews unless the diff changed (the "dismiss stale pull request approvals" rule of
        https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches
        dismisses approvals only when new commits change the diff)."""
        for p in self.pulls.values():
            if p.state != "open" or p.head != branch or p.head_owner or not any(r["commit_id"] == old for r in p.reviews):
                continue
            if self._patch_id(p.base, old) == self._patch_id(p.base, new):
                for r in p.reviews:
                    if r["commit_id"] == old:
                        r["commit_id"] = new

    def _tarball(self, sha: str) -> bytes:
        prefix = f"{self.owner}-{self.name}-{sha[:7]}/"
        proc = subprocess.run(["git", "archive", "--format=tar.gz", f"--prefix={prefix}", sha], capture_output=True,
                              env=self.git._env(), check=True)
        return proc.stdout

    # -- reading the state in tests ----------------------------------------------------------------
    def read(self, ref: str, path: str) -> str | None:
        sha = self.git.rev(ref) or self.git.rev(f"refs/heads/{ref}")
        return self.git.read_text(sha, path) if sha else None

    def open_pulls(self) -> list[Pull]:
        with self.lock:
            return [p for p in self.pulls.values() if p.state == "open"]


def tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getnames()
