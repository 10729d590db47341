"""The merge-deploy workflow's deployment, as a tested module: `snowtower deploy --sha SHA`.

One run deploys the head of the default branch and accounts for every pull request merged since the
last complete deployment, whichever run they were pushed with (GitHub keeps one pending run per
concurrency group and cancels the older pending one, so a run may carry several merges):

1. The run's commit must be the head of the default branch, or have the same config folder as the
   head (a later push that did not touch the config starts no run). Otherwise it refuses and says so:
   a re-run of an older deployment never applies an older config.
2. The last complete deployment is the tag `snowtower-deployed`. The merges since then are the
   first-parent commits of the branch after it (before the first deployment: the latest 300); each is
   matched to its pull request.
3. A live plan (`snowtower plan --live`: the one process that needs the account) lists what SnowDDL
   would run. `--apply-unsafe` is passed only when every unsafe statement of that plan is one that a
   merged pull request's own change plans (offline, its merge commit against its first parent) and
   that pull request passed the unsafe gate (core/changes/github/gate.py: label `apply-unsafe` and an
   approval of its head by someone with write permission who did not write it). Otherwise only the safe
   part is applied, and the unsafe statements that wait are listed.
4. `snowddl apply`; then a second live plan verifies that nothing is left but what waits.
5. Labels: `deployed` for each pull request now fully in the account; `deploy-waiting` for those whose
   unsafe statements wait; `deploy-failed` for all of them when the apply or the verification failed (the
   next run retries: the tag has not moved). Each label goes with one comment carrying a SnowTower event
   from the workflow's login, so the portal shows it.
6. The tag moves to the deployed commit only once nothing waits: until then every run accounts for
   the same pull requests again (a run killed at any step is repaired by the next one: labels are only
   added where missing, the tag moves last).

Exit status: 0 deployed, nothing to do, or refused (not the head); 1 the apply or its verification
failed; 2 usage, or GitHub or the plan could not be read (nothing was applied).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.changes.github import gate as github_gate
from core.changes import metadata as meta
from core.changes.git import GitError, GitRepo
from core.snowddl.offline_engine import Statement
from core.snowddl.plan import Plan

DEPLOYED = "deployed"
FAILED = "deploy-failed"
WAITING = "deploy-waiting"
MARKER_TAG = "snowtower-deployed"
MAX_COMMITS = 300  # merges accounted for in one run; more means the tag was lost: say so, apply nothing
MAX_PULLS = 1000  # closed pull requests read to find those merges (10 pages of 100)
MAX_LISTED = 50  # statements listed in one comment or summary
ACTOR = "github-actions"
CHANGELOG_BRANCH = "snowtower-changelog"  # the deployments' changelog: CHANGELOG.md on this branch
CHANGELOG_FILE = "CHANGELOG.md"


class DeployError(Exception):
    """Nothing was applied: GitHub, git or the plan could not be read (exit 2)."""


@dataclass
class Merge:
    sha: str  # the commit on the default branch
    pr: Any = None  # PyGithub PullRequest; None: pushed without a pull request
    decision: github_gate.Decision | None = None
    unsafe: set[str] = field(default_factory=set)  # SQL of the unsafe statements its own change plans

    @property
    def number(self) -> int | None:
        return self.pr.number if self.pr is not None else None


@dataclass
class Result:
    status: str  # refused | up-to-date | deployed | partial | failed | unverified
    message: str
    sha: str
    merges: list[Merge] = field(default_factory=list)
    unsafe_applied: bool = False
    waiting: list[Statement] = field(default_factory=list)
    left: list[Statement] = field(default_factory=list)  # what the verification found still to do
    blocking: list[Statement] = field(default_factory=list)  # the unsafe statements no confirmed change covers
    labelled: dict[int, str] = field(default_factory=dict)  # pull request -> label added by this run
    changelog: str = ""  # what became of the changelog entry

    @property
    def exit_code(self) -> int:
        return 1 if self.status in ("failed", "unverified") else 0

    @property
    def deployed(self) -> list[int]:
        return sorted(n for n, label in self.labelled.items() if label == DEPLOYED)

    @property
    def failing(self) -> list[int]:
        """Every pull request of a failed run (labelled deploy-failed by this run or an earlier one): those
        whose revert merge-deploy's `revert` job asks for (`snowtower revert --pr N`: opened once)."""
        if self.status not in ("failed", "unverified"):
            return []
        return sorted(m.pr.number for m in self.merges if m.pr is not None and self.labelled.get(m.pr.number) != DEPLOYED
                      and DEPLOYED not in {label.name for label in m.pr.labels})

    @property
    def failed(self) -> list[int]:
        """The pull requests this run labelled deploy-failed (a retry that fails again adds none: no second notice)."""
        return sorted(n for n, label in self.labelled.items() if label == FAILED)


# -- the process boundary: SnowDDL against the account ---------------------------------------------
Runner = Callable[..., subprocess.CompletedProcess]


class SnowDDL:
    """The two commands that need the Snowflake account. `run` is subprocess.run (tests give their own:
    the account is the one thing they cannot have)."""

    def __init__(self, config_dir: str, run: Runner = subprocess.run, plan_timeout: int = 1200, apply_timeout: int = 2400):
        self.config_dir, self.run = config_dir, run
        self.plan_timeout, self.apply_timeout = plan_timeout, apply_timeout

    def plan_command(self) -> list[str]:
        return [sys.executable, "-m", "portal.cli", "plan", "--head", self.config_dir, "--live", "--format", "json"]

    def apply_command(self, unsafe: bool) -> list[str]:
        return ["snowddl", "-c", self.config_dir, *(["--apply-unsafe"] if unsafe else []), "apply"]

    def plan(self) -> Plan:
        """SnowDDL's live plan of the config. Raises DeployError when it cannot be had."""
        try:
            proc = self.run(self.plan_command(), capture_output=True, text=True, timeout=self.plan_timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeployError(f"the live plan could not run: {type(exc).__name__}") from None
        try:
            plan = Plan.from_dict(json.loads(proc.stdout))
        except (ValueError, TypeError, KeyError):
            plan = None
        if proc.returncode != 0 or plan is None or plan.errors:
            why = "; ".join(plan.errors) if plan is not None and plan.errors else _tail(proc.stderr)
            raise DeployError(f"the live plan failed (exit {proc.returncode}): {why}")
        return plan

    def apply(self, unsafe: bool) -> subprocess.CompletedProcess:
        try:
            return self.run(self.apply_command(unsafe), capture_output=True, text=True, timeout=self.apply_timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return subprocess.CompletedProcess(self.apply_command(unsafe), 1, "", f"snowddl apply did not finish: {type(exc).__name__}")


def _tail(text: str | None, limit: int = 2000) -> str:
    text = (text or "").strip()
    return text[-limit:] if text else "no output"


# -- what is being deployed -------------------------------------------------------------------------
def _tree_of(git: GitRepo, sha: str, config_dir: str) -> str | None:
    try:
        return git.git("rev-parse", "--verify", "--quiet", f"{sha}:{config_dir}").strip() or None
    except GitError:
        return None


def _remote_tree(repo, sha: str, config_dir: str) -> str | None:
    """The tree id of `config_dir` at commit `sha` on GitHub (GET /git/trees, one level at a time)."""
    tree = repo.get_git_commit(sha).tree.sha
    for part in [p for p in config_dir.strip("/").split("/") if p]:
        entry = next((e for e in repo.get_git_tree(tree).tree if e.path == part and e.type == "tree"), None)
        if entry is None:
            return None
        tree = entry.sha
    return tree


def marker(repo) -> str | None:
    """The commit of the last complete deployment (tag snowtower-deployed), None before the first."""
    from github import GithubException

    try:
        return repo.get_git_ref(f"tags/{MARKER_TAG}").object.sha
    except GithubException as exc:
        if exc.status == 404:
            return None
        raise


def move_marker(repo, sha: str, current: str | None) -> None:
    if current is None:
        repo.create_git_ref(f"refs/tags/{MARKER_TAG}", sha)
    else:
        repo.get_git_ref(f"tags/{MARKER_TAG}").edit(sha, force=True)


def merges_since(repo, git: GitRepo, since: str | None, sha: str, branch: str) -> list[Merge]:
    """The first-parent commits after `since` up to `sha` (oldest first), each with its pull request."""
    try:
        if since is None:  # the first deployment: the latest commits (merged before, they are in the config too)
            shas = git.git("rev-list", "--first-parent", f"--max-count={MAX_COMMITS}", sha).split()[::-1]
        else:
            shas = git.git("rev-list", "--first-parent", f"--max-count={MAX_COMMITS + 1}", sha, f"^{since}").split()[::-1]
    except GitError:
        raise DeployError(f"the checkout does not have the history from {(since or 'its start')[:12]} to {sha[:12]}: check it out "
                          f"with fetch-depth: 0 (or, if {branch}'s history was rewritten, move the tag {MARKER_TAG} to "
                          "the last commit known deployed)") from None
    if len(shas) > MAX_COMMITS:
        raise DeployError(f"more than {MAX_COMMITS} commits since the last deployment ({(since or '')[:12]}): "
                          f"move the tag {MARKER_TAG} to the last commit known deployed, then run again")
    merges = [Merge(s) for s in shas]
    wanted = {m.sha: m for m in merges}
    # A pull request merged as one of these commits was updated (merged) no earlier than the oldest
    # commit was made; the list can stop below that (slack for clocks), e.g. when a merge had no PR.
    oldest = min(int(t) for t in git.git("show", "-s", "--format=%ct", *shas).split()) - 600 if shas else 0
    # The closed pull requests of the branch, most recently updated first, until each merge is found:
    # more reliable than GET /commits/{sha}/pulls, which can lag just after a merge.
    for seen, pr in enumerate(repo.get_pulls(state="closed", base=branch, sort="updated", direction="desc")):
        if seen >= MAX_PULLS or all(m.pr is not None for m in merges):
            break
        if pr.updated_at is not None and pr.updated_at.timestamp() < oldest:
            break
        if pr.merged_at is not None and pr.merge_commit_sha in wanted and wanted[pr.merge_commit_sha].pr is None:
            wanted[pr.merge_commit_sha].pr = pr
    return merges


def own_unsafe(git: GitRepo, merge: Merge, config_dir: str, tmp: Path) -> set[str]:
    """The unsafe statements that this merge's own change plans offline (its commit against its first
    parent): the statements its approval may cover, and no others."""
    from core.snowddl.config_loader import load_config
    from core.snowddl.plan import plan_between

    parent = git.rev(f"{merge.sha}^1")
    if parent is None:
        return set()
    base = git.export(parent, config_dir, tmp / f"{parent}")
    head = git.export(merge.sha, config_dir, tmp / f"{merge.sha}")
    plan = plan_between(load_config(base), load_config(head))
    return {s.sql.strip() for s in plan.statements if s.unsafe}


# -- the run ----------------------------------------------------------------------------------------
def deploy(repo, sha: str, git: GitRepo, snowddl: SnowDDL, *, branch: str = "main", config_dir: str = "snowddl",
           required: int = 1, portal_names: dict[str, str] | None = None, run_url: str = "",
           log: Callable[[str], None] = print) -> Result:
    """One deployment run (see the module's description). `repo`: PyGithub Repository with a token that
    may read pull requests and reviews, label them and move the tag; `git`: the checkout with the
    branch's history; `snowddl`: the commands that reach the account."""
    head = repo.get_git_ref(f"heads/{branch}").object.sha
    if sha != head:
        mine, theirs = _tree_of(git, sha, config_dir), _remote_tree(repo, head, config_dir)
        if mine is None or mine != theirs:
            return Result("refused", f"refused: {sha[:12]} is not the head of {branch} ({head[:12]}), whose config "
                          f"differs; the run for {head[:12]} deploys it. Nothing was applied.", sha)
        log(f"{branch} moved on to {head[:12]} without changing {config_dir}/: deploying it")
    last = marker(repo)
    if last is not None and (last == sha or _is_ancestor(git, sha, last)):
        return Result("up-to-date", f"{sha[:12]} is already deployed (tag {MARKER_TAG} at {last[:12]}): nothing to do.", sha)
    merges = merges_since(repo, git, last, sha, branch)
    pulls = [m for m in merges if m.pr is not None]
    log(f"deploying {sha[:12]}: {len(merges)} commit(s) since {'the first deployment' if last is None else last[:12]}, "
        f"pull request(s) {', '.join(f'#{m.number}' for m in pulls) or 'none'}")

    before = snowddl.plan()
    unsafe = [s for s in before.statements if s.unsafe]
    waiting: list[Statement] = []
    with tempfile.TemporaryDirectory(prefix="snowtower-deploy-") as tmp:
        for m in pulls if unsafe else []:
            m.unsafe = own_unsafe(git, m, config_dir, Path(tmp))
            m.decision = github_gate.decide(m.pr, m.pr.get_reviews(), m.pr.get_commits(),
                                            lambda login: repo.get_collaborator_permission(login), required, portal_names)
            log(m.decision.reason)
    confirmed = set().union(*(m.unsafe for m in pulls if m.decision is not None and m.decision.unsafe))
    blocking = [s for s in unsafe if s.sql.strip() not in confirmed]
    # All or nothing: `--apply-unsafe` runs every unsafe statement of SnowDDL's plan, so a single one
    # that no confirmed change covers keeps them all waiting.
    waiting = list(unsafe) if blocking else []
    apply_unsafe = bool(unsafe) and not blocking
    if blocking:
        log(f"{len(blocking)} unsafe statement(s) no merged pull request's confirmed change covers: applying the "
            f"safe part only; {len(waiting)} unsafe statement(s) wait:")
        for s in blocking[:MAX_LISTED]:
            log(f"  not confirmed: {s.sql.strip()}")
    elif apply_unsafe:
        log(f"applying {len(unsafe)} unsafe statement(s), each confirmed on a merged pull request")

    proc = snowddl.apply(apply_unsafe)
    result = Result("deployed", "", sha, merges, apply_unsafe, waiting, blocking=blocking)
    if proc.returncode != 0:
        result.status = "failed"
        result.message = f"snowddl apply failed (exit {proc.returncode}): {_tail(proc.stderr or proc.stdout, 500)}"
        _label(repo, pulls, result, run_url)
        result.changelog = record_changelog(repo, result, run_url, log=log)
        return result
    try:
        after = snowddl.plan()
    except DeployError as exc:
        after, result.status = None, "unverified"
        result.message = f"applied, but the verification could not run: {exc}"
    if after is not None:
        expected = {s.sql.strip() for s in waiting}
        result.left = [s for s in after.statements if s.sql.strip() not in expected]
        if result.left:
            result.status = "unverified"
            result.message = (f"applied, but a live plan still finds {len(result.left)} statement(s) to run: "
                              "the account does not match the config")
    if result.status == "deployed":
        result.status = "partial" if waiting else "deployed"
        result.message = (f"deployed {sha[:12]}" + (f"; {len(waiting)} unsafe statement(s) wait" if waiting else "")
                          + (" (unsafe statements applied: each confirmed)" if apply_unsafe else ""))
    _label(repo, pulls, result, run_url)
    result.changelog = record_changelog(repo, result, run_url, log=log)
    if result.status == "deployed":
        move_marker(repo, sha, last)  # last: a run killed before this line is repaired by the next
    return result


def _is_ancestor(git: GitRepo, old: str, new: str) -> bool:
    proc = subprocess.run(["git", "merge-base", "--is-ancestor", old, new], capture_output=True, env=git._env())
    return proc.returncode == 0


def _label(repo, pulls: list[Merge], result: Result, run_url: str) -> None:
    """The label each pull request gets from this run, added only where missing (a re-run adds no
    second comment), with a comment carrying the SnowTower event."""
    waiting_sql = {s.sql.strip() for s in result.waiting}
    for m in pulls:
        names = {label.name for label in m.pr.labels}
        if DEPLOYED in names:
            continue  # deployed by an earlier run whose tag did not move (something else waited)
        if result.status in ("failed", "unverified"):
            label, detail = FAILED, result.message
        elif m.unsafe & waiting_sql:
            label = WAITING
            mine = [s for s in result.waiting if s.sql.strip() in m.unsafe]
            detail = (f"the safe part is deployed; {len(mine)} unsafe statement(s) of this change wait for an "
                      "admin's confirmation (label apply-unsafe and an approval of the merged commit)")
        else:
            label, detail = DEPLOYED, f"snowddl apply at {result.sha[:8]}"
        if label in names:
            continue
        stale = {DEPLOYED: (FAILED, WAITING), WAITING: (FAILED,), FAILED: ()}[label]
        for name in stale:  # a later run's outcome replaces an earlier one's
            if name in names:
                m.pr.remove_from_labels(name)
        m.pr.add_to_labels(label)
        result.labelled[m.pr.number] = label
        m.pr.create_issue_comment(_comment(label, detail, result, m, run_url))


def _comment(label: str, detail: str, result: Result, merge: Merge, run_url: str) -> str:
    by = f"[merge-deploy]({run_url})" if run_url else "merge-deploy"
    lines = {DEPLOYED: f"Deployed to Snowflake by {by}.",
             WAITING: f"Partly deployed by {by}: the unsafe statements below wait.",
             FAILED: f"The deployment by {by} failed; the next run of merge-deploy retries."}[label]
    out = [lines, "", detail]
    statements = ([s for s in result.waiting if s.sql.strip() in merge.unsafe] if label == WAITING else
                  result.left if label == FAILED else [])
    if statements:
        out += ["", "```sql", *[s.sql.strip().replace("```", "` ` `") + ";" for s in statements[:MAX_LISTED]], "```"]
        if len(statements) > MAX_LISTED:
            out.append(f"... and {len(statements) - MAX_LISTED} more (see the run's summary)")
    event = {"actor": ACTOR, "action": label, "detail": detail[:500]}
    return meta.embed("\n".join(out)[:60000], meta.EVENT, event)


def plain_markdown(text: str, limit: int = 200) -> str:
    """Text typed by someone (a pull request's title) as inert Markdown: one line, control characters
    dropped, every character Markdown or HTML could read escaped, at most `limit` characters."""
    import re

    line = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text or "")).split())[:limit]
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~&@:])", r"\\\1", line)


def changelog_entry(result: Result, run_url: str, now=None) -> tuple[str, str]:
    """(key, Markdown section) of one deployment: when, the outcome, the commit, each pull request."""
    from datetime import datetime, timezone

    key = f"<!-- deployment {result.sha} {result.status} -->"
    when = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## {when} · {result.status} · {result.sha[:12]}", key, ""]
    for m in result.merges:
        if m.pr is None:
            continue
        state = result.labelled.get(m.pr.number) or next((lab.name for lab in m.pr.labels if lab.name in (DEPLOYED, FAILED, WAITING)), "")
        lines.append(f"- #{m.number} {plain_markdown(m.pr.title)}: {state or 'unchanged'}")
    if result.waiting:
        lines.append(f"- {len(result.waiting)} unsafe statement(s) wait")
    if run_url:
        lines.append(f"- run: {run_url}")
    return key, "\n".join(lines) + "\n"


def record_changelog(repo, result: Result, run_url: str, now=None, log: Callable[[str], None] = print) -> str:
    """Add this deployment to CHANGELOG.md on the branch snowtower-changelog (newest first), once: a
    re-run finds its entry and adds none. Best effort: a refused write is logged, the deployment stands."""
    import base64

    from github import GithubException, InputGitTreeElement
    from github.GithubObject import NotSet

    key, entry = changelog_entry(result, run_url, now)
    try:
        try:
            ref = repo.get_git_ref(f"heads/{CHANGELOG_BRANCH}")
        except GithubException as exc:
            if exc.status != 404:
                raise
            ref = None
        parent, old = None, ""
        if ref is not None:
            parent = repo.get_git_commit(ref.object.sha)
            blob = next((e for e in repo.get_git_tree(parent.tree.sha).tree if e.path == CHANGELOG_FILE), None)
            if blob is not None:
                old = base64.b64decode(repo.get_git_blob(blob.sha).content).decode("utf-8", errors="replace")
        if key in old:
            return "already recorded"
        head, _, rest = old.partition("\n## ")
        top = head if old.startswith("# ") else "# Deployments\n\nWritten by merge-deploy (`snowtower deploy`), newest first.\n"
        text = top.rstrip("\n") + "\n\n" + entry + ("\n## " + rest if rest else "")
        tree = repo.create_git_tree([InputGitTreeElement(CHANGELOG_FILE, "100644", "blob", content=text)],
                                    parent.tree if parent is not None else NotSet)
        commit = repo.create_git_commit(f"Deployment {result.sha[:12]}: {result.status}", tree,
                                        [parent] if parent is not None else [])
        if ref is None:
            repo.create_git_ref(f"refs/heads/{CHANGELOG_BRANCH}", commit.sha)
        else:
            ref.edit(commit.sha)  # a fast-forward only: an entry written meanwhile is never overwritten
        return "recorded"
    except GithubException as exc:
        log(f"::warning::the changelog ({CHANGELOG_FILE} on {CHANGELOG_BRANCH}) was not written: GitHub answered {exc.status}")
        return f"not written (GitHub answered {exc.status})"


def summary(result: Result) -> str:
    """The run's summary, as Markdown for $GITHUB_STEP_SUMMARY."""
    out = [f"### merge-deploy: {result.status}", "", result.message, "",
           *([f"Changelog ({CHANGELOG_FILE} on {CHANGELOG_BRANCH}): {result.changelog}", ""] if result.changelog else [])]
    for m in result.merges:
        if m.pr is not None:
            out.append(f"- #{m.number} ({m.sha[:12]}): {result.labelled.get(m.pr.number, 'already ' + DEPLOYED)}")
        else:
            out.append(f"- {m.sha[:12]}: pushed without a pull request")
    for title, statements in (("Unsafe statements no confirmed pull request covers", result.blocking),
                              ("Unsafe statements that wait", result.waiting), ("Left after the apply", result.left)):
        if statements:
            out += ["", f"#### {title}", "", "```sql", *[s.sql.strip() + ";" for s in statements[:MAX_LISTED]], "```"]
    return "\n".join(out) + "\n"


def main(args) -> int:
    """`snowtower deploy` (portal/cli.py): GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL from Actions."""
    from github import Auth, Github, GithubException

    token, repository = os.environ.get("GITHUB_TOKEN"), args.repository or os.environ.get("GITHUB_REPOSITORY")
    if not (args.sha and repository and token):
        print("snowtower deploy: --sha, --repository (or GITHUB_REPOSITORY) and GITHUB_TOKEN are needed", file=sys.stderr)
        return 2
    gh = Github(auth=Auth.Token(token), base_url=os.environ.get("GITHUB_API_URL", "https://api.github.com"),
                timeout=30, retry=3, seconds_between_requests=0.1, seconds_between_writes=0.5)
    server, run_id = os.environ.get("GITHUB_SERVER_URL", ""), os.environ.get("GITHUB_RUN_ID", "")
    run_url = f"{server}/{repository}/actions/runs/{run_id}" if server and run_id else ""
    try:
        result = deploy(gh.get_repo(repository), args.sha, GitRepo(args.git_dir), SnowDDL(args.config),
                        branch=args.branch, config_dir=args.config, required=max(1, args.required),
                        portal_names=github_gate.portal_names_from(os.environ.get("SNOWTOWER_GITHUB_APPROVERS", "")),
                        run_url=run_url)
    except DeployError as exc:
        print(f"snowtower deploy: {exc}. Nothing was applied.", file=sys.stderr)
        return 2
    except GithubException as exc:
        print(f"snowtower deploy: GitHub answered {exc.status}; the next run repairs what this one left.", file=sys.stderr)
        return 2
    print(result.message)
    for path, text in ((os.environ.get("GITHUB_STEP_SUMMARY"), summary(result)),
                       (os.environ.get("GITHUB_OUTPUT"), f"status={result.status}\ndeployed={' '.join(map(str, result.deployed))}\n"
                                                      f"failed={' '.join(map(str, result.failed))}\n"
                                                      f"failing={' '.join(map(str, result.failing))}\n")):
        if path:
            with open(path, "a", encoding="utf-8") as f:
                f.write(text)
    return result.exit_code
