"""The repository's git data as the GitHub backend reads and writes it: branch heads and forced ref
moves (/git/refs), one commit with every file (/git/trees, /git/commits), the configuration folder at a
commit (one tarball, cached by commit under `cache_dir/trees/<sha>`), recent commits of the base branch,
and the branch and pull request of a new request (created once: a retry finds what an earlier attempt
left). `GitData` is a base of GitHubChanges; its calls go through `_call` (core.changes.github.transport)
and raise GithubException for GitHub's refusals, ChangeError when GitHub cannot be reached.
"""
from __future__ import annotations

import urllib.parse
from datetime import datetime
from pathlib import Path

import requests
from github import GithubException, InputGitTreeElement

from core.changes.base import ChangeError
from core.changes.git import extract_tree
from core.changes.github.records import _iso
from core.changes.github.transport import GitHubTransport, _errors_text
from core.changes.model import Actor


class GitData(GitHubTransport):
    """Branches, commits and the configuration at a commit (GitHubChanges sets the attributes)."""

    cache_dir: Path
    config_dir: str

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

        def download() -> bytes:
            # The API answers with a short-lived download link (codeload, or the GHES host); the archive
            # itself comes from there without our credentials.
            link = self.gh_repo.get_archive_link("tarball", sha)
            response = requests.get(link, timeout=self.cfg.timeout)
            if response.status_code >= 400:
                raise GithubException(response.status_code, {"message": "archive download failed"}, {})
            return response.content

        data = self._call(f"downloading the configuration at {sha[:8]}", download)
        prefix = f"{self.config_dir}/" if self.config_dir else ""

        def place(name: str) -> str | None:
            parts = name.split("/", 1)  # GitHub's tarballs have one top folder: OWNER-REPO-SHA/
            rel = parts[1] if len(parts) == 2 else ""
            return rel[len(prefix):] if rel.startswith(prefix) and rel != prefix else None

        return extract_tree(data, dest, place)

    def recent_commits(self, n: int = 5) -> list[dict]:
        def read():
            page = self._fetch(f"{self.gh_repo.url}/commits", {"sha": self.base_branch, "per_page": max(1, min(int(n), 100))}).payload
            return [{"sha": c["sha"], "author": (c["commit"].get("author") or {}).get("name", ""),
                     "at": _iso(datetime.fromisoformat((c["commit"].get("author") or {}).get("date") or "1970-01-01T00:00:00Z")),
                     "subject": (c["commit"].get("message") or "").split("\n", 1)[0]} for c in (page or [])[:n]]
        return self._call("reading recent commits", read)

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

    def _delete_branch(self, branch: str) -> None:
        try:
            self._call(f"removing branch {branch}", lambda: self._delete_ref(branch))
        except (ChangeError, GithubException):
            pass  # a leftover branch of a closed PR is harmless; GitHub can delete it on merge too
