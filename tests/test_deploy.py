"""`snowtower deploy` (app/jobs/deploy.py), the merge-deploy workflow's deployment, against the GitHub test
server with real PyGithub. Pull requests are opened, approved and merged through the API; the checkout is
the server's own repository. Only the Snowflake account is faked, at the process boundary: the live plan
and `snowddl apply` are commands whose results come from FakeAccount, a list of the statements the
account still needs (each merge adds the statements its change plans, offline, with the real planner)."""
from __future__ import annotations

import json
import subprocess

import pytest
from github import Auth, Github

from app.jobs import deploy as job
from core.changes.git import GitRepo
from core.changes.model import Actor
from core.snowddl.config_loader import load_config
from core.snowddl.offline_engine import Statement
from core.snowddl.plan import plan_between
from portal import cli
from tests.github_support import gh_services, github, github_template  # noqa: F401 (fixtures)

USERS = "snowddl/user.yaml"


class FakeAccount:
    """The account as SnowDDL sees it: `pending`, what a live plan of the config would run. `apply` runs
    the safe statements, and the unsafe ones only with --apply-unsafe (as snowddl does); `fail_apply`
    makes it fail; `stuck` are statements an apply reports done but the account keeps."""

    def __init__(self):
        self.pending: list[Statement] = []
        self.commands: list[list[str]] = []
        self.fail_apply = False
        self.stuck: set[str] = set()

    def run(self, argv, **kwargs):
        self.commands.append(list(argv))
        if argv[-1] == "apply":
            if self.fail_apply:
                return subprocess.CompletedProcess(argv, 1, "", "snowflake.connector.errors.ProgrammingError: 003001")
            unsafe = "--apply-unsafe" in argv
            self.pending = [s for s in self.pending if (s.unsafe and not unsafe) or s.sql in self.stuck]
            return subprocess.CompletedProcess(argv, 0, "applied", "")
        assert argv[-3:] == ["--live", "--format", "json"], argv
        plan = {"mode": "live", "statements": [s.to_dict() for s in self.pending], "errors": []}
        return subprocess.CompletedProcess(argv, 0, json.dumps(plan), "")

    @property
    def applies(self) -> list[list[str]]:
        return [c for c in self.commands if c[-1] == "apply"]


@pytest.fixture
def account():
    return FakeAccount()


class Repo:
    """The configuration repository on the test server, driven through PyGithub as people would."""

    def __init__(self, server, account: FakeAccount):
        self.server, self.account = server, account
        fast = dict(seconds_between_requests=0, seconds_between_writes=0, retry=None)
        self.bot = Github(auth=Auth.Token("bot-token"), base_url=server.base_url, **fast).get_repo(server.full_name)
        self.alice = Github(auth=Auth.Token("alice-token"), base_url=server.base_url, **fast).get_repo(server.full_name)
        self.actions = Github(auth=Auth.Token("actions-token"), base_url=server.base_url, **fast).get_repo(server.full_name)
        self.git = GitRepo(server.git.path)
        self.count = 0

    def text(self, path=USERS) -> str:
        return self.server.read("main", path)

    def merge(self, edit, *, unsafe_label=False, approve=True, config=True):
        """Open a pull request that applies `edit` (text -> text) to user.yaml (or README.md when not
        `config`), approve it as alice, merge it (squash); the account then needs what it plans."""
        self.count += 1
        path = USERS if config else "README.md"
        main = self.git.branch_head("main")
        sha = self.git.commit_files(main, {path: edit(self.text(path))}, f"change {self.count}\n", ("Bot", "bot@example.com"))
        branch = f"snowtower/change-{self.count}"
        self.bot.create_git_ref(f"refs/heads/{branch}", sha)
        pr = self.bot.create_pull(base="main", head=branch, title=f"Change {self.count}", body="")
        if unsafe_label:
            pr.add_to_labels("apply-unsafe")
        if approve:
            self.alice.get_pull(pr.number).create_review(event="APPROVE", commit=self.alice.get_commit(sha))
        merged = pr.merge(merge_method="squash", sha=sha)
        if config:
            self.account.pending += planned(self.git, main, merged.sha)
        return self.bot.get_pull(pr.number)

    def deploy(self, sha=None, **kwargs) -> job.Result:
        sha = sha or self.git.branch_head("main")
        return job.deploy(self.actions, sha, self.git, job.SnowDDL("snowddl", run=self.account.run), log=lambda _: None,
                          **kwargs)

    def labels(self, number) -> set[str]:
        return {label.name for label in self.bot.get_pull(number).labels}

    def marker(self) -> str | None:
        return self.git.rev(f"refs/tags/{job.MARKER_TAG}")


def planned(git: GitRepo, base: str, head: str) -> list[Statement]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        a, b = git.export(base, "snowddl", Path(tmp) / "a"), git.export(head, "snowddl", Path(tmp) / "b")
        return plan_between(load_config(a), load_config(b)).statements


def recomment(user: str, new: str):
    """A safe change: a user's comment (ALTER USER ... SET COMMENT)."""
    def edit(text: str) -> str:
        block_start = text.index(f"\n{user}:\n") + 1
        block_end = text.find("\n\n", block_start)
        block = text[block_start:block_end]
        lines = [line for line in block.splitlines() if not line.startswith("  comment:")]
        return text[:block_start] + "\n".join(lines + [f"  comment: {new}"]) + text[block_end:]
    return edit


def drop(user: str):
    """An unsafe change: the user (and its user role) dropped."""
    def edit(text: str) -> str:
        start = text.index(f"\n{user}:\n") + 1
        end = text.find("\n\n", start)
        return text[:start] + text[end + 2:]
    return edit


@pytest.fixture
def repo(github, account):
    return Repo(github, account)


def test_three_merges_in_a_row_are_each_deployed_and_labelled_by_the_head_s_run(repo, account):
    prs = [repo.merge(recomment(user, f"Deploy {i}")) for i, user in enumerate(("PRAMAN", "MOKAFOR", "PRAMAN"), 1)]
    assert len(account.pending) == 3
    first_sha = prs[0].merge_commit_sha
    # The first merge's run starts after all three merged: it is not the head, and refuses.
    early = repo.deploy(first_sha)
    assert early.status == "refused" and early.exit_code == 0
    assert f"{first_sha[:12]} is not the head of main" in early.message and "Nothing was applied" in early.message
    assert account.commands == [] and all(repo.labels(p.number) == set() for p in prs)
    # The second's run was cancelled while pending (GitHub keeps one pending run); the third's deploys all.
    result = repo.deploy()
    assert result.status == "deployed" and result.exit_code == 0
    assert [m.number for m in result.merges] == [None] + [p.number for p in prs]  # the seed: pushed, no PR
    assert result.deployed == [p.number for p in prs]
    assert account.applies == [["snowddl", "-c", "snowddl", "apply"]] and account.pending == []
    for pr in prs:
        assert repo.labels(pr.number) == {"deployed"}
        [comment] = list(repo.bot.get_pull(pr.number).get_issue_comments())
        assert comment.body.startswith("Deployed to Snowflake by merge-deploy.")
        assert comment.user.login == "github-actions[bot]" and '"action":"deployed"' in comment.body
    assert repo.marker() == repo.git.branch_head("main")
    # The changelog: one entry naming each pull request, on its own branch (main stays protected).
    log = repo.server.read("snowtower-changelog", "CHANGELOG.md")
    assert log.startswith("# Deployments\n") and log.count("\n## ") == 1 and result.changelog == "recorded"
    assert [line for line in log.splitlines() if line.startswith("- #")] == [
        f"- #{p.number} Change {i}: deployed" for i, p in enumerate(prs, 1)]


def test_each_merge_deployed_by_its_own_run_is_labelled_once(repo, account):
    a = repo.merge(recomment("PRAMAN", "first"))
    assert repo.deploy().deployed == [a.number]
    b = repo.merge(recomment("MOKAFOR", "second"))
    c = repo.merge(recomment("PRAMAN", "third"))
    result = repo.deploy()
    assert result.deployed == [b.number, c.number]  # a was deployed by the earlier run: not again
    assert [m.number for m in result.merges] == [b.number, c.number]
    assert len(list(repo.bot.get_pull(a.number).get_issue_comments())) == 1


def test_re_running_an_old_deploy_changes_nothing(repo, account, github):
    a = repo.merge(recomment("PRAMAN", "first"))
    repo.deploy()
    b = repo.merge(recomment("PRAMAN", "second"))
    repo.deploy()
    marker, commands = repo.marker(), list(account.commands)
    github.reset_calls()
    old = repo.deploy(a.merge_commit_sha)  # "Re-run all jobs" of a's run: an older config
    assert old.status == "refused" and f"the run for {b.merge_commit_sha[:12]} deploys it" in old.message
    again = repo.deploy()  # the head's run re-run: already deployed
    assert again.status == "up-to-date" and again.exit_code == 0
    assert account.commands == commands and repo.marker() == marker
    assert {method for method, _ in github.calls} == {"GET"}  # no label, comment, tag or changelog written
    assert repo.labels(a.number) == repo.labels(b.number) == {"deployed"}
    log = repo.server.read("snowtower-changelog", "CHANGELOG.md")
    assert log.count("\n## ") == 2 and log.index(b.merge_commit_sha[:12]) < log.index(a.merge_commit_sha[:12])  # newest first


def test_a_later_push_that_does_not_change_the_config_does_not_strand_the_deploy(repo, account):
    a = repo.merge(recomment("PRAMAN", "first"))
    repo.merge(lambda text: text + "\nA note.\n", config=False)  # README only: starts no merge-deploy run
    result = repo.deploy(a.merge_commit_sha)
    assert result.status == "deployed" and result.deployed == [a.number] and account.pending == []


def test_unsafe_statements_are_applied_only_when_a_merged_pull_request_confirmed_each(repo, account):
    pr = repo.merge(drop("MOKAFOR"), unsafe_label=True)
    assert {s.sql for s in account.pending if s.unsafe} == {'DROP USER "MOKAFOR"', 'DROP ROLE "MOKAFOR__U_ROLE"'}
    result = repo.deploy()
    assert result.status == "deployed" and result.unsafe_applied
    assert account.applies == [["snowddl", "-c", "snowddl", "--apply-unsafe", "apply"]] and account.pending == []
    assert repo.labels(pr.number) == {"apply-unsafe", "deployed"}


def test_an_unconfirmed_unsafe_change_keeps_every_unsafe_statement_waiting_and_the_safe_part_is_applied(repo, account):
    confirmed = repo.merge(drop("MOKAFOR"), unsafe_label=True)
    unlabelled = repo.merge(drop("PRAMAN"))  # approved, but nobody asked for unsafe statements
    safe = repo.merge(recomment(_a_user(repo, 2), "safe"))
    result = repo.deploy()
    assert result.status == "partial" and result.exit_code == 0 and not result.unsafe_applied
    assert account.applies == [["snowddl", "-c", "snowddl", "apply"]]  # never --apply-unsafe
    assert {s.sql for s in result.blocking} == {'DROP USER "PRAMAN"', 'DROP ROLE "PRAMAN__U_ROLE"'}
    assert {s.sql for s in result.waiting} == {s.sql for s in account.pending} and len(result.waiting) == 4
    assert repo.labels(confirmed.number) == {"apply-unsafe", "deploy-waiting"}
    assert repo.labels(unlabelled.number) == {"deploy-waiting"}
    assert repo.labels(safe.number) == {"deployed"}
    [comment] = list(repo.bot.get_pull(unlabelled.number).get_issue_comments())
    assert 'DROP USER "PRAMAN";' in comment.body and "wait" in comment.body
    assert repo.marker() is None  # not complete: the next run accounts for the same pull requests
    assert "Unsafe statements no confirmed pull request covers" in job.summary(result)


def _a_user(repo, index: int) -> str:
    import yaml

    return list(yaml.safe_load(repo.text()))[index]


def test_an_approval_of_an_earlier_commit_or_by_the_author_does_not_confirm(repo, account):
    pr = repo.merge(drop("MOKAFOR"), unsafe_label=True, approve=False)
    result = repo.deploy()
    assert not result.unsafe_applied and repo.labels(pr.number) == {"apply-unsafe", "deploy-waiting"}
    assert all("--apply-unsafe" not in c for c in account.applies)


def test_drift_in_the_account_is_never_applied_under_a_pull_request_s_confirmation(repo, account):
    repo.merge(drop("MOKAFOR"), unsafe_label=True)
    account.pending.append(Statement('DROP DATABASE "SOMETHING_MADE_BY_HAND"', "DROP", "DATABASE", "SOMETHING_MADE_BY_HAND", True))
    result = repo.deploy()
    assert not result.unsafe_applied and [s.sql for s in result.blocking] == ['DROP DATABASE "SOMETHING_MADE_BY_HAND"']


def test_a_failed_apply_labels_deploy_failed_and_the_next_run_retries(repo, account):
    a = repo.merge(recomment("PRAMAN", "first"))
    b = repo.merge(recomment("MOKAFOR", "second"))
    account.fail_apply = True
    failed = repo.deploy()
    assert failed.status == "failed" and failed.exit_code == 1 and "003001" in failed.message
    assert failed.failed == [a.number, b.number]  # the admins' channel hears about each (merge-deploy)
    assert repo.deploy().failed == []  # failing again: labelled already, no second notice
    assert repo.labels(a.number) == repo.labels(b.number) == {"deploy-failed"}
    assert repo.marker() is None and len(account.pending) == 2
    account.fail_apply = False
    retry = repo.deploy()  # the next run: a re-run of the same head, or the next merge's
    assert retry.status == "deployed" and retry.deployed == [a.number, b.number]
    assert repo.labels(a.number) == repo.labels(b.number) == {"deployed"}  # deploy-failed removed
    assert repo.marker() == b.merge_commit_sha


def test_what_the_verification_finds_left_fails_the_deploy_and_labels_the_pull_requests(repo, account):
    a = repo.merge(recomment("PRAMAN", "first"))
    account.stuck = {account.pending[0].sql}
    result = repo.deploy()
    assert result.status == "unverified" and result.exit_code == 1
    assert [s.sql for s in result.left] == [account.pending[0].sql]
    assert repo.labels(a.number) == {"deploy-failed"} and repo.marker() is None
    [comment] = list(repo.bot.get_pull(a.number).get_issue_comments())
    assert "still finds 1 statement(s)" in comment.body and "COMMENT = 'first'" in comment.body


def test_a_run_killed_after_the_apply_is_repaired_by_the_next(repo, account, github):
    from github import GithubException

    a = repo.merge(recomment("PRAMAN", "first"))
    github.fail("POST", r"/issues/\d+/labels$", "500", times=1)
    with pytest.raises(GithubException):
        repo.deploy()
    assert account.pending == [] and repo.labels(a.number) == set() and repo.marker() is None
    result = repo.deploy()
    assert result.status == "deployed" and result.deployed == [a.number] and repo.marker() == a.merge_commit_sha


def test_a_hostile_pull_request_title_and_body_are_not_read_and_the_title_is_inert_in_the_changelog(repo, account):
    pr = repo.merge(recomment("PRAMAN", "first"))
    pr.edit(title="<!-- snowtower:event {\"action\": \"deployed\"} -->", body="```\n/apply-unsafe\n<script>")
    result = repo.deploy()
    [comment] = list(repo.bot.get_pull(pr.number).get_issue_comments())
    assert "script" not in comment.body and "/apply-unsafe" not in comment.body and result.deployed == [pr.number]
    # In the changelog the title is inert text: no HTML comment, no event block, no link.
    entry = next(line for line in repo.server.read("snowtower-changelog", "CHANGELOG.md").splitlines() if line.startswith("- #"))
    assert entry == f"- #{pr.number} \\<\\!\\-\\- snowtower\\:event \\{{\"action\"\\: \"deployed\"\\}} \\-\\-\\>: deployed"


def test_the_cli_refuses_an_old_commit_and_writes_the_outputs(repo, account, github, monkeypatch, tmp_path, capsys):
    a = repo.merge(recomment("PRAMAN", "first"))
    repo.merge(recomment("PRAMAN", "second"))
    out, summary = tmp_path / "out", tmp_path / "summary"
    for name, value in {"GITHUB_TOKEN": "actions-token", "GITHUB_REPOSITORY": github.full_name,
                        "GITHUB_API_URL": github.base_url, "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}.items():
        monkeypatch.setenv(name, value)
    code = cli.main(["deploy", "--sha", a.merge_commit_sha, "--git-dir", str(github.git.path)])
    assert code == 0 and "is not the head of main" in capsys.readouterr().out
    assert out.read_text() == "status=refused\ndeployed=\nfailed=\nfailing=\n" and "### merge-deploy: refused" in summary.read_text()
    assert account.commands == []


def test_the_cli_says_what_is_missing(monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    assert cli.main(["deploy", "--sha", "0" * 40, "--repository", "acme/x"]) == 2
    assert "GITHUB_TOKEN are needed" in capsys.readouterr().err


def test_the_changelog_is_best_effort_and_written_once_per_outcome(repo, account, github):
    a = repo.merge(recomment("PRAMAN", "first"))
    github.fail("POST", r"/git/trees$", "422", times=1)
    result = repo.deploy()
    assert result.status == "deployed" and result.changelog == "not written (GitHub answered 422)"
    assert repo.labels(a.number) == {"deployed"} and repo.marker() == a.merge_commit_sha  # the deployment stands
    account.fail_apply = True
    b = repo.merge(recomment("PRAMAN", "second"))
    repo.deploy()
    repo.deploy()  # the same failure again: no second entry
    log = repo.server.read("snowtower-changelog", "CHANGELOG.md")
    assert log.count("· failed ·") == 1 and f"- #{b.number} Change 2: deploy-failed" in log


def test_the_next_run_s_outcome_replaces_the_failed_label(repo, account):
    pr = repo.merge(drop("MOKAFOR"))  # unsafe, not asked for: waits
    account.fail_apply = True
    repo.deploy()
    assert repo.labels(pr.number) == {"deploy-failed"}
    account.fail_apply = False
    result = repo.deploy()
    assert result.status == "partial" and repo.labels(pr.number) == {"deploy-waiting"}  # not both
    comments = [c.body for c in repo.bot.get_pull(pr.number).get_issue_comments()]
    assert len(comments) == 2 and '"action":"deploy-waiting"' in comments[1]


def test_a_push_without_a_pull_request_is_accounted_for_and_never_confirms_unsafe(repo, account, github):
    main = repo.git.branch_head("main")
    sha = repo.git.commit_files(main, {USERS: drop("MOKAFOR")(repo.text())}, "by hand\n", ("Admin", "admin@example.com"))
    repo.git.update_ref("refs/heads/main", sha, main)
    account.pending += planned(repo.git, main, sha)
    result = repo.deploy()
    assert [m.number for m in result.merges][-1] is None and not result.unsafe_applied
    assert {s.sql for s in result.blocking} == {'DROP USER "MOKAFOR"', 'DROP ROLE "MOKAFOR__U_ROLE"'}


# -- a failed deployment's revert, opened through the portal's flow (app/operations/revert.py) -------------------
@pytest.fixture
def portal(gh_services):
    """The portal's services on the same repository (its bot token and signing key): what the revert job runs."""
    return gh_services


def test_a_failed_deploy_opens_one_urgent_revert_reviewed_like_any_other(repo, account, github, portal):
    from app.operations import ApproveRequest, MergeRequest
    from app.identity import DEPLOY_ACTOR
    from app.operations.revert import RevertFailedDeployment
    from app.review import queue
    from core.changes.base import ChangeError

    before = repo.text()
    pr = repo.merge(recomment("PRAMAN", "first"))
    later = repo.merge(recomment("MOKAFOR", "second"))  # a later change elsewhere in the same file
    account.fail_apply = True
    failed = repo.deploy()
    assert failed.failing == [pr.number, later.number]
    assert repo.deploy().failing == [pr.number, later.number]  # a retry that fails again: still both (labelled already)
    outcome = RevertFailedDeployment(portal, pr.number).execute()
    revert = outcome.opened
    assert revert.requester == "snowtower-deploy" and revert.recipe == "revert" and revert.request["request"] == pr.number
    on_github = repo.bot.get_pull(revert.id)
    assert {label.name for label in on_github.labels} == {"snowtower", "revert", "urgent"}
    # What it changes: PRAMAN's comment back as before the pull request; MOKAFOR's later change stays.
    assert repo.server.read(revert.branch, USERS) == recomment("MOKAFOR", "second")(before)
    # Never twice: the next failed run's job finds it.
    again = RevertFailedDeployment(portal, pr.number).execute()
    assert again.covered_by.id == revert.id and again.opened.id == revert.id  # resumed (labels), not opened again
    assert len([p for p in repo.bot.get_pulls(state="all") if p.head.ref.startswith("snowtower/") and "Revert" in p.title]) == 1
    # The queue shows it first and urgent; the system actor cannot approve; people approve and merge it.
    assert [(r.id, r.urgent) for r in queue(portal, Actor("approver", roles=("requester", "approver")))][0] == (revert.id, True)
    with pytest.raises(ChangeError, match="only approvers and admins"):
        ApproveRequest(portal, DEPLOY_ACTOR, revert.id).execute()
    ApproveRequest(portal, Actor("approver", roles=("requester", "approver")), revert.id).execute()
    merged = MergeRequest(portal, Actor("admin", roles=("requester", "approver", "admin")), revert.id).execute()
    assert merged.merged_sha and repo.text() == recomment("MOKAFOR", "second")(before)


def test_a_revert_of_lines_main_changed_since_is_refused_and_the_cli_says_why(repo, account, github, portal, tmp_path,
                                                                              monkeypatch, capsys):
    pr = repo.merge(recomment("PRAMAN", "first"))
    account.fail_apply = True
    repo.deploy()
    repo.merge(recomment("PRAMAN", "overwritten since"))  # the same line, changed again on main
    github.reset_calls()
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "ws"))
    assert cli.main(["revert", "--pr", str(pr.number), "--submit"]) == 1
    err = capsys.readouterr().err
    line = repo.text().splitlines().index("  comment: overwritten since") + 1
    assert f"user.yaml line {line}" in err and "none was made" in err
    assert not [c for c in github.calls if c[0] != "GET"]  # nothing written on GitHub


def test_a_pull_request_that_did_not_fail_is_not_reverted(repo, account, portal, tmp_path, monkeypatch, capsys):
    pr = repo.merge(recomment("PRAMAN", "first"))
    repo.deploy()
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "ws"))
    assert cli.main(["revert", "--pr", str(pr.number), "--submit"]) == 1
    assert "did not fail" in capsys.readouterr().err
    assert cli.main(["revert", "--pr", "9999", "--submit"]) == 1
    assert "is not a change merged into main" in capsys.readouterr().err


def test_a_revert_job_cut_off_halfway_is_finished_by_the_next_run(repo, account, github, portal, tmp_path, monkeypatch, capsys):
    pr = repo.merge(recomment("PRAMAN", "first"))
    account.fail_apply = True
    repo.deploy()
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "ws"))
    # Killed after the branch was made: the pull request is never created, the branch cannot be removed.
    github.fail("POST", r"/pulls$", "500", times=20)
    github.fail("DELETE", r"/git/refs/heads/", "500", times=20)
    assert cli.main(["revert", "--pr", str(pr.number), "--submit"]) == 2  # GitHub failing: 2, as any unreachable backend
    capsys.readouterr()
    github.faults.clear()
    branches = [b for b in repo.git.heads() if b.startswith("snowtower/") and "revert" in b]
    assert len(branches) == 1 and not [p for p in repo.bot.get_pulls(state="all") if "Revert" in p.title]
    # Then killed after the pull request, before its labels.
    github.fail("POST", r"/issues/\d+/labels$", "500", times=20)
    assert cli.main(["revert", "--pr", str(pr.number), "--submit"]) == 1
    github.faults.clear()
    [opened] = [p for p in repo.bot.get_pulls(state="all") if "Revert" in p.title]
    assert opened.head.ref == branches[0] and {label.name for label in opened.labels} == set()
    assert cli.main(["revert", "--pr", str(pr.number), "--submit"]) == 0  # the next run finishes it
    assert f"covered by revert #{opened.number}" in capsys.readouterr().out
    assert {label.name for label in repo.bot.get_pull(opened.number).labels} == {"snowtower", "revert", "urgent"}
    assert len([p for p in repo.bot.get_pulls(state="all") if "Revert" in p.title]) == 1
