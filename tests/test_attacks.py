"""Attacks on issue 8's approval chain tried after it was built (the attacker's and the crash's view),
each one a test. Who is who: tests/github_support.py (snowtower-bot is the portal; alice is the
approver's GitHub login, with write permission; mallory has read access)."""
import pytest
import yaml

from core.changes import metadata as meta
from core.changes.base import ChangeError
from core.changes.model import Status
from portal.operations import ApproveRequest, MergeRequest, PreviewRequest, RequestChanges, ResubmitRequest, SubmitRequest
from portal.operations.guards import approvals
from recipes import RECIPES
from tests.github_support import as_user, github, github_template, gh_services  # noqa: F401 (fixtures)


def submit(services, actor, raw, recipe="new-user"):
    preview = PreviewRequest(services, RECIPES[recipe], raw).execute()
    assert preview.ok, (preview.field_errors, preview.validation)
    return SubmitRequest(services, actor, RECIPES[recipe], raw, preview.base_sha).execute()


def test_an_old_signed_record_replayed_with_its_old_head_gets_no_approval_of_the_new_content(gh_services, github, people, new_user_raw):
    """A writer puts back the portal's own first record (from the PR body's edit history) and pushes the
    branch back to the head it names: the record verifies, but the approvals were given to the
    resubmitted content, not to this one."""
    first = submit(gh_services, people["requester"], new_user_raw(business_roles=["DATA_ENGINEER"]))
    first_body = github.pulls[first.id].body
    RequestChanges(gh_services, people["admin"], first.id, "ANALYST is enough").execute()
    fixed = ResubmitRequest(gh_services, people["requester"], first.id, new_user_raw()).execute()
    ApproveRequest(gh_services, people["approver"], first.id, "ok", fixed.head_sha).execute()
    assert gh_services.changes.get(first.id).status == Status.APPROVED

    writer = as_user(github, "alice-token")
    writer.get_pull(first.id).edit(body=first_body)
    github.git.update_ref(f"refs/heads/{first.branch}", first.head_sha, fixed.head_sha)

    replayed = gh_services.changes.get(first.id)
    if replayed is not None:
        assert replayed.status != Status.APPROVED and approvals(gh_services, replayed) == []
    assert all(c.status != Status.APPROVED for c in gh_services.changes.list())
    with pytest.raises(ChangeError):
        MergeRequest(gh_services, people["admin"], first.id).execute()
    with pytest.raises(ChangeError):
        MergeRequest(gh_services, people["admin"], first.id, first.head_sha).execute()
    assert "JANE_DOE" not in (yaml.safe_load(github.read("main", "snowddl/user.yaml")) or {})


def test_a_demoted_approver_s_github_approval_no_longer_counts(gh_services, github, people, new_user_raw):
    """The users file takes the approver role from "approver" (alice on GitHub, still a writer there):
    their native approval stops counting at once, as their portal clicks do."""
    from tests.github_support import PORTAL_ROLES, write_users

    cr = submit(gh_services, people["requester"], new_user_raw())
    as_user(github, "alice-token").get_pull(cr.id).create_review(event="APPROVE")
    assert gh_services.changes.get(cr.id).status == Status.APPROVED
    write_users(gh_services.workspace.root, {**PORTAL_ROLES, "approver": ["requester"]})
    after = gh_services.changes.get(cr.id)
    assert after.status == Status.OPEN and approvals(gh_services, after) == []
    with pytest.raises(ChangeError, match="needs 1 approval"):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    assert "JANE_DOE" not in (yaml.safe_load(github.read("main", "snowddl/user.yaml")) or {})


def test_a_rejected_request_reopened_by_a_writer_stays_rejected(gh_services, github, people, new_user_raw):
    """The branch is pushed back at the head the record names and the PR reopened on GitHub: the record
    verifies again, but the portal's rejection stands."""
    from portal.operations import RejectRequest

    cr = submit(gh_services, people["requester"], new_user_raw())
    ApproveRequest(gh_services, people["approver"], cr.id).execute()
    RejectRequest(gh_services, people["admin"], cr.id, "Not this quarter").execute()
    github.git.update_ref(f"refs/heads/{cr.branch}", cr.head_sha, None)
    as_user(github, "alice-token").get_pull(cr.id).edit(state="open")
    assert cr.id not in [c.id for c in gh_services.changes.list(statuses=[Status.OPEN, Status.APPROVED, Status.CHANGES_REQUESTED])]
    assert gh_services.changes.get(cr.id).status == Status.REJECTED
    for act in (lambda: ApproveRequest(gh_services, people["approver"], cr.id).execute(),
                lambda: MergeRequest(gh_services, people["admin"], cr.id).execute()):
        with pytest.raises(ChangeError, match="rejected"):
            act()
    assert "JANE_DOE" not in (yaml.safe_load(github.read("main", "snowddl/user.yaml")) or {})


def test_an_approved_request_retargeted_to_another_base_branch_is_not_merged_there(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    ApproveRequest(gh_services, people["approver"], cr.id).execute()
    main = github.git.branch_head("main")
    github.git.update_ref("refs/heads/release", main, None)
    as_user(github, "alice-token").get_pull(cr.id).edit(base="release")
    assert gh_services.changes.get(cr.id) is None
    with pytest.raises(ChangeError):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    assert github.git.branch_head("release") == main == github.git.branch_head("main")
