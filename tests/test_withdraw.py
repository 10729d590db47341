"""Requesters withdraw their own open requests (local git + SQLite, and GitHub through the test server);
a request identical to an open one is not submitted twice without the requester saying so."""
from __future__ import annotations

import pytest

from app.operations import (ApproveRequest, MergeRequest, PreviewRequest, RejectRequest, RequestChanges, SubmitRequest,
                            WithdrawRequest)
from core.changes.base import AlreadyResolved, ChangeError, DuplicateRequest
from core.changes.model import Status
from recipes import RECIPES
from tests.github_support import github, github_template, gh_services  # noqa: F401 (fixtures)

RECIPE = RECIPES["new-user"]


def submit(services, actor, raw, **kwargs):
    preview = PreviewRequest(services, RECIPE, raw).execute()
    return SubmitRequest(services, actor, RECIPE, raw, preview.base_sha, **kwargs).execute()


def audit(services, action):
    return [(r.actor, r.outcome, r.reason) for r in reversed(services.audit.search()) if r.action == action]  # oldest first


def test_the_requester_withdraws_their_open_request(services, people, new_user_raw):
    cr = submit(services, people["requester"], new_user_raw())
    RequestChanges(services, people["approver"], cr.id, "which team?").execute()  # sent back: still open
    done = WithdrawRequest(services, people["requester"], cr.id, "Jane no longer joins.").execute()
    assert done.status == Status.WITHDRAWN and services.changes.get(cr.id).status == Status.WITHDRAWN
    events = services.changes.events(cr)
    assert (events[-1].action, events[-1].actor, events[-1].detail) == ("withdrawn", "requester", "Jane no longer joins.")
    assert audit(services, "withdraw") == [("requester", "ok", "")]
    # It left the queue, and nothing more can happen to it.
    assert cr.id not in [c.id for c in services.changes.list(statuses=[Status.OPEN, Status.CHANGES_REQUESTED, Status.APPROVED])]
    with pytest.raises(AlreadyResolved, match=f"#{cr.id} is already withdrawn by requester"):
        ApproveRequest(services, people["approver"], cr.id).execute()
    with pytest.raises(AlreadyResolved):
        WithdrawRequest(services, people["requester"], cr.id).execute()
    with pytest.raises(AlreadyResolved):
        MergeRequest(services, people["admin"], cr.id).execute()
    assert "JANE_DOE" not in services.changes.repo.read_text("main", "snowddl/user.yaml")


@pytest.mark.parametrize("who", ["approver", "admin"])
def test_nobody_else_withdraws_a_request(services, people, new_user_raw, who):
    cr = submit(services, people["requester"], new_user_raw())
    with pytest.raises(ChangeError, match="only requester can withdraw"):
        WithdrawRequest(services, people[who], cr.id).execute()
    assert services.changes.get(cr.id).status == Status.OPEN
    assert audit(services, "withdraw") == [(who, "refused", f"only requester can withdraw #{cr.id}; a reviewer can reject it instead.")]


def test_a_merged_or_rejected_request_cannot_be_withdrawn(services, people, new_user_raw):
    merged = submit(services, people["requester"], new_user_raw("first"))
    ApproveRequest(services, people["approver"], merged.id).execute()
    MergeRequest(services, people["admin"], merged.id).execute()
    rejected = submit(services, people["requester"], new_user_raw("second"))
    RejectRequest(services, people["approver"], rejected.id, "no").execute()
    for cr, state in ((merged, "deployed"), (rejected, "rejected")):
        with pytest.raises(AlreadyResolved, match=f"already {state}"):
            WithdrawRequest(services, people["requester"], cr.id).execute()
    assert [o for _, o, _ in audit(services, "withdraw")] == ["refused", "refused"]


def test_a_withdrawal_only_counts_from_the_requester_in_the_status_rule():
    from core.changes.approval import status_from_reviews
    from core.changes.model import Review

    def review(who, decision):
        return Review(1, who, decision, "", "2026-01-01T00:00:00+00:00", "h1")
    assert status_from_reviews([review("mallory", "withdraw")], "riley", 1, "h1") == Status.OPEN
    assert status_from_reviews([review("avery", "approve"), review("Riley", "withdraw")], "riley", 1, "h1") == Status.WITHDRAWN


def test_withdrawing_a_pull_request_closes_it_on_github(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    done = WithdrawRequest(gh_services, people["requester"], cr.id, "not needed").execute()
    assert done.status == Status.WITHDRAWN
    [pr] = github.pulls.values()
    assert pr.state == "closed" and not pr.merged and "withdrawn" in pr.labels
    assert cr.branch not in github.branches()
    # Read back fresh (listing and one request) it is withdrawn, not rejected.
    assert gh_services.changes.get(cr.id).status == Status.WITHDRAWN
    assert [c.status for c in gh_services.changes.list()] == [Status.WITHDRAWN]
    assert ("requester", "withdrawn", "not needed") in [(e.actor, e.action, e.detail) for e in gh_services.changes.events(cr)]
    with pytest.raises(AlreadyResolved, match="already withdrawn by requester"):
        ApproveRequest(gh_services, people["approver"], cr.id).execute()


def test_a_withdrawal_that_github_cut_off_is_finished_by_the_next_read(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    github.fail("PATCH", rf"/pulls/{cr.id}$", "500", times=10)  # the decision is posted; closing keeps failing
    with pytest.raises(ChangeError):
        WithdrawRequest(gh_services, people["requester"], cr.id).execute()
    [pr] = github.pulls.values()
    assert pr.state == "open"
    github.faults.clear()
    # The decision is on the PR, signed: the next read shows it withdrawn and finishes the close.
    assert gh_services.changes.get(cr.id).status == Status.WITHDRAWN
    assert pr.state == "closed" and "withdrawn" in pr.labels and cr.branch not in github.branches()
    assert [o for _, o, _ in audit(gh_services, "withdraw")] == ["refused"]  # GitHub unavailable: said so, nothing lost


def test_a_new_pull_request_asks_the_mapped_approvers_for_review(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    # alice is the approver's GitHub login; riley is the requester's own: never asked.
    assert github.pulls[cr.id].requested_reviewers == ["alice"]
    other = submit(gh_services, people["approver"], new_user_raw("bob"))
    assert github.pulls[other.id].requested_reviewers == []  # the approver's own request: not alice


def test_a_failing_review_request_leaves_the_pull_request_open(gh_services, github, people, new_user_raw, caplog):
    github.fail("POST", r"/requested_reviewers$", "422", times=10)
    cr = submit(gh_services, people["requester"], new_user_raw())
    assert gh_services.changes.get(cr.id).status == Status.OPEN and github.pulls[cr.id].requested_reviewers == []
    assert "review requests on" in caplog.text


def test_an_identical_open_request_warns_and_names_it(services, people, new_user_raw):
    first = submit(services, people["requester"], new_user_raw())
    # The same change, asked by someone else with other words: refused, pointing at the open one.
    with pytest.raises(DuplicateRequest, match=f"#{first.id} \\(New person user JANE_DOE\\), requested by requester, "
                                               "is still open and asks for the same change") as caught:
        submit(services, people["approver"], new_user_raw(justification="Other words, same change."))
    assert caught.value.existing.id == first.id
    assert len(services.store.list()) == 1
    assert [o for _, o, _ in audit(services, "submit")] == ["ok", "refused"]
    # Another change by the same recipe is not a duplicate; nor is the same change once the first left the queue.
    other = submit(services, people["requester"], new_user_raw("john_roe"))
    assert other.id != first.id
    again = submit(services, people["requester"], new_user_raw(), allow_duplicate=True)  # on purpose
    assert again.id not in (first.id, other.id)
    WithdrawRequest(services, people["requester"], first.id).execute()
    WithdrawRequest(services, people["requester"], again.id).execute()
    assert submit(services, people["requester"], new_user_raw()).status == Status.OPEN


def test_on_github_the_same_request_again_resumes_it_instead_of_warning(gh_services, github, people, new_user_raw):
    first = submit(gh_services, people["requester"], new_user_raw())
    # The same requester, the same request: a retry (after a fault, a double click) finishes the first one.
    assert submit(gh_services, people["requester"], new_user_raw()).id == first.id
    # Someone else asking for the same change is warned about the open one.
    with pytest.raises(DuplicateRequest, match=f"#{first.id} "):
        submit(gh_services, people["approver"], new_user_raw(justification="Same change, other words."))
    assert len(github.pulls) == 1


def test_the_same_line_for_someone_else_is_not_a_duplicate(services, people):
    grant = RECIPES["grant-role"]
    users = sorted(services.snapshot().config.users)[:2]
    opened = []
    for name in users:  # both add "    - BI_TOOL" to user.yaml: the same changed line, for two users
        raw = {"name": name, "business_roles": ["BI_TOOL"], "justification": "Needs the BI tool."}
        preview = PreviewRequest(services, grant, raw).execute()
        opened.append(SubmitRequest(services, people["requester"], grant, raw, preview.base_sha).execute())
    assert [cr.title for cr in opened] == [f"Grant BI_TOOL to {name}" for name in users]


def test_the_duplicate_warning_names_someone_else_s_request_only_to_its_requester_and_reviewers(services, people, new_user_raw):
    # Found by probing the duplicate check: any requester who typed the same fields was told who asked for
    # them and the title of their request, which only its requester and the reviewers may see.
    from core.changes.model import Actor
    from tests.identity_support import give_login

    other = Actor("casey", "Casey Curious", "casey@snowtower.example", ("requester",))
    give_login(services.workspace.auth_path, other)
    first = submit(services, people["requester"], new_user_raw())
    with pytest.raises(DuplicateRequest) as caught:
        submit(services, other, new_user_raw(justification="Just looking."))
    message = str(caught.value)
    assert message == (f"an open request (#{first.id}) already asks for the same change; nothing was submitted. "
                       "Follow it with its requester, or submit yours anyway.")
    assert "requester" not in message.split(";")[0] and "JANE_DOE" not in message
    assert audit(services, "submit")[-1] == ("casey", "refused", message)
    # Its requester and the reviewers still see which request it is, and whose.
    for who in ("requester", "approver"):
        with pytest.raises(DuplicateRequest, match=f"#{first.id} \\(New person user JANE_DOE\\), requested by requester"):
            submit(services, people[who], new_user_raw(justification="Again, the same change."))
