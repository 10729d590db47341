"""The pull request a merge-deploy run deployed, as GitHub itself vouches for it, for the deployment notice
(`snowtower notify deployed --pr N`, docs/notifications.md).

The workflow does not hold the portal's signing key (whoever can read Actions secrets could then forge
portal reviews), so the signed request record in the pull request's body cannot be verified here and is
never read: who asked, the recipe and the request stay unknown. What GitHub answers for itself is used:
the number, that it was merged, its merge commit, its base branch, its head branch (the portal's prefix,
in this repository, not a fork) and its author (the portal's login, when the settings name it). The
title is what someone typed: it is shown as plain text, like every message's."""
from __future__ import annotations

from github import GithubException

from core.changes.base import ChangeError
from core.changes.github.records import BRANCH_PREFIX
from core.changes.model import ChangeRequest, Status


class NotDeployable(ChangeError):
    """The pull request is not a merged SnowTower request into the base branch: nobody is told about it."""


def _iso(value) -> str:
    return value.isoformat() if value is not None else ""


def deployed_pull(repo, number: int, *, base_branch: str, portal_login: str = "") -> ChangeRequest:
    """Pull request `number` of `repo` (a PyGithub Repository) as a ChangeRequest made only of what GitHub
    vouches for: id, title (typed by someone), branch, base and head commits, merge commit (`merged_sha`),
    `url`, status DEPLOYED; `recipe`, `requester`, `justification` and `request` are empty.

    Raises NotDeployable (with the reason, for a person) when it does not exist, is not merged, was merged
    into another branch than `base_branch`, comes from a branch without the portal's prefix or from a
    fork, or (when `portal_login` is given) was opened by another login. GitHub's own failures raise
    GithubException or requests' exceptions (the caller says GitHub could not be asked)."""
    try:
        pr = repo.get_pull(number)
        merged = pr.merged  # a lazy client asks GitHub here
    except GithubException as exc:
        if exc.status == 404:
            raise NotDeployable(f"#{number} is not a pull request of {repo.full_name}.") from None
        raise
    ref = f"#{pr.number}"
    if not merged:
        state = "still open" if pr.state == "open" else "closed without being merged"
        raise NotDeployable(f"{ref} is {state}: it was not deployed.")
    if pr.base.ref != base_branch:
        raise NotDeployable(f"{ref} was merged into {pr.base.ref}, not into {base_branch}: it was not deployed from there.")
    head_repo = pr.head.repo.full_name if pr.head.repo is not None else ""
    if not pr.head.ref.startswith(BRANCH_PREFIX) or head_repo.lower() != repo.full_name.lower():
        raise NotDeployable(f"{ref} was not opened from a SnowTower branch of {repo.full_name} "
                            f"({BRANCH_PREFIX}...): it is not a SnowTower request.")
    author = pr.user.login if pr.user is not None else ""
    if portal_login and author.lower() != portal_login.lower():
        raise NotDeployable(f"{ref} was opened by {author or 'an unknown account'}, not by the portal ({portal_login}): "
                            "it is not a SnowTower request.")
    return ChangeRequest(id=pr.number, recipe="", title=pr.title or "", requester="", justification="", request={},
                         branch=pr.head.ref, base_sha=pr.base.sha or "", head_sha=pr.head.sha or "",
                         status=Status.DEPLOYED, created_at=_iso(pr.created_at), updated_at=_iso(pr.merged_at),
                         merged_sha=pr.merge_commit_sha, url=pr.html_url)
