"""Submit, review and merge against a real git repository and SQLite records, guards included."""
import pytest
import yaml

from core.changes.base import BaseMoved, ChangeError
from core.changes.model import Actor, Status
from app.operations import ApproveRequest, MergeRequest, PreviewRequest, RejectRequest, RequestChanges, SubmitRequest
from recipes import RECIPES, FieldErrors
from tests.identity_support import give_login

RECIPE = RECIPES["new-user"]


def submit(services, actor, raw):
    preview = PreviewRequest(services, RECIPE, raw).execute()
    return SubmitRequest(services, actor, RECIPE, raw, preview.base_sha).execute()


def branches(services):
    return services.changes.repo.git("for-each-ref", "--format=%(refname:short)", "refs/heads/").split()


def users_on_main(services):
    return set(yaml.safe_load(services.changes.repo.read_text("main", "snowddl/user.yaml")))


def test_submit_makes_one_commit_on_a_branch_and_a_record(services, people, new_user_raw):
    main = services.changes.base_head()
    cr = submit(services, people["requester"], new_user_raw())
    assert cr.status == Status.OPEN and cr.requester == "requester" and cr.base_sha == main
    assert branches(services) == ["main", cr.branch]
    repo = services.changes.repo
    assert repo.git("rev-list", f"main..{cr.branch}").split() == [cr.head_sha]
    assert repo.git("diff", "--name-only", "main", cr.branch).split() == ["snowddl/user.yaml"]
    assert "+JANE_DOE:" in services.changes.diff(cr)
    assert services.changes.base_head() == main  # nothing reaches main before review
    assert [e.action for e in services.changes.events(cr)] == ["submitted"]
    message = repo.git("log", "-1", "--format=%B", cr.head_sha)  # the change request's body
    assert "### SnowDDL plan (offline)" in message and 'CREATE USER "JANE_DOE"' in message


def test_refused_request_writes_nothing(services, people, new_user_raw, private_pem):
    before = (services.changes.repo.git("for-each-ref"), services.store.list())
    with pytest.raises(FieldErrors):
        SubmitRequest(services, people["requester"], RECIPE, new_user_raw(rsa_public_key=private_pem), services.changes.base_head()).execute()
    assert (services.changes.repo.git("for-each-ref"), services.store.list()) == before
    assert private_pem.splitlines()[1] not in open(services.workspace.db_path, "rb").read().decode(errors="replace")


def test_a_moved_base_branch_refuses_the_stale_preview(services, people, new_user_raw):
    preview = PreviewRequest(services, RECIPE, new_user_raw("first")).execute()
    other = submit(services, people["approver"], new_user_raw("other"))
    ApproveRequest(services, people["admin"], other.id).execute()
    MergeRequest(services, people["admin"], other.id).execute()
    with pytest.raises(BaseMoved, match="moved since this preview"):
        SubmitRequest(services, people["requester"], RECIPE, new_user_raw("first"), preview.base_sha).execute()
    assert len(services.store.list()) == 1


def test_full_review_flow_deploys_and_records_each_step(services, people, new_user_raw):
    cr = submit(services, people["requester"], new_user_raw())
    cr = ApproveRequest(services, people["approver"], cr.id, "ok").execute()
    assert cr.status == Status.APPROVED
    cr = MergeRequest(services, people["admin"], cr.id).execute()
    assert cr.status == Status.DEPLOYED
    assert "JANE_DOE" in users_on_main(services)
    assert services.changes.base_head() == cr.merged_sha
    assert services.store.deployed_sha() == cr.merged_sha
    assert [e.action for e in services.changes.events(cr)] == ["submitted", "approved", "merged", "deployed"]


def test_nobody_approves_their_own_request_even_an_admin(services, people, new_user_raw):
    cr = submit(services, people["admin"], new_user_raw())
    with pytest.raises(ChangeError, match="your own request"):
        ApproveRequest(services, people["admin"], cr.id).execute()
    with pytest.raises(ChangeError, match="your own request"):
        RejectRequest(services, people["admin"], cr.id, "no").execute()
    assert services.changes.get(cr.id).status == Status.OPEN
    assert services.changes.reviews(cr) == []


def test_roles_are_enforced(services, people, new_user_raw):
    cr = submit(services, people["approver"], new_user_raw())
    with pytest.raises(ChangeError, match="only approvers"):
        ApproveRequest(services, people["requester"], cr.id).execute()
    give_login(services.workspace.auth_path, Actor("approver2", roles=("approver",)))
    with pytest.raises(ChangeError, match="only admins"):
        MergeRequest(services, Actor("approver2", roles=("approver",)), cr.id).execute()
    with pytest.raises(ChangeError, match="needs 1 approval"):
        MergeRequest(services, people["admin"], cr.id).execute()
    assert "JANE_DOE" not in users_on_main(services)


def test_changes_requested_and_reject_need_a_comment_and_reject_is_final(services, people, new_user_raw):
    cr = submit(services, people["requester"], new_user_raw())
    with pytest.raises(ChangeError, match="comment is required"):
        RequestChanges(services, people["approver"], cr.id, " ").execute()
    cr = RequestChanges(services, people["approver"], cr.id, "Use the FINANCE_ANALYST role").execute()
    assert cr.status == Status.CHANGES_REQUESTED
    cr = RejectRequest(services, people["approver"], cr.id, "Duplicate of #7").execute()
    assert cr.status == Status.REJECTED
    with pytest.raises(ChangeError, match="already rejected"):
        ApproveRequest(services, people["admin"], cr.id).execute()
    events = services.changes.events(cr)
    assert [(e.action, e.detail) for e in events][1:] == [("changes_requested", "Use the FINANCE_ANALYST role"), ("rejected", "Duplicate of #7")]


def test_merge_after_main_moved_re_applies_the_recipe_and_loses_nothing(services, people, new_user_raw):
    first = submit(services, people["requester"], new_user_raw("first_user"))
    second = submit(services, people["requester"], new_user_raw("second_user"))
    for cr in (first, second):
        ApproveRequest(services, people["approver"], cr.id).execute()
    MergeRequest(services, people["admin"], first.id).execute()
    merged = MergeRequest(services, people["admin"], second.id).execute()
    assert merged.status == Status.DEPLOYED
    assert {"FIRST_USER", "SECOND_USER"} <= users_on_main(services)
    assert "rebased" in [e.action for e in services.changes.events(merged)]
    assert services.changes.repo.git("rev-list", "--count", "main").strip() == "3"


def test_re_apply_that_no_longer_fits_is_refused_and_main_is_untouched(services, people, new_user_raw):
    first = submit(services, people["requester"], new_user_raw("same_name"))
    second = submit(services, people["approver"], new_user_raw("same_name", first_name="Other"))
    ApproveRequest(services, people["approver"], first.id).execute()
    ApproveRequest(services, people["requester"] if False else people["admin"], second.id).execute()
    MergeRequest(services, people["admin"], first.id).execute()
    main = services.changes.base_head()
    with pytest.raises(ChangeError, match="no longer applies.*already exists"):
        MergeRequest(services, people["admin"], second.id).execute()
    assert services.changes.base_head() == main
    assert services.changes.get(second.id).status == Status.APPROVED


def test_the_workspace_is_reused_and_loses_nothing(tmp_path, people, new_user_raw):
    from app.services import build_services
    from app.settings import load_settings

    first = build_services(load_settings(tmp_path / "ws"))
    cr = submit(first, people["requester"], new_user_raw())
    again = build_services(load_settings(tmp_path / "ws"))
    assert again.changes.get(cr.id).branch == cr.branch
    assert again.changes.repo.branch_head(cr.branch) == cr.head_sha


def test_a_standing_request_for_changes_blocks_another_reviewers_approval(services, people, new_user_raw):
    cr = submit(services, people["requester"], new_user_raw())
    RequestChanges(services, people["approver"], cr.id, "Wrong role").execute()
    cr = ApproveRequest(services, people["admin"], cr.id).execute()
    assert cr.status == Status.CHANGES_REQUESTED
    with pytest.raises(ChangeError, match="changes were requested"):
        MergeRequest(services, people["admin"], cr.id).execute()
    assert "JANE_DOE" not in users_on_main(services)
