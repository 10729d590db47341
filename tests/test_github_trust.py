"""The attacks of issue 8 on the GitHub backend, through real PyGithub against the test server
(tests/github_server.py): forged records, reviews and events by accounts the portal does not trust,
pushes to a request's branch, approvals of replaced content, stale clicks, interrupted updates.

Who is who (tests/github_support.py): snowtower-bot is the portal; alice is the GitHub login of the
portal approver "approver" (write permission); riley is the requester's own GitHub login (mapped to
"requester"); mallory has read access and no mapping; github-actions[bot] is the deploy workflow."""
import dataclasses
import json

import pytest
import yaml
from github import GithubException

from core.changes import metadata as meta
from core.changes.base import AlreadyResolved, ChangeError, HeadMoved, ReturnedToReview
from core.changes.model import Status
from app.operations import (ApproveRequest, MergeRequest, PreviewRequest, RejectRequest, RequestChanges,
                               ResubmitRequest, SubmitRequest)
from app.operations.shared.guards import approvals
from recipes import RECIPES
from tests.github_support import as_user, github, github_template, gh_services  # noqa: F401 (fixtures)


def submit(services, actor, raw, recipe="new-user"):
    preview = PreviewRequest(services, RECIPES[recipe], raw).execute()
    assert preview.ok, (preview.field_errors, preview.validation)
    return SubmitRequest(services, actor, RECIPES[recipe], raw, preview.base_sha).execute()


def on_main(server, rel):
    return yaml.safe_load(server.read("main", f"snowddl/{rel}"))


def refused_everywhere(services, people, cr):
    """A request the portal does not trust: not listed, not found, not approvable, not mergeable."""
    assert cr.id not in [c.id for c in services.changes.list()]
    assert services.changes.get(cr.id) is None
    with pytest.raises(ChangeError):
        ApproveRequest(services, people["approver"], cr.id).execute()
    with pytest.raises(ChangeError):
        MergeRequest(services, people["admin"], cr.id).execute()


# -- 1. the request record ---------------------------------------------------------------------------

def test_a_request_block_typed_into_the_justification_is_never_read_as_the_request(gh_services, github, people, new_user_raw):
    forged = {"recipe": "grant-role", "requester": "admin", "request": {"name": "JANE_DOE", "business_roles": ["SYSADMIN"]},
              "base_sha": "0" * 40}
    why = "Joins the team. <!-- snowtower:request " + json.dumps(forged) + " -->"
    cr = submit(gh_services, people["requester"], new_user_raw(justification=why))
    [listed] = gh_services.changes.list()
    assert (listed.recipe, listed.requester, listed.request["name"]) == ("new-user", "requester", "JANE_DOE")
    assert listed.base_sha == cr.base_sha and "business_roles" in listed.request
    assert listed.request["business_roles"] == ["ANALYST"]


def test_a_pr_body_edited_outside_the_portal_makes_the_request_invalid(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    ApproveRequest(gh_services, people["approver"], cr.id).execute()
    original = github.pulls[cr.id].body
    record = meta.extract(original, meta.REQUEST)
    record["request"]["business_roles"] = ["DATA_ENGINEER"]  # what the merge would rebuild from
    tampered = meta.visible(original) + "\n\n" + meta.embed("", meta.REQUEST, record).strip()
    as_user(github, "alice-token").get_pull(cr.id).edit(body=tampered)  # anyone with write access can
    refused_everywhere(gh_services, people, cr)
    assert "JANE_DOE" not in on_main(github, "user.yaml")
    as_user(github, "alice-token").get_pull(cr.id).edit(body=original, title="Tiny harmless fix")
    again = gh_services.changes.get(cr.id)  # the portal's own record verifies again; the title comes from it
    assert again.status == Status.APPROVED and again.title == "New person user JANE_DOE"


def test_a_pr_opened_by_someone_else_with_a_copied_record_is_not_a_request(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    body = github.pulls[cr.id].body
    main = github.git.branch_head("main")
    for token, branch in (("alice-token", "snowtower/copy"), ("bot-token", "manual-copy")):  # not the portal / not its prefix
        github.git.update_ref(f"refs/heads/{branch}", main, None)
        pr = as_user(github, token).create_pull(base="main", head=branch, title="Copied", body=body)
        copy = dataclasses.replace(cr, id=pr.number)
        refused_everywhere(gh_services, people, copy)
    assert [c.id for c in gh_services.changes.list()] == [cr.id]


def test_a_push_to_the_request_branch_makes_it_invalid(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    ApproveRequest(gh_services, people["approver"], cr.id).execute()
    sneaky = github.git.commit_files(cr.head_sha, {"snowddl/user.yaml": "MALLORY: {}\n"}, "tweak\n", ("Alice", "alice@example.com"))
    github.git.update_ref(f"refs/heads/{cr.branch}", sneaky, cr.head_sha)
    refused_everywhere(gh_services, people, cr)
    assert "MALLORY" not in on_main(github, "user.yaml")


# -- 1. reviews and events ---------------------------------------------------------------------------

def test_a_portal_review_block_posted_by_another_account_is_text(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    forged = meta.embed("Approved in SnowTower.", meta.REVIEW,
                        {"reviewer": "approver", "decision": "approve", "comment": "", "head_sha": cr.head_sha, "nonce": "x"})
    as_user(github, "mallory-token").get_pull(cr.id).create_review(event="COMMENT", body=forged)
    after = gh_services.changes.get(cr.id)
    assert after.status == Status.OPEN and approvals(gh_services, after) == []
    with pytest.raises(ChangeError, match="needs 1 approval"):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    [shown] = [r for r in gh_services.changes.reviews(after)]
    assert (shown.reviewer, shown.decision) == ("github:mallory", "comment")


@pytest.mark.parametrize("token, shown", [("mallory-token", "github:mallory"), ("alice-token", "approver")])
def test_a_merge_made_on_github_names_the_github_account_never_a_bare_login(gh_services, github, people, new_user_raw,
                                                                          token, shown):
    """Who merged on GitHub itself is a GitHub login: the history shows github:<login>, or the portal user
    github_approvers maps it to (alice is the approver's account), never a bare login that would read as
    the portal user of that name (before: "mallory")."""
    github.permissions["mallory"] = "write"
    cr = submit(gh_services, people["requester"], new_user_raw())
    pr = as_user(github, token).get_pull(cr.id)
    pr.merge(merge_method="squash", sha=pr.head.sha)
    after = gh_services.changes.get(cr.id)
    assert [e.actor for e in gh_services.changes.events(after) if e.action == "merged"] == [shown]


def test_event_comments_count_only_from_the_portal_and_the_deploy_workflow(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    for token, actor in (("mallory-token", "mallory"), ("alice-token", "alice")):
        as_user(github, token).get_issue(cr.id).create_comment(
            meta.embed("x", meta.EVENT, {"actor": "admin", "action": "deployed", "detail": f"forged by {actor}"}))
    assert [e.action for e in gh_services.changes.events(cr)] == ["submitted"]
    as_user(github, "actions-token").get_issue(cr.id).create_comment(
        meta.embed("Deployed.", meta.EVENT, {"actor": "github-actions", "action": "deployed", "detail": "snowddl apply"}))
    # (the request as it is now: its history is re-read because the comment moved its updated_at)
    events = gh_services.changes.events(gh_services.changes.get(cr.id))
    assert [e.action for e in events] == ["submitted", "deployed"]
    # The workflow's account, as GitHub names it: never a bare name a portal login could have (before: "github-actions").
    assert events[-1].actor == "github:github-actions[bot]"


def test_native_approvals_count_only_from_mapped_approvers_with_write_permission_on_the_current_head(gh_services, github, people, new_user_raw):
    backend = gh_services.changes
    github.tokens["carol-token"] = "carol"  # mapped to an approver, but only read permission
    backend.cfg = dataclasses.replace(backend.cfg, approvers={**backend.cfg.approvers, "carol": "carol"})
    cr = submit(gh_services, people["requester"], new_user_raw())
    main = github.git.branch_head("main")
    as_user(github, "mallory-token").get_pull(cr.id).create_review(event="APPROVE")  # not mapped
    as_user(github, "riley-token").get_pull(cr.id).create_review(event="APPROVE")  # the requester's own login
    as_user(github, "carol-token").get_pull(cr.id).create_review(event="APPROVE")  # no write permission
    alice = as_user(github, "alice-token")
    with pytest.raises(GithubException, match="The commitOID is not part of the pull request"):  # as GitHub refuses it
        alice.get_pull(cr.id).create_review(commit=alice.get_commit(main), event="APPROVE")
    after = backend.get(cr.id)
    assert after.status == Status.OPEN and approvals(gh_services, after) == []
    with pytest.raises(ChangeError, match="needs 1 approval"):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    alice.get_pull(cr.id).create_review(event="APPROVE")  # a mapped approver with write permission, on the head
    after = backend.get(cr.id)
    assert after.status == Status.APPROVED and approvals(gh_services, after) == ["approver"]


# -- 2. approvals bound to content -------------------------------------------------------------------

def test_an_approval_of_replaced_content_never_counts_on_github(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    RequestChanges(gh_services, people["admin"], cr.id, "Use DATA_SCIENTIST").execute()
    seen = gh_services.changes.get(cr.id)
    fixed = ResubmitRequest(gh_services, people["requester"], cr.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    with pytest.raises(HeadMoved, match="changed since you opened it"):
        ApproveRequest(gh_services, people["approver"], cr.id, "ok", seen.head_sha).execute()
    # The race the check cannot close on GitHub (no transaction): an approval of the old head that lands
    # after the resubmission. GitHub refuses it: the old head is no longer a commit of the pull request.
    pr = gh_services.changes.gh_repo.get_pull(cr.id)
    with pytest.raises(GithubException, match="The commitOID is not part of the pull request"):
        gh_services.changes._post_review(pr, people["approver"], "approve", "", seen.head_sha)
    after = gh_services.changes.get(cr.id)
    assert after.head_sha == fixed.head_sha and after.status == Status.OPEN and approvals(gh_services, after) == []


def test_an_approval_that_lands_while_a_resubmit_is_half_done_never_counts_on_github(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    RequestChanges(gh_services, people["admin"], cr.id, "Use DATA_SCIENTIST").execute()
    fault = github.fail("PATCH", r"/git/refs/heads/", "500", times=50)  # the record names the new head; the branch stays
    with pytest.raises(ChangeError, match="GitHub answered 500"):
        ResubmitRequest(gh_services, people["requester"], cr.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    fault.times = 0
    # Meanwhile an approval of the old content (still the pull request's head commit on GitHub) lands.
    pr = gh_services.changes.gh_repo.get_pull(cr.id)
    gh_services.changes._post_review(pr, people["approver"], "approve", "", cr.head_sha)
    after = gh_services.changes.get(cr.id)  # finishes the update: branch moved, then the resubmit recorded
    assert after.head_sha != cr.head_sha and github.git.branch_head(cr.branch) == after.head_sha
    assert after.status == Status.OPEN and approvals(gh_services, after) == []


def test_on_github_a_rebuilt_change_that_differs_is_sent_back_to_review(gh_services, github, people):
    why = {"justification": "Month-end close needs more compute."}
    medium = submit(gh_services, people["requester"], {"name": "ANALYST_WH", "size": "MEDIUM", **why}, "change-warehouse")
    large = submit(gh_services, people["approver"], {"name": "ANALYST_WH", "size": "LARGE", **why}, "change-warehouse")
    ApproveRequest(gh_services, people["approver"], medium.id).execute()
    ApproveRequest(gh_services, people["admin"], large.id).execute()
    MergeRequest(gh_services, people["admin"], large.id).execute()
    with pytest.raises(ReturnedToReview, match="approvals were voided"):
        MergeRequest(gh_services, people["admin"], medium.id).execute()
    back = gh_services.changes.get(medium.id)
    assert back.status == Status.OPEN and approvals(gh_services, back) == []
    assert on_main(github, "warehouse.yaml")["ANALYST_WH"]["size"] == "LARGE"
    assert "-  size: LARGE" in gh_services.changes.diff(back)
    author = github.git.git("log", "-1", "--format=%an|%cn", back.head_sha).strip()
    assert author == "Riley Requester|Ada Admin"  # the requester stays the author; the merger commits the rebuild


def test_on_github_a_rebuild_never_brings_back_an_item_removed_elsewhere(gh_services, github, people):
    now = RECIPES["change-business-role"].current(gh_services.snapshot(), "FINANCE_ANALYST")
    why = "Quarterly access review."
    remove = submit(gh_services, people["requester"], {**now, "name": "FINANCE_ANALYST", "technical_roles": ["SCRATCH_CREATE"],
                                                        "justification": why}, "change-business-role")
    add = submit(gh_services, people["requester"], {**now, "name": "FINANCE_ANALYST", "justification": why,
                                                     "schema_read": now["schema_read"] + ["ANALYTICS.MARKETING"]},
                 "change-business-role")
    for cr in (remove, add):
        ApproveRequest(gh_services, people["approver"], cr.id).execute()
    MergeRequest(gh_services, people["admin"], remove.id, confirm_unsafe=True).execute()  # it revokes STRIPE_READ
    assert MergeRequest(gh_services, people["admin"], add.id).execute().status == Status.MERGED
    role = on_main(github, "business_role.yaml")["FINANCE_ANALYST"]
    assert role["technical_roles"] == ["SCRATCH_CREATE"] and "ANALYTICS.MARKETING" in role["schema_read"]


# -- 2. actions bound to the request on screen -------------------------------------------------------

def test_on_github_an_action_on_a_request_that_left_the_queue_names_who(gh_services, github, people, new_user_raw):
    first = submit(gh_services, people["requester"], new_user_raw("first_user"))
    second = submit(gh_services, people["requester"], new_user_raw("second_user"))
    ApproveRequest(gh_services, people["approver"], first.id).execute()
    MergeRequest(gh_services, people["admin"], first.id).execute()
    RejectRequest(gh_services, people["approver"], second.id, "Duplicate").execute()
    with pytest.raises(AlreadyResolved, match=f"#{first.id} is already merged by admin"):
        ApproveRequest(gh_services, people["approver"], first.id).execute()
    with pytest.raises(AlreadyResolved, match=f"#{second.id} is already rejected by approver"):
        MergeRequest(gh_services, people["admin"], second.id).execute()


# -- 4. interrupted writes ---------------------------------------------------------------------------

@pytest.mark.parametrize("method,path,finished", [
    ("PATCH", r"/pulls/\d+$", False),  # 1. the signed record: nothing changed, a retry resubmits
    ("PATCH", r"/git/refs/heads/", True),  # 2. the branch: the next action moves it, then records the decision
    ("POST", r"/pulls/\d+/reviews$", True),  # 3. the decision (counted already): the next action posts it
])
def test_a_resubmit_interrupted_at_any_step_on_github_is_finished_or_left_unchanged(gh_services, github, people, new_user_raw,
                                                                                   method, path, finished):
    cr = submit(gh_services, people["requester"], new_user_raw())
    ApproveRequest(gh_services, people["admin"], cr.id).execute()
    RequestChanges(gh_services, people["approver"], cr.id, "Use DATA_SCIENTIST").execute()
    fault = github.fail(method, path, "500", times=50)
    moved = method == "POST"  # the branch moves before the decision is posted (GitHub reviews only its commits)
    if moved:  # the update is done; only its review is missing, and the next read posts it
        ResubmitRequest(gh_services, people["requester"], cr.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    else:
        with pytest.raises(ChangeError, match="GitHub answered 500"):
            ResubmitRequest(gh_services, people["requester"], cr.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    fault.times = 0
    assert (github._head(cr.branch) != cr.head_sha) == moved
    if moved:  # before anything finishes it (a listing does not), the resubmit counts: earlier decisions are void
        assert not any("resubmitted" in r["body"] for r in github.pulls[cr.id].reviews)
        [listed] = [c for c in gh_services.changes.list() if c.id == cr.id]
        assert listed.status == Status.OPEN
    after = gh_services.changes.get(cr.id)  # the next action finishes the update, or finds nothing to finish
    assert github.git.branch_head(cr.branch) == after.head_sha
    if finished:
        assert after.head_sha != cr.head_sha and after.status == Status.OPEN and approvals(gh_services, after) == []
        assert [r.decision for r in gh_services.changes.reviews(after)].count("resubmit") == 1
    else:
        assert (after.head_sha, after.status) == (cr.head_sha, Status.CHANGES_REQUESTED)
        after = ResubmitRequest(gh_services, people["requester"], cr.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    on_branch = yaml.safe_load(github.read(cr.branch, "snowddl/user.yaml"))["JANE_DOE"]["business_roles"]
    assert on_branch == ["DATA_SCIENTIST"]
    ApproveRequest(gh_services, people["approver"], cr.id, head_sha=after.head_sha).execute()
    assert MergeRequest(gh_services, people["admin"], cr.id).execute().status == Status.MERGED


# -- 3. concurrency ----------------------------------------------------------------------------------

def test_on_github_two_simultaneous_approvals_with_two_required_give_approved(gh_services, github, people, new_user_raw):
    import threading

    from core.changes.model import Actor

    gh_services.settings = gh_services.settings.model_copy(update={"required_approvals": 2})
    gh_services.changes.required_approvals = 2
    cr = submit(gh_services, people["requester"], new_user_raw())
    second = Actor("blake", "Blake Approver", "", ("approver",))
    barrier, errors = threading.Barrier(2), []

    def approve(actor):
        barrier.wait()
        try:
            ApproveRequest(gh_services, actor, cr.id, head_sha=cr.head_sha).execute()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(a,)) for a in (people["approver"], second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    after = gh_services.changes.get(cr.id)
    assert after.status == Status.APPROVED and approvals(gh_services, after) == ["approver", "blake"]


def test_a_rejection_interrupted_before_the_pr_was_closed_is_finished_by_the_next_action(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    fault = github.fail("PATCH", r"/pulls/\d+$", "500", times=50)
    with pytest.raises(ChangeError, match="GitHub answered 500"):
        RejectRequest(gh_services, people["approver"], cr.id, "Duplicate").execute()
    fault.times = 0
    assert github.pulls[cr.id].state == "open"
    assert gh_services.changes.list(statuses=[Status.OPEN, Status.CHANGES_REQUESTED, Status.APPROVED]) == []
    assert gh_services.changes.get(cr.id).status == Status.REJECTED
    assert github.pulls[cr.id].state == "closed" and cr.branch not in github.branches()
    with pytest.raises(AlreadyResolved, match="already rejected by approver"):
        ApproveRequest(gh_services, people["admin"], cr.id).execute()


def test_a_request_signed_with_another_key_is_not_listed(tmp_path, github, people, new_user_raw, monkeypatch):
    """The command line, or another portal, must sign with the portal's key: a record signed with any
    other key is not a request (and that is also what a forger without the key produces)."""
    from app.services import build_services
    from app.settings import load_settings
    from tests.github_support import APPROVERS, BOT_TOKEN, fast_retries, write_settings

    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", BOT_TOKEN)
    for name in ("portal", "other"):
        write_settings(tmp_path / name, github, github_approvers=APPROVERS)
    portal = fast_retries(build_services(load_settings(tmp_path / "portal")))
    other = fast_retries(build_services(load_settings(tmp_path / "other")))  # its own generated key
    foreign = submit(other, people["requester"], new_user_raw("foreign_user"))
    assert [c.id for c in other.changes.list()] == [foreign.id]
    refused_everywhere(portal, people, foreign)
    monkeypatch.setenv("SNOWTOWER_SIGNING_KEY", "one key for the whole deployment")
    portal = fast_retries(build_services(load_settings(tmp_path / "portal")))
    other = fast_retries(build_services(load_settings(tmp_path / "other")))
    shared = submit(other, people["requester"], new_user_raw("shared_user"))
    assert [c.id for c in portal.changes.list()] == [shared.id]
