"""The GitHub backend through real PyGithub over real HTTP, against the test server (tests/github_server.py)."""
import json

import pytest
import yaml
from github import Auth, Github

from core.changes import metadata as meta
from core.changes.base import ChangeError
from core.changes.github.backend import OPEN_CALLS
from core.changes.model import Status
from app.operations import ApproveRequest, MergeRequest, PreviewRequest, RejectRequest, RequestChanges, SubmitRequest
from recipes import RECIPES
from tests.github_support import github, github_template, gh_services  # noqa: F401 (fixtures)

RECIPE = RECIPES["new-user"]


def submit(services, actor, raw):
    preview = PreviewRequest(services, RECIPE, raw).execute()
    return SubmitRequest(services, actor, RECIPE, raw, preview.base_sha).execute()


def users_on_main(server):
    return set(yaml.safe_load(server.read("main", "snowddl/user.yaml")))


def test_backend_is_chosen_by_settings(gh_services):
    from core.changes.github import GitHubChanges

    assert isinstance(gh_services.changes, GitHubChanges)
    assert gh_services.settings.mode == "production"
    assert "bot-token" not in repr(gh_services.changes.cfg)  # secrets never in a repr (or a log line)


def test_open_is_one_commit_one_branch_one_labelled_pr_in_9_calls(gh_services, github, people, new_user_raw):
    main = github.git.branch_head("main")
    preview = PreviewRequest(gh_services, RECIPE, new_user_raw()).execute()
    assert gh_services.changes.portal_login == "snowtower-bot"  # learned once per process (GET /user), not per request
    github.reset_calls()
    cr = SubmitRequest(gh_services, people["requester"], RECIPE, new_user_raw(), preview.base_sha).execute()
    # The open itself, plus one listing of open requests: the duplicate check (SubmitRequest.open_duplicate).
    assert len(github.calls) == OPEN_CALLS + 1 == 10, github.calls
    assert github.calls[0] == ("GET", "/api/v3/repos/acme/snowflake-infra/pulls")
    [pr] = github.open_pulls()
    assert cr.id == pr.number and cr.url.endswith(f"/pull/{pr.number}") and cr.status == Status.OPEN
    assert pr.labels == ["snowtower", "new-user"]
    assert pr.title == "New person user JANE_DOE" and pr.head == cr.branch and pr.author == "snowtower-bot"
    # One commit on top of main, touching only user.yaml; main itself untouched before review.
    assert github.git.git("rev-list", f"main..{cr.branch}").split() == [cr.head_sha]
    assert github.git.git("rev-parse", f"{cr.head_sha}^").strip() == main
    assert github.git.git("diff", "--name-only", "main", cr.branch).split() == ["snowddl/user.yaml"]
    assert github.git.branch_head("main") == main
    # The body: readable for reviewers, with machine-readable metadata for the portal.
    assert "Riley Requester" in pr.body and "Joins the marketing analytics team." in pr.body
    assert "**Validation:** passed" in pr.body
    data = meta.extract(pr.body, meta.REQUEST)
    assert data["recipe"] == "new-user" and data["requester"] == "requester" and data["request"]["name"] == "JANE_DOE"
    assert data["key"] == meta.idempotency_key("new-user", "requester", data["request"])
    assert data["base_sha"] == main and data["validation"]["valid"] is True
    assert "+JANE_DOE:" in gh_services.changes.diff(cr)
    assert [c.id for c in gh_services.changes.list(requester="requester")] == [cr.id]


def test_the_number_of_calls_does_not_grow_with_the_number_of_files(gh_services, github, people):
    backend = gh_services.changes
    base = backend.base_head()
    files = {f"generated/file_{i}.yaml": f"n: {i}\n" for i in range(40)}
    backend.portal_login  # noqa: B018 - learned once per process, not part of opening a request
    github.reset_calls()
    cr = backend.open(recipe="bulk", title="Forty files", body="b", requester=people["requester"], justification="j",
                      request={"n": 40}, files=files, base_sha=base, validation={"valid": True})
    assert len(github.calls) == OPEN_CALLS
    assert len(github.git.git("diff", "--name-only", base, cr.head_sha).split()) == 40


def test_submitting_the_same_request_twice_opens_one_pr(gh_services, github, people, new_user_raw):
    first = submit(gh_services, people["requester"], new_user_raw())
    again = submit(gh_services, people["requester"], new_user_raw())
    assert again.id == first.id and len(github.pulls) == 1


def test_review_approve_and_squash_merge(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    cr = ApproveRequest(gh_services, people["approver"], cr.id, "looks right").execute()
    assert cr.status == Status.APPROVED
    [review] = github.pulls[cr.id].reviews
    assert review["state"] == "COMMENTED" and "looks right" in review["body"]
    assert meta.extract(review["body"], meta.REVIEW)["reviewer"] == "approver"
    cr = MergeRequest(gh_services, people["admin"], cr.id).execute()
    assert cr.status == Status.MERGED and cr.merged_sha == github.git.branch_head("main")
    assert "JANE_DOE" in users_on_main(github)
    parents = github.git.git("rev-list", "--parents", "-n1", "main").split()
    assert len(parents) == 2  # squash: one parent
    assert cr.branch not in github.branches()
    assert [e.action for e in gh_services.changes.events(cr)] == ["submitted", "approved", "merged"]
    assert gh_services.changes.recent_commits(2)[0]["subject"].startswith("New person user JANE_DOE")


def test_required_approvals_is_a_setting_and_counts_github_reviews(tmp_path, github, people, new_user_raw, monkeypatch):
    from app.services import build_services
    from app.settings import load_settings
    from tests.github_support import fast_retries, write_settings

    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "bot-token")
    write_settings(tmp_path / "ws2", github, required_approvals=2, github_approvers={"alice": "blake"})
    services = fast_retries(build_services(load_settings(tmp_path / "ws2")))
    cr = submit(services, people["requester"], new_user_raw())
    cr = ApproveRequest(services, people["approver"], cr.id).execute()
    assert cr.status == Status.OPEN
    with pytest.raises(ChangeError, match="needs 2 approval"):
        MergeRequest(services, people["admin"], cr.id).execute()
    # An approver (GitHub login mapped to a portal approver, with write permission) approving on GitHub
    # itself counts as the second approval.
    alice = Github(auth=Auth.Token("alice-token"), base_url=github.base_url, retry=None, seconds_between_writes=0)
    alice.get_repo(github.full_name).get_pull(cr.id).create_review(event="APPROVE", body="ok from GitHub")
    assert services.changes.get(cr.id).status == Status.APPROVED
    assert MergeRequest(services, people["admin"], cr.id).execute().status == Status.MERGED


def test_github_refuses_an_approval_by_the_pr_author(gh_services, github, people, new_user_raw):
    """Why portal reviews are posted as COMMENT reviews with metadata: the bot authored the PR."""
    cr = submit(gh_services, people["requester"], new_user_raw())
    from github import GithubException

    with pytest.raises(GithubException) as exc:
        gh_services.changes.gh_repo.get_pull(cr.id).create_review(event="APPROVE")
    assert exc.value.status == 422


def test_self_approval_is_refused_before_calling_github(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["admin"], new_user_raw())
    github.reset_calls()
    with pytest.raises(ChangeError, match="your own request"):
        ApproveRequest(gh_services, people["admin"], cr.id).execute()
    assert [c for c in github.calls if c[0] != "GET"] == []
    assert github.pulls[cr.id].reviews == []


def test_changes_requested_then_rejected_closes_the_pr_and_removes_the_branch(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    cr = RequestChanges(gh_services, people["approver"], cr.id, "Use FINANCE_ANALYST").execute()
    assert cr.status == Status.CHANGES_REQUESTED
    cr = RejectRequest(gh_services, people["approver"], cr.id, "Duplicate").execute()
    assert cr.status == Status.REJECTED and github.pulls[cr.id].state == "closed"
    assert cr.branch not in github.branches()
    with pytest.raises(ChangeError, match="already rejected"):
        ApproveRequest(gh_services, people["admin"], cr.id).execute()
    actions = [(e.action, e.detail) for e in gh_services.changes.events(cr)]
    assert actions[1:] == [("changes_requested", "Use FINANCE_ANALYST"), ("rejected", "Duplicate")]


def test_merge_after_main_moved_re_applies_on_the_new_base(gh_services, github, people, new_user_raw):
    first = submit(gh_services, people["requester"], new_user_raw("first_user"))
    second = submit(gh_services, people["requester"], new_user_raw("second_user"))
    for cr in (first, second):
        ApproveRequest(gh_services, people["approver"], cr.id).execute()
    first = MergeRequest(gh_services, people["admin"], first.id).execute()
    assert github._pull_json(github.pulls[second.id])["mergeable"] is False  # both append to user.yaml
    merged = MergeRequest(gh_services, people["admin"], second.id).execute()
    assert merged.status == Status.MERGED
    assert {"FIRST_USER", "SECOND_USER"} <= users_on_main(github)
    assert "rebased" in [e.action for e in gh_services.changes.events(merged)]
    data = meta.extract(github.pulls[second.id].body, meta.REQUEST)
    assert data["base_sha"] == first.merged_sha != second.base_sha  # the metadata follows the re-applied branch


def test_pages_list_and_get_only_snowtower_pull_requests(gh_services, github, people, new_user_raw):
    github.git.update_ref("refs/heads/manual", github.git.branch_head("main"), None)
    alice = Github(auth=Auth.Token("alice-token"), base_url=github.base_url, retry=None, seconds_between_writes=0)
    manual = alice.get_repo(github.full_name).create_pull(base="main", head="manual", title="Hand-made", body="no metadata")
    cr = submit(gh_services, people["requester"], new_user_raw())
    assert [c.id for c in gh_services.changes.list()] == [cr.id]
    assert gh_services.changes.get(manual.number) is None
    assert gh_services.changes.list(statuses=[Status.MERGED]) == []


def test_config_at_downloads_the_config_folder_once_per_commit(gh_services, github):
    sha = gh_services.changes.base_head()
    path = gh_services.changes.config_at(sha)
    assert (path / "user.yaml").read_text() == github.read("main", "snowddl/user.yaml")
    github.reset_calls()
    assert gh_services.changes.config_at(sha) == path and github.calls == []


def test_github_app_auth_with_a_key_generated_here(tmp_path, github, people, new_user_raw, monkeypatch, rsa_key, private_pem, public_pem):
    from app.services import build_services
    from app.settings import load_settings
    from tests.github_support import fast_retries, write_settings

    github.add_app(4242, public_pem, installation_id=77)
    monkeypatch.delenv("SNOWTOWER_GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("SNOWTOWER_GITHUB_APP_PRIVATE_KEY", private_pem)
    write_settings(tmp_path / "ws-app", github, github_app_id="4242")
    services = fast_retries(build_services(load_settings(tmp_path / "ws-app")))
    cr = submit(services, people["requester"], new_user_raw())
    assert github.pulls[cr.id].author == "snowtower[bot]"
    assert ("GET", "/api/v3/repos/acme/snowflake-infra/installation") in github.calls
    assert ("POST", "/api/v3/app/installations/77/access_tokens") in github.calls
    assert private_pem.splitlines()[1] not in repr(services.changes.cfg)


def test_missing_credentials_is_a_clear_message(tmp_path, github, monkeypatch):
    from app.services import build_services
    from app.settings import load_settings
    from tests.github_support import write_settings

    monkeypatch.delenv("SNOWTOWER_GITHUB_TOKEN", raising=False)
    write_settings(tmp_path / "ws-none", github)
    with pytest.raises(ChangeError, match="without credentials"):
        build_services(load_settings(tmp_path / "ws-none"))


def test_cli_submit_opens_the_pr_and_prints_its_url(tmp_path, github, monkeypatch, capsys, public_pem):
    from portal.cli import main
    from tests.github_support import write_settings

    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "bot-token")
    monkeypatch.setenv("SNOWTOWER_USER", "jdoe")
    write_settings(tmp_path / "ws-cli", github)
    key = tmp_path / "k.pub"
    key.write_text(public_pem)
    argv = ["request", "new-user", "--submit", "--workspace", str(tmp_path / "ws-cli"), "--set", "name=cli_user",
            "--set", "first_name=Cli", "--set", "last_name=User", "--set", "email=cli@cascaderidge.example",
            "--set", "business_roles=ANALYST", "--set-file", f"rsa_public_key={key}", "--set", "justification=From the CLI."]
    assert main(argv) == 0
    out = capsys.readouterr().out
    [pr] = github.open_pulls()
    assert f"{github.host}/{github.full_name}/pull/{pr.number}" in out
    assert meta.extract(pr.body, meta.REQUEST)["requester"] == "jdoe"
    assert main(argv + ["--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["submitted"]["id"] == pr.number
    assert len(github.pulls) == 1


def test_the_merge_deploy_workflow_s_label_and_comment_show_as_deployed(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    ApproveRequest(gh_services, people["approver"], cr.id).execute()
    cr = MergeRequest(gh_services, people["admin"], cr.id).execute()
    assert cr.status == Status.MERGED  # on GitHub, merging does not deploy: the workflow does
    # What .github/workflows/merge-deploy.yml does after `snowddl apply`, as the workflow's own identity
    # (github-actions[bot], settings.github_deploy_login): only its and the portal's event comments count.
    actions = Github(auth=Auth.Token("actions-token"), base_url=github.base_url, retry=None, seconds_between_writes=0)
    issue = actions.get_repo(github.full_name).get_issue(cr.id)
    issue.add_to_labels("deployed")
    issue.create_comment(meta.embed("Deployed to Snowflake.", meta.EVENT, {"actor": "github-actions", "action": "deployed",
                                                                        "detail": "snowddl apply"}))
    assert gh_services.changes.get(cr.id).status == Status.DEPLOYED
    assert [e.action for e in gh_services.changes.events(cr)][-1] == "deployed"


def test_each_thread_gets_its_own_pygithub_client(gh_services):
    """PyGithub keeps the request being sent in attributes of a shared connection object: two threads on
    one client can send each other's requests. The backend gives every thread its own client."""
    import threading

    seen = []
    thread = threading.Thread(target=lambda: seen.append(gh_services.changes.gh))
    thread.start()
    thread.join()
    assert seen[0] is not gh_services.changes.gh
    assert gh_services.changes.gh is gh_services.changes.gh  # and reuses it within a thread


def test_resubmit_on_github_keeps_the_pr_and_voids_earlier_approvals(gh_services, github, people, new_user_raw):
    from app.operations import ResubmitRequest
    from app.operations.shared.guards import approvals

    cr = submit(gh_services, people["requester"], new_user_raw())
    ApproveRequest(gh_services, people["admin"], cr.id, "fine").execute()
    cr = RequestChanges(gh_services, people["approver"], cr.id, "Use DATA_SCIENTIST").execute()
    assert cr.status == Status.CHANGES_REQUESTED
    fixed = ResubmitRequest(gh_services, people["requester"], cr.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    assert fixed.status == Status.OPEN and fixed.id == cr.id and fixed.branch == cr.branch and fixed.head_sha != cr.head_sha
    assert len(github.open_pulls()) == 1
    assert approvals(gh_services, fixed) == []
    assert "resubmitted" in [e.action for e in gh_services.changes.events(fixed)]
    on_branch = yaml.safe_load(github.read(cr.branch, "snowddl/user.yaml"))["JANE_DOE"]["business_roles"]
    assert on_branch == ["DATA_SCIENTIST"]
    ApproveRequest(gh_services, people["approver"], cr.id).execute()
    assert MergeRequest(gh_services, people["admin"], cr.id).execute().status in (Status.MERGED, Status.DEPLOYED)
    assert "JANE_DOE" in users_on_main(github)
