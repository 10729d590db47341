"""The unsafe-apply gate of the merge-deploy workflow: may `snowddl apply --apply-unsafe` run for the
pull request that a push to the base branch merged?

Only when the pull request carries the label `apply-unsafe` AND at least `required` people approved
it on GitHub such that each approval
- is that person's latest decision (a later "changes requested" or a dismissal withdraws it),
- was given to the head commit that was merged (an approval of an earlier push does not count),
- comes from someone with write permission on the repository (admin, maintain or write),
- comes from someone who did not write the change: not the pull request's author, not an author or
  committer of its commits, not the requester its request block names (naming more people here can
  only make the gate stricter, so that block's text is never a way in).

Run by .github/workflows/merge-deploy.yml with the workflow's own token:

    python -m core.changes.github.gate --sha "$GITHUB_SHA"     # GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL

and SNOWTOWER_GITHUB_APPROVERS (a repository secret, as in the portal's environment: "login=user,...")
so that a GitHub login mapped to the requester counts as the requester.

It prints the decision and its reason and writes `number` and `unsafe` (true|false) to $GITHUB_OUTPUT.
Exit status 0 when it decided (either way), 1 when GitHub could not be asked (the deploy then stops).
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from core.changes import metadata as meta

UNSAFE_LABEL = "apply-unsafe"
WRITE_PERMISSIONS = ("admin", "maintain", "write")


@dataclass
class Decision:
    number: int | None  # the merged pull request, None when the push merged none
    unsafe: bool
    reason: str
    approvers: list[str] = field(default_factory=list)


def decide(pr, reviews: Iterable, commits: Iterable, permission: Callable[[str], str], required: int = 1,
           portal_names: dict[str, str] | None = None) -> Decision:
    """The gate for one merged pull request (PyGithub objects: PullRequest, its PullRequestReviews and
    Commits); `permission(login)` is that person's permission on the repository ("admin", "write",
    "read", "none"); `portal_names`: GitHub login -> portal username (the portal's `github_approvers`),
    so that the requester's own GitHub account is known even when their commit email is not its."""
    labels = {label.name for label in pr.labels}
    if UNSAFE_LABEL not in labels:
        return Decision(pr.number, False, f"#{pr.number} is not labelled {UNSAFE_LABEL}: safe changes only.")
    head = pr.head.sha
    writers = {pr.user.login.lower()} if pr.user else set()
    for c in commits:
        for person in (c.author, c.committer):  # GitHub accounts the commit's emails belong to, if any
            if person is not None and person.login:
                writers.add(person.login.lower())
    requester = (meta.extract(pr.body, meta.REQUEST) or {}).get("requester")
    if isinstance(requester, str) and requester:
        writers.add(requester.lower())
        if requester.lower().startswith("github:"):  # an issue author's request (app.identity.github_name)
            writers.add(requester[len("github:"):].lower())
        writers.update(login.lower() for login, name in (portal_names or {}).items() if name.lower() == requester.lower())
    latest: dict[str, Any] = {}  # login -> PyGithub PullRequestReview
    for r in sorted(reviews, key=lambda r: (r.submitted_at is None, r.submitted_at)):
        if r.user is not None and r.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[r.user.login.lower()] = r
    approvers, refused = [], []
    for login, r in sorted(latest.items()):
        if r.state != "APPROVED":
            continue
        if r.commit_id != head:
            refused.append(f"{login} approved an earlier commit ({(r.commit_id or '?')[:8]})")
        elif login in writers:
            refused.append(f"{login} wrote the change")
        elif permission(r.user.login) not in WRITE_PERMISSIONS:
            refused.append(f"{login} has no write permission")
        else:
            approvers.append(login)
    why = f" (not counted: {'; '.join(refused)})" if refused else ""
    if len(approvers) < required:
        return Decision(pr.number, False, f"#{pr.number} is labelled {UNSAFE_LABEL} but has {len(approvers)} of {required} "
                                          f"approvals that count{why}: safe changes only.", approvers)
    return Decision(pr.number, True, f"#{pr.number}: unsafe changes approved by {', '.join(approvers)}{why}.", approvers)


def merged_pull(repo, sha: str):
    """The pull request whose merge made commit `sha`, or None (a direct push)."""
    for pr in repo.get_commit(sha).get_pulls():
        if pr.merged_at is not None and pr.merge_commit_sha == sha:
            return pr
    return None


def gate(repo, sha: str, required: int = 1, portal_names: dict[str, str] | None = None) -> Decision:
    pr = merged_pull(repo, sha)
    if pr is None:
        return Decision(None, False, f"{sha[:8]} was not merged from a pull request: safe changes only.")
    return decide(pr, pr.get_reviews(), pr.get_commits(), lambda login: repo.get_collaborator_permission(login), required,
                  portal_names)


def portal_names_from(text: str) -> dict[str, str]:
    """SNOWTOWER_GITHUB_APPROVERS as the portal reads it from the environment ("login=user,login2=user2")."""
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {login.strip().lower(): name.strip() for login, name in pairs if login.strip() and name.strip()}


def main(argv: list[str] | None = None) -> int:
    from github import Auth, Github, GithubException

    parser = argparse.ArgumentParser(prog="python -m core.changes.github.gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sha", default=os.environ.get("GITHUB_SHA"), help="the pushed commit (default $GITHUB_SHA)")
    parser.add_argument("--repository", default=os.environ.get("GITHUB_REPOSITORY"), help="OWNER/NAME")
    parser.add_argument("--required", type=int, default=1, help="approvals needed (default 1)")
    args = parser.parse_args(argv)
    token = os.environ.get("GITHUB_TOKEN")
    if not (args.sha and args.repository and token):
        print("github_gate: --sha, --repository and GITHUB_TOKEN are needed", file=sys.stderr)
        return 2
    gh = Github(auth=Auth.Token(token), base_url=os.environ.get("GITHUB_API_URL", "https://api.github.com"), lazy=True)
    try:
        decision = gate(gh.get_repo(args.repository), args.sha, max(1, args.required),
                        portal_names_from(os.environ.get("SNOWTOWER_GITHUB_APPROVERS", "")))
    except GithubException as exc:
        print(f"github_gate: GitHub answered {exc.status}; not deciding, not deploying.", file=sys.stderr)
        return 1
    print(decision.reason)
    out = os.environ.get("GITHUB_OUTPUT")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(f"number={decision.number or ''}\nunsafe={'true' if decision.unsafe else 'false'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
