"""20 requests against the same user.yaml, opened in parallel, all merge in any order and none is lost:
against the GitHub test server (real PyGithub over HTTP) and against the local git backend."""
import random
from concurrent.futures import ThreadPoolExecutor

import yaml

from core.changes.base import BaseMoved, ChangeError
from core.changes.model import Status
from app.operations import ApproveRequest, MergeRequest, SubmitRequest
from recipes import RECIPES
from tests.github_support import github, github_template, gh_services  # noqa: F401 (fixtures)

RECIPE = RECIPES["new-user"]
N = 20


def open_and_merge_all(services, people, new_user_raw):
    names = [f"parallel_user_{i:02d}" for i in range(N)]
    base = services.changes.base_head()
    services.snapshot(base)  # the base config once, before the threads start

    def open_one(name):
        raw = new_user_raw(name)
        return SubmitRequest(services, people["requester"], RECIPE, raw, base).execute()

    with ThreadPoolExecutor(N) as pool:
        opened = list(pool.map(open_one, names))
    assert len({cr.id for cr in opened}) == N
    for cr in opened:
        ApproveRequest(services, people["approver"], cr.id).execute()

    order = [cr.id for cr in opened]
    random.Random(7).shuffle(order)

    def merge_one(request_id):
        # An admin whose merge lost the race to another merge just clicks again.
        for _ in range(2 * N):
            try:
                return MergeRequest(services, people["admin"], request_id).execute()
            except BaseMoved:
                continue
            except ChangeError as exc:
                if "changed" not in str(exc) and "moved" not in str(exc):
                    raise
        raise AssertionError(f"#{request_id} never merged")

    with ThreadPoolExecutor(2) as pool:  # two admins merging at once, in a shuffled order
        merged = list(pool.map(merge_one, order))
    assert all(cr.status in (Status.MERGED, Status.DEPLOYED) for cr in merged)
    return names


def test_20_parallel_requests_all_merge_on_github(gh_services, github, people, new_user_raw):
    names = open_and_merge_all(gh_services, people, new_user_raw)
    users = yaml.safe_load(github.read("main", "snowddl/user.yaml"))
    assert {n.upper() for n in names} <= set(users)
    assert github.open_pulls() == [] and github.branches() == ["main"]
    # One squash commit per request on main, nothing else.
    assert github.git.git("rev-list", "--count", "main").strip() == str(1 + N)


def test_20_parallel_requests_all_merge_locally(services, people, new_user_raw):
    names = open_and_merge_all(services, people, new_user_raw)
    users = yaml.safe_load(services.changes.repo.read_text("main", "snowddl/user.yaml"))
    assert {n.upper() for n in names} <= set(users)
    assert services.changes.repo.git("rev-list", "--count", "main").strip() == str(1 + N)
