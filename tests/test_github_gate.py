"""The merge-deploy workflow's unsafe-apply gate (core/changes/github/gate.py), run with real PyGithub
against the test server: a portal request is opened, reviewed on GitHub by various people, merged,
and the gate decides for the pushed merge commit."""
import pytest
from github import Auth, Github

from core.changes.github.gate import gate, main
from app.operations import PreviewRequest, SubmitRequest
from recipes import RECIPES
from tests.github_support import gh_services, github, github_template  # noqa: F401 (fixtures)

PEOPLE = {"alice": "write", "bob": "admin", "carol": "read", "riley": "write"}  # riley: the requester's own account


@pytest.fixture
def world(gh_services, github, people, new_user_raw):
    """A submitted new-user request; the requester's commit email belongs to GitHub user riley."""
    for login, permission in PEOPLE.items():
        github.tokens[f"{login}-token"] = login
        github.permissions[login] = permission
    github.logins[people["requester"].email] = "riley"
    raw = new_user_raw()
    preview = PreviewRequest(gh_services, RECIPES["new-user"], raw).execute()
    cr = SubmitRequest(gh_services, people["requester"], RECIPES["new-user"], raw, preview.base_sha).execute()
    return cr


def client(server, login: str):
    return Github(auth=Auth.Token(f"{login}-token"), base_url=server.base_url, lazy=True, retry=None)


def review(server, login: str, number: int, event: str = "APPROVE"):
    pr = client(server, login).get_repo(server.full_name).get_pull(number)
    pr.create_review(event=event, body="" if event == "APPROVE" else "please not")


def label_unsafe(server, number: int):
    server.pulls[number].labels.append("apply-unsafe")
    server.touch(server.pulls[number])


def merge(server, number: int) -> str:
    pr = Github(auth=Auth.Token("bot-token"), base_url=server.base_url, lazy=True).get_repo(server.full_name).get_pull(number)
    return pr.merge(merge_method="squash", sha=pr.head.sha).sha


def decide_for(server, sha: str):
    return gate(Github(auth=Auth.Token("bot-token"), base_url=server.base_url, lazy=True).get_repo(server.full_name), sha)


def test_an_approval_of_the_merged_head_by_a_writer_who_did_not_write_it_allows_unsafe(world, github):
    label_unsafe(github, world.id)
    review(github, "alice", world.id)
    decision = decide_for(github, merge(github, world.id))
    assert decision.unsafe and decision.number == world.id and decision.approvers == ["alice"]


@pytest.mark.parametrize("who, event, why", [
    ("riley", "APPROVE", "riley wrote the change"),  # the requester's own GitHub account (their commit email)
    ("carol", "APPROVE", "carol has no write permission"),
])
def test_approvals_that_do_not_count(world, github, who, event, why):
    label_unsafe(github, world.id)
    review(github, who, world.id, event)
    decision = decide_for(github, merge(github, world.id))
    assert not decision.unsafe and why in decision.reason and decision.approvers == []


def test_a_requester_named_in_the_request_cannot_approve_with_an_account_of_that_name(world, github, people):
    github.tokens["requester-token"] = "requester"
    github.permissions["requester"] = "write"
    label_unsafe(github, world.id)
    review(github, "requester", world.id)
    decision = decide_for(github, merge(github, world.id))
    assert not decision.unsafe and "requester wrote the change" in decision.reason


def test_an_approval_of_an_earlier_commit_does_not_count(world, github):
    label_unsafe(github, world.id)
    review(github, "alice", world.id)
    pr = github.pulls[world.id]
    old = github.git.branch_head(pr.head)  # someone pushes another commit after the approval
    new = github.git.commit_files(old, {"snowddl/warehouse.yaml": "EVIL_WH:\n  size: X6LARGE\n"}, "more\n", ("Mallory", "m@example.com"))
    github.git.update_ref(f"refs/heads/{pr.head}", new, old)
    decision = decide_for(github, merge(github, world.id))
    assert not decision.unsafe and f"alice approved an earlier commit ({old[:8]})" in decision.reason


def test_a_later_request_for_changes_withdraws_an_approval(world, github):
    label_unsafe(github, world.id)
    review(github, "alice", world.id)
    review(github, "alice", world.id, "REQUEST_CHANGES")
    review(github, "bob", world.id, "COMMENT")  # a comment is no decision
    decision = decide_for(github, merge(github, world.id))
    assert not decision.unsafe and "0 of 1" in decision.reason


def test_without_the_label_or_without_a_pull_request_only_safe_changes(world, github):
    review(github, "alice", world.id)
    sha = merge(github, world.id)
    assert not decide_for(github, sha).unsafe
    main_head = github.git.branch_head("main")
    direct = github.git.commit_files(main_head, {"snowddl/x.yaml": "x: 1\n"}, "direct push\n", ("Admin", "a@example.com"))
    github.git.update_ref("refs/heads/main", direct, main_head)
    decision = decide_for(github, direct)
    assert not decision.unsafe and decision.number is None


def test_the_command_writes_the_decision_for_the_workflow(world, github, tmp_path, monkeypatch, capsys):
    label_unsafe(github, world.id)
    review(github, "bob", world.id)
    sha = merge(github, world.id)
    out = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_TOKEN", "bot-token")
    monkeypatch.setenv("GITHUB_API_URL", github.base_url)
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    assert main(["--sha", sha, "--repository", github.full_name]) == 0
    assert out.read_text() == f"number={world.id}\nunsafe=true\n"
    assert "approved by bob" in capsys.readouterr().out
    monkeypatch.setenv("GITHUB_TOKEN", "wrong-token")
    assert main(["--sha", sha, "--repository", github.full_name]) == 1  # GitHub refused: no decision, no deploy
