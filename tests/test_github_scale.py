"""Listing change requests on GitHub costs a bounded number of API calls whatever the history
(docs/github.md, "Listing at scale"): real PyGithub over HTTP against the test server, whose call and
rate-limit counts are the behaviour under test (no timing here: benchmarks/github_list.py)."""
import dataclasses
import math
from pathlib import Path

import pytest

from core.changes.base import ChangeError
from core.changes.github.cache import CachedAnswer, ConditionalCache
from core.changes.model import Status
from app.operations import ApproveRequest
from tests.github_support import gh_services, github, github_template, seed_history  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]

QUEUE = [Status.OPEN, Status.CHANGES_REQUESTED, Status.APPROVED]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def backend(gh_services):
    changes = gh_services.changes
    changes._clock = Clock()
    changes.portal_login  # noqa: B018 - learned once per process (GET /user), not part of any listing
    return changes


def calls(server) -> list[tuple[str, str]]:
    return [(m, p.removeprefix("/api/v3/repos/acme/snowflake-infra")) for m, p in server.calls]


def not_portal(server):
    """Open pull requests that carry a request block but are not the portal's: from another branch,
    and from a fork's branch named like the portal's."""
    main = server.git.branch_head("main")
    body = "<!-- snowtower:request {\"requester\": \"requester\", \"recipe\": \"new-user\"} -->"
    server.add_pull("Sneaky", body, "feature/sneaky", head_sha=main)
    server.add_pull("From a fork", body, "snowtower/fork", head_sha=main, head_owner="mallory")


@pytest.mark.parametrize("history", [0, 250])
def test_the_queue_costs_one_free_call_when_nothing_changed_whatever_the_history(backend, github, history):
    seed_history(github, closed=history, opened=3)
    not_portal(github)
    total = history + 3 + 2
    github.reset_calls()
    queue = backend.list(statuses=QUEUE)
    assert sorted(cr.title for cr in queue) == [f"New person user USER_{i:04d}" for i in range(history, history + 3)]
    assert all(cr.status == Status.OPEN for cr in queue)
    # First listing of the process: each page of 100 pull requests once, and the reviews of the 3 open ones.
    pages = math.ceil(total / 100)
    assert len(github.calls) == pages + 3, calls(github)
    assert sum("/reviews" in p for _, p in github.calls) == 3

    github.reset_calls()
    again = backend.list(statuses=QUEUE)
    assert [cr.id for cr in again] == [cr.id for cr in queue]
    assert calls(github) == [("GET", "/pulls")]  # whatever the history: one call...
    assert github.rate_cost == 0  # ...answered 304 Not Modified, which costs no rate limit


def test_a_review_shows_in_the_queue_at_once_and_only_its_request_is_read_again(gh_services, backend, github, people):
    numbers = seed_history(github, closed=120, opened=3)
    backend.list(statuses=QUEUE)
    first_open = numbers[120]
    ApproveRequest(gh_services, people["approver"], first_open, "Looks right.").execute()
    github.reset_calls()
    queue = {cr.id: cr.status for cr in backend.list(statuses=QUEUE)}
    assert queue == {numbers[120]: Status.APPROVED, numbers[121]: Status.OPEN, numbers[122]: Status.OPEN}
    # The review moved the PR's updated_at: nothing older than the first page was read, and only the
    # reviewed request's reviews were asked again (conditionally: the approval itself had read them).
    assert calls(github) == [("GET", "/pulls"), ("GET", f"/pulls/{first_open}/reviews")]
    assert github.rate_cost <= 1


def test_reviews_of_unchanged_requests_are_asked_again_after_the_recheck_interval_for_free(gh_services, backend, github, people):
    numbers = seed_history(github, closed=10, opened=3)
    backend.list(statuses=QUEUE)
    backend._clock.now += backend.cfg.recheck_seconds + 1
    github.reset_calls()
    backend.list(statuses=QUEUE)
    assert len(github.calls) == 1 + 3 and github.rate_cost == 0  # every answer a 304

    # Were GitHub ever not to move updated_at for a review (here: an approval made from another portal
    # process, with updated_at put back), the queue would show it after the interval.
    from app.services import build_services

    other = build_services(gh_services.settings)
    pr = github.pulls[numbers[-1]]
    before = pr.updated_at
    ApproveRequest(other, people["approver"], pr.number, "ok").execute()
    pr.updated_at = before
    assert {cr.id: cr.status for cr in backend.list(statuses=QUEUE)}[pr.number] == Status.OPEN
    backend._clock.now += backend.cfg.recheck_seconds + 1
    assert {cr.id: cr.status for cr in backend.list(statuses=QUEUE)}[pr.number] == Status.APPROVED


def test_my_requests_lists_closed_ones_without_reading_them_one_by_one(backend, github):
    numbers = seed_history(github, closed=230, opened=2, requesters=("requester", "someone", "other"))
    github.reset_calls()
    mine = backend.list(requester="requester")
    expected = [n for i, n in enumerate(numbers) if i % 3 == 0]
    assert [cr.id for cr in mine] == sorted(expected, reverse=True)
    statuses = {cr.id: cr.status for cr in mine}
    # Every third request was rejected (i % 3 == 2 never belongs to "requester" here: i % 3 == 0).
    assert {statuses[n] for n in expected[:-1]} == {Status.MERGED} and statuses[numbers[231 - 231 % 3]] == Status.OPEN
    assert len(github.calls) == math.ceil(232 / 100) + 1  # the pages, and the reviews of the one open request

    # The deploy workflow labels an old merged request: it shows as deployed, for one call.
    oldest = github.pulls[expected[0]]
    oldest.labels.append("deployed")
    github.touch(oldest)
    github.reset_calls()
    mine = {cr.id: cr.status for cr in backend.list(requester="requester")}
    assert mine[oldest.number] == Status.DEPLOYED
    assert calls(github) == [("GET", "/pulls")]


def test_the_my_requests_page_reads_each_request_s_history_once_not_on_every_view(backend, github):
    numbers = seed_history(github, closed=60, opened=3, requesters=("requester", "someone"))

    def page_view():  # what pages/my_requests.py asks for
        shown = []
        for cr in backend.list(requester="requester"):
            shown.append((cr.id, cr.status, [e.action for e in backend.events(cr)], backend.diff(cr)))
        return shown

    first = page_view()
    assert len(first) == 32 and {status for _, status, _, _ in first} == {Status.MERGED, Status.REJECTED, Status.OPEN}
    github.reset_calls()
    assert page_view() == first
    assert calls(github) == [("GET", "/pulls")] and github.rate_cost == 0

    # Activity on one request: its history is read again at once, the others are not.
    pr = github.pulls[numbers[-1] if (len(numbers) - 1) % 2 == 0 else numbers[-2]]
    pr.comments.append({"id": 7, "body": "noted", "user": github._user("snowtower-bot"), "created_at": "2099-01-01T00:00:00Z",
                        "updated_at": "2099-01-01T00:00:00Z"})
    github.touch(pr)
    github.reset_calls()
    page_view()
    assert {p for _, p in calls(github)} == {"/pulls", f"/pulls/{pr.number}", f"/pulls/{pr.number}/reviews",
                                             f"/issues/{pr.number}/comments"}
    # After the recheck interval everything is asked again, and every unchanged answer is a free 304.
    backend._clock.now += backend.cfg.recheck_seconds + 1
    github.reset_calls()
    assert page_view()
    assert github.rate_cost == 0


def test_requests_that_leave_the_queue_elsewhere_leave_the_listing(backend, github):
    numbers = seed_history(github, closed=5, opened=3)
    assert len(backend.list(statuses=QUEUE)) == 3
    closed, retargeted = github.pulls[numbers[5]], github.pulls[numbers[6]]
    closed.state, closed.closed_at = "closed", "2099-01-01T00:00:00Z"
    github.touch(closed)
    retargeted.base = "release"
    github.touch(retargeted)
    assert [cr.id for cr in backend.list(statuses=QUEUE)] == [numbers[7]]
    assert {cr.id: cr.status for cr in backend.list()}[closed.number] == Status.REJECTED


def test_a_listing_that_failed_halfway_is_done_again_in_full(backend, github):
    seed_history(github, closed=200, opened=2)
    backend.cfg = dataclasses.replace(backend.cfg, backoff=0.0)
    assert len(backend.list(statuses=QUEUE)) == 2
    # 150 new requests: the next sync needs two pages; the second fails on every attempt.
    seed_history(github, opened=150)
    github.fail("GET", r"/pulls$", "500", times=2 * backend.cfg.attempts, skip=1)
    with pytest.raises(ChangeError, match="GitHub answered 500 while listing pull requests"):
        backend.list(statuses=QUEUE)
    github.faults.clear()
    # The failed sync was not recorded: the first page is read again (not a 304) and so is the second.
    assert len(backend.list(statuses=QUEUE)) == 152


def test_get_reviews_and_diff_are_conditional_requests(gh_services, backend, github, people):
    [number] = seed_history(github, opened=1)
    cr = backend.get(number)
    backend.diff(cr)
    backend.events(cr)
    github.reset_calls()
    assert backend.get(number).id == number
    backend.diff(cr)
    backend.events(cr)
    assert github.calls and github.rate_cost == 0  # still asked (always current), every answer a 304


def test_the_conditional_cache_is_bounded():
    cache = ConditionalCache(max_entries=3)
    for i in range(5):
        cache.put(i, CachedAnswer(f"e{i}", i, 0.0))
    assert len(cache) == 3 and cache.get(0) is None and cache.get(4).payload == 4
    cache.get(2)  # recently used: kept
    cache.put(5, CachedAnswer("e5", 5, 0.0))
    assert cache.get(2) is not None and cache.get(3) is None


def test_pages_viewed_again_cost_no_rate_limit_whatever_the_history(tmp_path, github, monkeypatch, people):
    """The real pages (AppTest) on a repository with 300 closed requests: a second view of each page asks
    GitHub only conditionally (every answer a 304), and My requests and the queue ask once."""
    from streamlit.testing.v1 import AppTest

    from tests.github_support import write_settings
    from tests.portal_support import as_viewer

    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "bot-token")
    write_settings(tmp_path / "ws", github)
    from app.settings import load_settings, signing_key

    seed_history(github, closed=300, opened=3, requesters=("requester", "someone", "other"),
                 key=signing_key(load_settings(tmp_path / "ws")))

    def view(name, actor):
        at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60)
        as_viewer(at, actor)
        at.run()
        assert not at.exception, at.exception
        return at

    for name, actor in (("my_requests", people["requester"]), ("review", people["approver"]), ("home", people["approver"])):
        first = view(name, actor)
        github.reset_calls()
        again = view(name, actor)
        assert [m.value for m in again.markdown] == [m.value for m in first.markdown], name
        assert github.rate_cost == 0, (name, calls(github))
        # Bounded: not one per request in the history. The queue shows each open request's approvals
        # (its PR and reviews, 2 each of the 3 open) and the detail reads the chosen one's again.
        limit = 5 + 2 * 3 if name == "review" else 6
        assert len(github.calls) <= limit, (name, calls(github))
    github.reset_calls()
    view("my_requests", people["requester"])
    assert calls(github) == [("GET", "/pulls")]


def test_a_spent_rate_limit_while_listing_is_a_message_and_the_next_listing_works(backend, github):
    seed_history(github, closed=120, opened=1)
    github.fail("GET", r"/pulls$", "ratelimit-long", skip=1)  # the history's second page
    with pytest.raises(ChangeError, match="rate limit is spent; listing pull requests did not happen. Try again after"):
        backend.list(statuses=QUEUE)
    assert len(backend.list(statuses=QUEUE)) == 1
