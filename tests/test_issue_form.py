"""An access-request issue, as GitHub renders the issue form, becomes a pull request (process-access-request)."""
import io
import json

from core.changes import metadata as meta
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
    monkeypatch.setenv("SNOWTOWER_USER", "octocat")
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "ws"))
    write_settings(tmp_path / "ws", github)
    monkeypatch.setattr("sys.stdin", io.StringIO(issue_body(public_pem)))
    assert main(["--recipe", "new-user", "--submit", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    [pr] = github.open_pulls()
    assert result["submitted"]["id"] == pr.number and result["submitted"]["url"].endswith(f"/pull/{pr.number}")
    assert meta.extract(pr.body, meta.REQUEST)["requester"] == "octocat"


def test_a_bad_issue_is_refused_naming_the_field_and_opens_nothing(tmp_path, github, monkeypatch, capsys, public_pem):
    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "bot-token")
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "ws"))
    write_settings(tmp_path / "ws", github)
    monkeypatch.setattr("sys.stdin", io.StringIO(issue_body(public_pem, **{"Business roles": "NO_SUCH_ROLE"})))
    assert main(["--recipe", "new-user", "--submit", "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert "business_roles" in out["field_errors"] and github.pulls == {}
