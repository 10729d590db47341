"""Faults at every step of opening, reviewing and merging: no half state, no duplicate PR, a clear message."""
import time

import pytest

from core.changes.base import ChangeError
from core.changes.github import GitHubUnavailable
from core.changes.model import Status
from app.operations import ApproveRequest, MergeRequest, PreviewRequest, SubmitRequest
from recipes import RECIPES
from tests.github_support import fast_retries, github, github_template, write_settings  # noqa: F401 (fixtures)

RECIPE = RECIPES["new-user"]

# Every call of opening a PR, in order (paths after /api/v3).
OPEN_STEPS = {
    "find open PR": ("GET", r"/pulls$"),
    "read base head": ("GET", r"/git/refs?/heads/main$"),
    "read base commit": ("GET", r"/git/commits/[0-9a-f]{40}$"),
    "write tree": ("POST", r"/git/trees$"),
    "write commit": ("POST", r"/git/commits$"),
    "create branch": ("POST", r"/git/refs$"),
    "open PR": ("POST", r"/pulls$"),
    "label PR": ("POST", r"/labels$"),
}


def submit(services, actor, raw):
    preview = PreviewRequest(services, RECIPE, raw).execute()
    return SubmitRequest(services, actor, RECIPE, raw, preview.base_sha).execute()


def assert_no_half_state(server, expect_prs: int):
    """Every branch but main has an open PR, and there are exactly `expect_prs` PRs."""
    assert len(server.pulls) == expect_prs
    with_pr = {p.head for p in server.open_pulls()}
    assert set(server.branches()) - {"main"} == with_pr


@pytest.fixture
def ready(tmp_path, github, people, new_user_raw, monkeypatch):
    """Services with a 2 s time-out per request (the server's "timeout" fault answers after 2.5 s), and
    the base config already downloaded, so faults hit only the opening calls."""
    from app.services import build_services
    from app.settings import load_settings

    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "bot-token")
    write_settings(tmp_path / "ws-faults", github, github_timeout=2)
    services = fast_retries(build_services(load_settings(tmp_path / "ws-faults")))
    PreviewRequest(services, RECIPE, new_user_raw()).execute()
    return services


def test_a_transient_fault_at_any_step_is_retried_and_opens_exactly_one_pr(ready, github, people, new_user_raw):
    for n, (step, (method, path)) in enumerate(OPEN_STEPS.items(), start=1):
        # Reads fail before answering; writes take effect and then their answer is lost (the hard case).
        fault = github.fail(method, path, "500" if method == "GET" else "502", times=1, after=method != "GET")
        cr = submit(ready, people["requester"], new_user_raw(f"user_{n}"))
        assert fault.hits == 1, step
        assert_no_half_state(github, n)
        assert github.pulls[cr.id].labels == ["snowtower", "new-user"], step


def test_a_fault_before_a_write_is_retried_too(ready, github, people, new_user_raw):
    for n, step in enumerate(["write tree", "create branch", "open PR"], start=1):
        method, path = OPEN_STEPS[step]
        fault = github.fail(method, path, "500", times=1)
        submit(ready, people["requester"], new_user_raw(f"user_{n}"))
        assert fault.hits == 1, step
        assert_no_half_state(github, n)


def test_a_time_out_is_retried(ready, github, people, new_user_raw):
    steps = ["read base head", "open PR"]
    for n, step in enumerate(steps, start=1):
        method, path = OPEN_STEPS[step]
        # On the writes, the request takes effect and only the answer is lost: the worst case.
        fault = github.fail(method, path, "timeout", times=1, after=step in ("create branch", "open PR"))
        cr = submit(ready, people["requester"], new_user_raw(f"user_{n}"))
        assert fault.hits == 1 and cr.status == Status.OPEN, step
        assert_no_half_state(github, n)


def test_a_lasting_failure_leaves_nothing_behind_and_a_retry_opens_one_pr(ready, github, people, new_user_raw):
    for n, (step, (method, path)) in enumerate(OPEN_STEPS.items(), start=1):
        fault = github.fail(method, path, "500", times=100)
        with pytest.raises(ChangeError) as exc:
            submit(ready, people["requester"], new_user_raw(f"user_{n}"))
        message = str(exc.value)
        assert "GitHub" in message and "Traceback" not in message, step
        if step == "label PR":
            # The PR is complete but for its labels; the message says a retry finishes it.
            assert "Submit again" in message
            assert_no_half_state(github, n)
        else:
            assert "nothing was left half-done" in message, step
            assert_no_half_state(github, n - 1)
        fault.times = 0
        cr = submit(ready, people["requester"], new_user_raw(f"user_{n}"))
        assert_no_half_state(github, n)
        assert github.pulls[cr.id].labels == ["snowtower", "new-user"], step


def test_orphan_branch_whose_cleanup_failed_is_resumed_on_retry(ready, github, people, new_user_raw):
    github.fail("POST", r"/pulls$", "500", times=100)
    github.fail("DELETE", r"/git/refs/heads/", "500", times=100)
    with pytest.raises(GitHubUnavailable):
        submit(ready, people["requester"], new_user_raw())
    assert len(github.branches()) == 2 and github.pulls == {}  # the branch is left: cleanup failed too
    github.faults.clear()
    cr = submit(ready, people["requester"], new_user_raw())
    assert_no_half_state(github, 1)
    assert github.branches() == ["main", cr.branch]


def test_a_refusal_is_not_retried_and_says_so(ready, github, people, new_user_raw):
    for n, (step, status) in enumerate([("write commit", "409"), ("create branch", "422"), ("open PR", "422")], start=1):
        method, path = OPEN_STEPS[step]
        fault = github.fail(method, path, status, times=1)
        with pytest.raises(ChangeError, match=f"GitHub refused .*{status}"):
            submit(ready, people["requester"], new_user_raw(f"user_{n}"))
        assert fault.hits == 1, step
        assert_no_half_state(github, n - 1)
        submit(ready, people["requester"], new_user_raw(f"user_{n}"))
        assert_no_half_state(github, n)


def test_a_rate_limit_with_a_near_reset_waits_for_it(ready, github, people, new_user_raw):
    fault = github.fail("POST", r"/git/trees$", "ratelimit", times=1)
    started = time.monotonic()
    submit(ready, people["requester"], new_user_raw())
    assert fault.hits == 1 and time.monotonic() - started >= 0.5  # it slept until the reset, then went on
    assert_no_half_state(github, 1)


def test_a_rate_limit_with_a_far_reset_tells_the_user_when(ready, github, people, new_user_raw):
    github.fail("POST", r"/git/commits$", "ratelimit-long", times=1)
    with pytest.raises(GitHubUnavailable, match=r"rate limit is spent.*Try again after \d\d:\d\d:\d\d UTC"):
        submit(ready, people["requester"], new_user_raw())
    assert_no_half_state(github, 0)


def test_faults_while_reviewing_and_merging(ready, github, people, new_user_raw):
    cr = submit(ready, people["requester"], new_user_raw())
    # The review is posted but its answer is lost: the retry checks first, so there is one review.
    github.fail("POST", r"/reviews$", "502", after=True)
    ApproveRequest(ready, people["approver"], cr.id).execute()
    assert len(github.pulls[cr.id].reviews) == 1
    # The merge happens but its answer is lost: the retry sees it merged and does not fail.
    github.fail("PUT", r"/merge$", "502", after=True)
    merged = MergeRequest(ready, people["admin"], cr.id).execute()
    assert merged.status == Status.MERGED and github.pulls[cr.id].merged


def test_a_lasting_failure_while_merging_leaves_main_untouched(ready, github, people, new_user_raw):
    cr = submit(ready, people["requester"], new_user_raw())
    ApproveRequest(ready, people["approver"], cr.id).execute()
    main = github.git.branch_head("main")
    github.fail("PUT", r"/merge$", "500", times=100)
    with pytest.raises(GitHubUnavailable, match="while merging"):
        MergeRequest(ready, people["admin"], cr.id).execute()
    assert github.git.branch_head("main") == main
    assert ready.changes.get(cr.id).status == Status.APPROVED


def test_faults_while_re_applying_on_a_moved_main(ready, github, people, new_user_raw):
    import yaml

    first = submit(ready, people["requester"], new_user_raw("first_user"))
    second = submit(ready, people["requester"], new_user_raw("second_user"))
    for cr in (first, second):
        ApproveRequest(ready, people["approver"], cr.id).execute()
    MergeRequest(ready, people["admin"], first.id).execute()
    # Moving the branch is answered with a lost response; then updating the PR body fails for good.
    github.fail("PATCH", r"/git/refs/heads/snowtower/", "502", after=True)
    body_fault = github.fail("PATCH", r"/pulls/\d+$", "500", times=100)
    with pytest.raises(GitHubUnavailable):
        MergeRequest(ready, people["admin"], second.id).execute()
    assert "SECOND_USER" not in yaml.safe_load(github.read("main", "snowddl/user.yaml"))
    body_fault.times = 0
    merged = MergeRequest(ready, people["admin"], second.id).execute()  # the admin tries again: it resumes
    assert merged.status == Status.MERGED
    users = yaml.safe_load(github.read("main", "snowddl/user.yaml"))
    assert {"FIRST_USER", "SECOND_USER"} <= set(users)
    assert_no_half_state(github, 2)


def test_a_comment_is_recorded_once_even_when_its_answer_is_lost(ready, github, people, new_user_raw):
    cr = submit(ready, people["requester"], new_user_raw())
    github.fail("POST", r"/reviews$", "502", after=True)
    ready.changes.comment(cr, people["approver"], "Is ANALYST enough?")
    assert len(github.pulls[cr.id].reviews) == 1
    assert ready.changes.get(cr.id).status == Status.OPEN
    assert [(e.action, e.detail) for e in ready.changes.events(cr)][-1] == ("commented", "Is ANALYST enough?")
