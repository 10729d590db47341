"""An access-request issue, as GitHub renders the issue form, becomes a pull request (process-access-request)."""
import io
import json

import pytest

from core.changes import metadata as meta
from core.changes.base import ChangeError
from core.changes.model import Status
from portal.issue_form import main, parse_issue_form
from recipes import RECIPES
from tests.github_support import github, github_template, write_settings  # noqa: F401 (fixtures)


def issue_body(public_pem, **overrides):
    answers = {"User name": "issue_user", "Type": "PERSON", "First name": "Issa", "Last name": "User",
               "Email": "issa@cascaderidge.example", "RSA public key": f"```text\n{public_pem.strip()}\n```",
               "Business roles": "ANALYST", "Default warehouse": "_No response_",
               "Justification": "Needs dashboards for the Q3 review."}
    answers.update(overrides)
    return "\n\n".join(f"### {label}\n\n{value}" for label, value in answers.items()) + "\n"


def test_the_rendered_form_parses_into_the_recipe_s_fields(public_pem):
    values = parse_issue_form(issue_body(public_pem), RECIPES["new-user"])
    assert values["name"] == "issue_user" and values["business_roles"] == "ANALYST"
    assert values["rsa_public_key"].startswith("-----BEGIN PUBLIC KEY-----") and "```" not in values["rsa_public_key"]
    assert "default_warehouse" not in values  # "_No response_" is no answer


def test_an_issue_becomes_a_pull_request_by_the_issue_author(tmp_path, github, monkeypatch, capsys, public_pem):
    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "bot-token")
    monkeypatch.setenv("SNOWTOWER_GITHUB_AUTHOR", "octocat")
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "ws"))
    write_settings(tmp_path / "ws", github)
    monkeypatch.setattr("sys.stdin", io.StringIO(issue_body(public_pem)))
    assert main(["--recipe", "new-user", "--submit", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    [pr] = github.open_pulls()
    assert result["submitted"]["id"] == pr.number and result["submitted"]["url"].endswith(f"/pull/{pr.number}")
    assert meta.extract(pr.body, meta.REQUEST)["requester"] == "github:octocat"


def test_a_bad_issue_is_refused_naming_the_field_and_opens_nothing(tmp_path, github, monkeypatch, capsys, public_pem):
    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "bot-token")
    monkeypatch.setenv("SNOWTOWER_GITHUB_AUTHOR", "octocat")
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "ws"))
    write_settings(tmp_path / "ws", github)
    monkeypatch.setattr("sys.stdin", io.StringIO(issue_body(public_pem, **{"Business roles": "NO_SUCH_ROLE"})))
    assert main(["--recipe", "new-user", "--submit", "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert "business_roles" in out["field_errors"] and github.pulls == {}


def _submit_issue(tmp_path, github, monkeypatch, public_pem, env: dict, **settings) -> int:
    """The process-access-request workflow's step: the issue body on stdin, the issue's author in `env`."""
    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "bot-token")
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "ws"))
    for name in ("SNOWTOWER_USER", "SNOWTOWER_GITHUB_AUTHOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    write_settings(tmp_path / "ws", github, **settings)  # the users file: "approver" is a portal approver
    monkeypatch.setattr("sys.stdin", io.StringIO(issue_body(public_pem)))
    return main(["--recipe", "new-user", "--submit", "--format", "json"])


@pytest.mark.parametrize("author", [{"SNOWTOWER_GITHUB_AUTHOR": "Approver"},
                                    {"SNOWTOWER_USER": "approver"}])  # the workflow as it was before
def test_a_stranger_s_github_account_named_like_a_portal_approver_requests_under_its_github_name(
        tmp_path, github, monkeypatch, capsys, public_pem, people, author):
    """Issue 25: anyone can register the GitHub login `approver`. Its access-request issue is recorded as
    requested by github:approver, and the real approver reviews it (before: requested by "approver",
    audited as `approver, requester+approver, submit, ok`, and the real approver could not review it)."""
    from app.operations import ApproveRequest
    from app.services import build_services
    from app.settings import load_settings

    assert _submit_issue(tmp_path, github, monkeypatch, public_pem, author) == 0
    number = json.loads(capsys.readouterr().out)["submitted"]["id"]
    assert meta.extract(github.pulls[number].body, meta.REQUEST)["requester"] == "github:approver"
    services = build_services(load_settings(tmp_path / "ws"))
    [record] = [r for r in services.audit.search() if r.action == "submit"]
    assert (record.actor, record.role, record.outcome) == ("github:approver", "requester", "ok")
    assert services.changes.get(number).requester == "github:approver"
    approved = ApproveRequest(services, people["approver"], number).execute()
    assert approved.status == Status.APPROVED
    assert services.audit.search()[0].actor == "approver"


def test_a_github_login_the_settings_map_requests_as_its_portal_user(tmp_path, github, monkeypatch, capsys, public_pem, people):
    """github_users says whose GitHub account it is: that person requests, and so cannot approve it."""
    from app.operations import ApproveRequest
    from app.services import build_services
    from app.settings import load_settings

    env = {"SNOWTOWER_GITHUB_AUTHOR": "Avery-GH"}
    assert _submit_issue(tmp_path, github, monkeypatch, public_pem, env, github_users={"avery-gh": "approver"}) == 0
    number = json.loads(capsys.readouterr().out)["submitted"]["id"]
    services = build_services(load_settings(tmp_path / "ws"))
    assert services.changes.get(number).requester == "approver"
    with pytest.raises(ChangeError, match="your own request"):
        ApproveRequest(services, people["approver"], number).execute()


@pytest.mark.parametrize("env, message", [({}, "the issue's author is unknown"),
                                          ({"SNOWTOWER_GITHUB_AUTHOR": "approver:admin"}, "is not a GitHub login")])
def test_an_issue_without_a_github_author_submits_nothing(tmp_path, github, monkeypatch, capsys, public_pem, env, message):
    assert _submit_issue(tmp_path, github, monkeypatch, public_pem, env) == 2
    assert message in capsys.readouterr().err and github.pulls == {}


def test_the_unsafe_apply_gate_never_counts_the_issue_author_s_own_approval(tmp_path, github, monkeypatch, capsys, public_pem):
    """riley (write access, in no mapping) requests through an issue, then approves the pull request on
    GitHub: riley wrote the change, so `--apply-unsafe` must not follow from it."""
    from github import Auth, Github

    from core.changes.github.gate import gate
    from tests.github_support import as_user

    assert _submit_issue(tmp_path, github, monkeypatch, public_pem, {"SNOWTOWER_GITHUB_AUTHOR": "riley"}) == 0
    number = json.loads(capsys.readouterr().out)["submitted"]["id"]
    github.pulls[number].labels.append("apply-unsafe")
    as_user(github, "riley-token").get_pull(number).create_review(event="APPROVE")
    bot = Github(auth=Auth.Token("bot-token"), base_url=github.base_url, lazy=True).get_repo(github.full_name)
    pr = bot.get_pull(number)
    decision = gate(bot, pr.merge(merge_method="squash", sha=pr.head.sha).sha)
    assert not decision.unsafe and "riley wrote the change" in decision.reason
