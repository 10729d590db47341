"""Commit statuses the portal writes on merged commits: the audit log's anchors (app.audit_anchor).

`CommitStatuses` (a base of GitHubChanges) creates a status (`create_status`), lists the portal's own
statuses of a context on a commit (`statuses`), and lists the merge commits of the portal's pull requests
(`merged_commits`). Statuses written by any other login are never read as anchors. Errors: ValueError for a
description over STATUS_DESCRIPTION_LIMIT characters; ChangeError (GitHubUnavailable) when GitHub refuses
or cannot be reached.
"""
from __future__ import annotations

from github import GithubException

from core.changes.github.records import PullRecords

# The audit log's anchors (app.audit_anchor): a commit status of this context on each merged commit,
# https://docs.github.com/en/rest/commits/statuses. Its description is at most 140 characters (GitHub
# answers 422 "description is too long (maximum is 140 characters)"); 1000 statuses per sha and context.
AUDIT_CONTEXT = "snowtower/audit"
STATUS_DESCRIPTION_LIMIT = 140


class CommitStatuses(PullRecords):
    """The audit anchors on GitHub: commit statuses of the portal's own login."""

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
