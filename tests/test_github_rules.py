"""GitHub's rules as the test server enforces them (tests/github_server.py, each with its documentation
page), and SnowTower's flows surviving them: real PyGithub over real HTTP."""
import pytest
import yaml
from github import Auth, Github, GithubException

from core.changes import metadata as meta
from core.changes.base import ChangeError, HeadMoved
from core.changes.github.backend import MergeBlocked
from core.changes.github.records import BODY_LIMIT
from core.changes.model import Status
from app.operations import ApproveRequest, MergeRequest, PreviewRequest, SubmitRequest, WithdrawRequest
from recipes import RECIPES
from tests.github_server import Protection
from tests.github_support import as_user, github, github_template, gh_services  # noqa: F401 (fixtures)

RECIPE = RECIPES["new-user"]


def submit(services, actor, raw, recipe=RECIPE):
    recipe = RECIPES[recipe] if isinstance(recipe, str) else recipe
    preview = PreviewRequest(services, recipe, raw).execute()
    return SubmitRequest(services, actor, recipe, raw, preview.base_sha).execute()


def protect(server, **rules) -> None:
    """Branch protection with these rules only, and no check reported yet (whatever the suite's default)."""
    server.protection = Protection(**rules)
    server.default_check = None


def writes(server) -> list:
    """The calls that could push a commit or move a branch."""
    return [c for c in server.calls if c[0] in ("POST", "PATCH") and ("/git/" in c[1])]


def pushes_nothing(server, cr, main_before):
    assert server.git.branch_head(cr.branch) == cr.head_sha and server.git.branch_head("main") == main_before
    assert writes(server) == []


@pytest.fixture
def sleeps(gh_services):
    """The backend's sleeps (back-off), recorded instead of slept."""
    slept: list[float] = []
    gh_services.changes._sleep = slept.append
    return slept


# -- the server's rules, straight through PyGithub ------------------------------------------------------

def test_get_user_is_refused_to_integration_tokens(github):
    def login(token):
        return Github(auth=Auth.Token(token), base_url=github.base_url, retry=None).get_user().login

    assert login("bot-token") == "snowtower-bot"  # a machine user's token: a user
    with pytest.raises(GithubException) as refused:
        login("actions-token")  # a workflow's GITHUB_TOKEN
    assert refused.value.status == 403 and refused.value.data["message"] == "Resource not accessible by integration"


def test_bodies_longer_than_65536_characters_are_refused(github):
    repo = as_user(github, "bot-token")
    main = github.git.branch_head("main")
    head = github.git.commit_files(main, {"x.txt": "x\n"}, "x\n", ("A", "a@example.com"))
    github.git.update_ref("refs/heads/long-body", head, None)
    with pytest.raises(GithubException) as refused:
        repo.create_pull(base="main", head="long-body", title="t", body="b" * (BODY_LIMIT + 1))
    assert refused.value.status == 422 and "body is too long" in str(refused.value.data)
    pr = repo.create_pull(base="main", head="long-body", title="t", body="b" * BODY_LIMIT)
    with pytest.raises(GithubException, match="body is too long"):
        pr.create_issue_comment("c" * (BODY_LIMIT + 1))


def test_a_force_push_of_the_same_patch_re_points_reviews_a_changed_patch_does_not(github):
    main = github.git.branch_head("main")
    head = github.git.commit_files(main, {"snowddl/a.yaml": "a: 1\n"}, "a\n", ("A", "a@example.com"))
    github.add_pull("A", "body", "feature", head_sha=head)
    alice = as_user(github, "alice-token")
    alice.get_pull(1).create_review(event="APPROVE")
    # main moves on another file; the same change rebuilt on it has the same patch
    moved = github.git.commit_files(main, {"snowddl/other.yaml": "o: 1\n"}, "o\n", ("B", "b@example.com"))
    github.git.update_ref("refs/heads/main", moved, main)
    same = github.git.commit_files(moved, {"snowddl/a.yaml": "a: 1\n"}, "a\n", ("A", "a@example.com"))
    bot = as_user(github, "bot-token")
    bot._requester.requestJsonAndCheck("PATCH", f"{bot.url}/git/refs/heads/feature", input={"sha": same, "force": True})
    assert [r.commit_id for r in alice.get_pull(1).get_reviews()] == [same]
    other = github.git.commit_files(moved, {"snowddl/a.yaml": "a: 2\n"}, "a\n", ("A", "a@example.com"))
    bot._requester.requestJsonAndCheck("PATCH", f"{bot.url}/git/refs/heads/feature", input={"sha": other, "force": True})
    assert [r.commit_id for r in alice.get_pull(1).get_reviews()] == [same]  # stays on the commit it approved


def test_mergeable_is_null_while_github_computes_it(github):
    main = github.git.branch_head("main")
    head = github.git.commit_files(main, {"snowddl/a.yaml": "a: 1\n"}, "a\n", ("A", "a@example.com"))
    github.add_pull("A", "body", "feature", head_sha=head)
    github.protection = None
    github.mergeable_unknown_reads = 2
    repo = as_user(github, "alice-token")
    seen = [(p.mergeable, p.mergeable_state) for p in (repo.get_pull(1) for _ in range(3))]
    assert seen == [(None, "unknown"), (None, "unknown"), (True, "clean")]


def test_mergeable_state_tells_blocked_behind_and_clean_apart(github):
    main = github.git.branch_head("main")
    head = github.git.commit_files(main, {"snowddl/a.yaml": "a: 1\n"}, "a\n", ("A", "a@example.com"))
    github.add_pull("A", "body", "feature", head_sha=head)
    protect(github, required_checks=("pr-validation",), strict=True)
    repo = as_user(github, "alice-token")
    assert repo.get_pull(1).mergeable_state == "blocked"  # the required check has not reported
    github.set_check(head, "pr-validation", "success")
    assert repo.get_pull(1).mergeable_state == "clean"
    github.git.update_ref("refs/heads/main", github.git.commit_files(main, {"b": "1\n"}, "b\n", ("B", "b@example.com")), main)
    assert (repo.get_pull(1).mergeable, repo.get_pull(1).mergeable_state) == (True, "behind")


def test_the_commit_list_is_paged(github):
    main = github.git.branch_head("main")
    github.git.update_ref("refs/heads/main", github.git.commit_files(main, {"a": "1\n"}, "a\n", ("A", "a@example.com")), main)
    repo = as_user(github, "alice-token")
    status, headers, _ = repo._requester.requestJson("GET", f"{repo.url}/commits", parameters={"per_page": 1})
    assert status == 200 and 'rel="next"' in headers.get("link", "")
    assert len(list(repo.get_commits())) == 2


# -- merging: every 405 told apart, nothing pushed for one that is not a conflict ----------------------

def approved(services, people, new_user_raw, **extra):
    cr = submit(services, people["requester"], new_user_raw(**extra))
    return ApproveRequest(services, people["approver"], cr.id).execute()


def test_a_pending_required_check_says_which_and_pushes_nothing(gh_services, github, people, new_user_raw, sleeps):
    protect(github, required_checks=("pr-validation",))
    cr = approved(gh_services, people, new_user_raw)
    main = github.git.branch_head("main")
    github.reset_calls()
    with pytest.raises(MergeBlocked, match="waiting for check pr-validation"):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    pushes_nothing(github, cr, main)
    assert gh_services.changes.get(cr.id).status == Status.APPROVED  # approvals untouched
    github.set_check(cr.head_sha, "pr-validation", "success")
    assert MergeRequest(gh_services, people["admin"], cr.id).execute().status == Status.MERGED


def test_a_failing_required_check_says_it_failed_and_pushes_nothing(gh_services, github, people, new_user_raw, sleeps):
    protect(github, required_checks=("pr-validation",))
    cr = approved(gh_services, people, new_user_raw)
    github.set_check(cr.head_sha, "pr-validation", "failure")
    main = github.git.branch_head("main")
    github.reset_calls()
    with pytest.raises(MergeBlocked, match="required check pr-validation failed"):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    pushes_nothing(github, cr, main)


def test_a_missing_required_review_says_so_until_an_approver_approves_on_github(gh_services, github, people, new_user_raw, sleeps):
    protect(github, required_approving_reviews=1)  # and no bypass for the portal
    cr = approved(gh_services, people, new_user_raw)
    main = github.git.branch_head("main")
    github.reset_calls()
    with pytest.raises(MergeBlocked, match=r"requires approving reviews on GitHub \(At least 1 approving review is required"):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    pushes_nothing(github, cr, main)
    as_user(github, "alice-token").get_pull(cr.id).create_review(event="APPROVE")  # alice: the approver's GitHub account
    assert MergeRequest(gh_services, people["admin"], cr.id).execute().status == Status.MERGED


def test_a_disabled_merge_method_says_what_to_enable(gh_services, github, people, new_user_raw, sleeps):
    github.merge_methods = {"merge", "rebase"}
    cr = approved(gh_services, people, new_user_raw)
    main = github.git.branch_head("main")
    github.reset_calls()
    with pytest.raises(MergeBlocked, match="Squash merges are not allowed on this repository.*allow squash merging"):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    pushes_nothing(github, cr, main)


def test_the_passing_base_branch_was_modified_is_retried_with_bounded_back_off(gh_services, github, people, new_user_raw, sleeps):
    cr = approved(gh_services, people, new_user_raw)
    github.fail("PUT", r"/merge$", "405-base-modified", times=2)
    assert MergeRequest(gh_services, people["admin"], cr.id).execute().status == Status.MERGED
    assert len(sleeps) == 2 and sleeps[1] == 2 * sleeps[0]


def test_a_lasting_base_branch_was_modified_gives_up_and_pushes_nothing(gh_services, github, people, new_user_raw, sleeps):
    cr = approved(gh_services, people, new_user_raw)
    github.fail("PUT", r"/merge$", "405-base-modified", times=100)
    main = github.git.branch_head("main")
    github.reset_calls()
    with pytest.raises(MergeBlocked, match="try again in a moment"):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    pushes_nothing(github, cr, main)
    attempts = gh_services.changes.cfg.attempts
    assert [c for c in github.calls if c[0] == "PUT"] == [("PUT", f"/api/v3/repos/{github.full_name}/pulls/{cr.id}/merge")] * attempts
    assert len(sleeps) == attempts - 1


def test_a_merge_whose_head_moved_meanwhile_is_refused_not_rebuilt(gh_services, github, people, new_user_raw, sleeps):
    cr = approved(gh_services, people, new_user_raw)
    github.fail("PUT", r"/merge$", "409")
    main = github.git.branch_head("main")
    github.reset_calls()
    with pytest.raises(HeadMoved, match="changed on GitHub while merging"):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    pushes_nothing(github, cr, main)


def test_a_merge_waits_while_github_computes_mergeability(gh_services, github, people, new_user_raw, sleeps):
    cr = approved(gh_services, people, new_user_raw)
    github.recompute(2)  # the next two reads of the pull request answer mergeable: null
    assert gh_services.changes.merge(cr, people["admin"]).status == Status.MERGED
    assert len(sleeps) == 2 and sleeps[1] == 2 * sleeps[0]


def test_under_strict_protection_a_moved_base_is_caught_up_and_unchanged_approvals_on_github_stand(gh_services, github, people,
                                                                                                  new_user_raw, sleeps):
    # Required: one approving review on GitHub and branches up to date. Both requests are approved on
    # GitHub by alice (the portal's "approver"); merging the first moves main under the second.
    protect(github, required_approving_reviews=1, strict=True)
    first = submit(gh_services, people["requester"], new_user_raw("first_user"))
    why = {"justification": "Month-end close needs more compute."}
    second = submit(gh_services, people["requester"], {"name": "ANALYST_WH", "size": "LARGE", **why}, "change-warehouse")
    alice = as_user(github, "alice-token")
    for cr in (first, second):
        alice.get_pull(cr.id).create_review(event="APPROVE")
    assert MergeRequest(gh_services, people["admin"], first.id).execute().status == Status.MERGED
    merged = MergeRequest(gh_services, people["admin"], second.id).execute()
    assert merged.status == Status.MERGED
    on_main = yaml.safe_load(github.read("main", "snowddl/warehouse.yaml"))
    assert on_main["ANALYST_WH"]["size"] == "LARGE" and "FIRST_USER" in yaml.safe_load(github.read("main", "snowddl/user.yaml"))


# -- rebuilds and resumes ------------------------------------------------------------------------------

def test_an_update_github_will_not_finish_leaves_the_request_readable_and_withdrawable(gh_services, github, people, new_user_raw):
    from app.operations import ResubmitRequest, RequestChanges

    cr = submit(gh_services, people["requester"], new_user_raw())
    RequestChanges(gh_services, people["approver"], cr.id, "Use DATA_SCIENTIST").execute()
    github.fail("PATCH", r"/git/refs/heads/", "422", times=1000)  # GitHub refuses to move the branch, for good
    with pytest.raises(ChangeError, match="GitHub refused"):
        ResubmitRequest(gh_services, people["requester"], cr.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    after = gh_services.changes.get(cr.id)  # readable: no traceback, the resubmit counts (earlier decisions void)
    assert after.head_sha == cr.head_sha and after.status == Status.OPEN
    with pytest.raises(ChangeError, match="its last update could not be finished on GitHub.*withdrawn"):
        ApproveRequest(gh_services, people["approver"], cr.id).execute()
    assert WithdrawRequest(gh_services, people["requester"], cr.id).execute().status == Status.WITHDRAWN


def test_a_record_left_by_the_old_order_is_repaired_on_the_next_read(gh_services, github, people, new_user_raw):
    # Before: the signed record named the new head and the review of it was posted before the branch
    # moved; GitHub refused that review, so the branch never moved. The next read finishes it.
    backend = gh_services.changes
    cr = approved(gh_services, people, new_user_raw)
    new_head = backend._commit(cr.base_sha, {"user.yaml": github.read(cr.head_sha, "snowddl/user.yaml")}, "same\n",
                               people["admin"])
    pr = backend.gh_repo.get_pull(cr.id)
    record = {k: v for k, v in meta.extract(pr.body, meta.REQUEST).items() if k != meta.SIGNATURE}
    record.update(head_sha=new_head, prev_head=cr.head_sha,
                  pending={"decision": "rebase", "reason": "Re-applied", "actor": "admin", "actor_name": "Ada Admin"})
    pr.edit(body=meta.visible(pr.body) + "\n\n" + backend._sign(record) + "\n")
    after = backend.get(cr.id)
    assert after.head_sha == new_head == github.git.branch_head(cr.branch) and after.status == Status.APPROVED
    assert [r.decision for r in backend.reviews(after)].count("rebase") == 1
    assert MergeRequest(gh_services, people["admin"], cr.id).execute().status == Status.MERGED


# -- the portal's login ----------------------------------------------------------------------------------

def integration_services(tmp_path, github, monkeypatch, token, login, **settings):
    from app.services import build_services
    from app.settings import load_settings
    from tests.github_support import APPROVERS, fast_retries, write_settings

    github.tokens[token] = login
    github.permissions[login] = "write"
    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", token)
    write_settings(tmp_path / "ws-int", github, github_approvers=APPROVERS, **settings)
    services = fast_retries(build_services(load_settings(tmp_path / "ws-int")))
    github.signing_key = services.changes._signing_key
    return services


@pytest.mark.parametrize("token", ["ghs_installation_token", "plain-integration-token"])
def test_an_integration_token_without_a_configured_login_is_refused_before_anything_is_written(tmp_path, github, monkeypatch,
                                                                                              people, new_user_raw, token):
    services = integration_services(tmp_path, github, monkeypatch, token, "snowtower[bot]")
    branches = github.branches()
    with pytest.raises(ChangeError, match="set github_portal_login"):
        submit(services, people["requester"], new_user_raw())
    assert github.pulls == {} and github.branches() == branches
    assert ("GET", "/api/v3/user") not in github.calls or not token.startswith("ghs_")  # ghs_: not even asked


def test_an_integration_token_with_its_login_in_the_settings_submits_and_never_asks_get_user(tmp_path, github, monkeypatch,
                                                                                             people, new_user_raw):
    services = integration_services(tmp_path, github, monkeypatch, "ghs_installation_token", "snowtower[bot]",
                                    github_portal_login="snowtower[bot]")
    cr = submit(services, people["requester"], new_user_raw())
    assert github.pulls[cr.id].author == "snowtower[bot]" and services.changes.get(cr.id).id == cr.id
    assert ("GET", "/api/v3/user") not in github.calls


# -- bodies over GitHub's limit ---------------------------------------------------------------------------

def test_a_description_longer_than_github_allows_goes_to_comments_and_a_retry_finishes_it(gh_services, github, people):
    backend = gh_services.changes
    long = "**Plan:**\n\n" + "".join(f"GRANT ROLE R_{i:05d} TO USER U;\n" for i in range(5000))  # 150,000 characters
    assert len(long) > 2 * BODY_LIMIT
    args = dict(recipe="bulk", title="A long plan", body=long, requester=people["requester"], justification="j",
                request={"n": 1}, files={"a.yaml": "a: 1\n"}, base_sha=backend.base_head(), validation={"valid": True})
    fault = github.fail("POST", r"/issues/\d+/comments$", "500", times=100)
    with pytest.raises(ChangeError, match="Submit again to finish it"):
        backend.open(**args)
    fault.times = 0
    cr = backend.open(**args)  # the same request: resumed, not opened twice
    [pr] = github.open_pulls()
    assert cr.id == pr.number and len(pr.body) <= BODY_LIMIT
    assert "A long plan" in pr.body and "Read the full description](" in pr.body
    parts = [c for c in pr.comments if "snowtower-details" in c["body"]]
    assert len(parts) == 3 and all(len(c["body"]) <= BODY_LIMIT for c in parts)
    assert "".join(c["body"] for c in parts).count("GRANT ROLE") == 5000
    assert backend.get(cr.id).title == "A long plan"  # the record still verifies
    backend.open(**args)  # once more: nothing is posted twice
    assert len([c for c in github.pulls[cr.id].comments if "snowtower-details" in c["body"]]) == 3
