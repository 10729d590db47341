"""Resubmitting a request sent back: same branch, new content, status open, earlier approvals void."""
import pytest
import yaml

from core.changes.base import ChangeError
from core.changes.model import Status
from app.operations import ApproveRequest, MergeRequest, PreviewRequest, RequestChanges, ResubmitRequest, SubmitRequest
from app.operations.shared.guards import approvals
from recipes import RECIPES, FieldErrors

GRANT = RECIPES["grant-role"]
WHY = "Needs the finance models for the board pack."


def submit(services, actor, recipe, raw):
    preview = PreviewRequest(services, recipe, raw).execute()
    return SubmitRequest(services, actor, recipe, raw, preview.base_sha).execute()


def test_resubmit_updates_the_same_branch_and_resets_review(services, people):
    raw = {"name": "MOKAFOR", "business_roles": ["ANALYST"], "justification": WHY}
    cr = submit(services, people["requester"], GRANT, raw)
    ApproveRequest(services, people["admin"], cr.id, "fine by me").execute()
    RequestChanges(services, people["approver"], cr.id, "FINANCE_ANALYST is the right role").execute()
    assert approvals(services, services.changes.get(cr.id)) == ["admin"]
    fixed = ResubmitRequest(services, people["requester"], cr.id, {**raw, "business_roles": ["FINANCE_ANALYST"]},
                            "switched to FINANCE_ANALYST").execute()
    assert fixed.status == Status.OPEN and fixed.branch == cr.branch and fixed.head_sha != cr.head_sha
    assert fixed.request["business_roles"] == ["FINANCE_ANALYST"]
    repo = services.changes.repo
    assert repo.git("rev-list", "--count", f"main..{cr.branch}").strip() == "1"  # still one commit on main
    on_branch = yaml.safe_load(repo.read_text(cr.branch, "snowddl/user.yaml"))["MOKAFOR"]["business_roles"]
    assert "FINANCE_ANALYST" in on_branch and "ANALYST" not in on_branch
    assert approvals(services, fixed) == []  # the admin approved other content
    with pytest.raises(ChangeError, match="needs 1 approval"):
        MergeRequest(services, people["admin"], cr.id).execute()
    actions = [e.action for e in services.changes.events(fixed)]
    assert actions[-1] == "resubmitted" and "changes_requested" in actions
    ApproveRequest(services, people["approver"], cr.id).execute()
    assert MergeRequest(services, people["admin"], cr.id).execute().status == Status.DEPLOYED


def test_resubmit_guards(services, people, private_pem):
    raw = {"name": "MOKAFOR", "business_roles": ["ANALYST"], "justification": WHY}
    cr = submit(services, people["requester"], GRANT, raw)
    with pytest.raises(ChangeError, match="only a request with changes requested"):
        ResubmitRequest(services, people["requester"], cr.id, raw).execute()
    RequestChanges(services, people["approver"], cr.id, "add an end date").execute()
    with pytest.raises(ChangeError, match="only requester can edit"):
        ResubmitRequest(services, people["approver"], cr.id, raw).execute()
    before = services.changes.get(cr.id)
    with pytest.raises(FieldErrors):
        ResubmitRequest(services, people["requester"], cr.id, {**raw, "business_roles": ["NOPE"]}).execute()
    after = services.changes.get(cr.id)
    assert (after.head_sha, after.status) == (before.head_sha, Status.CHANGES_REQUESTED)  # a refusal changes nothing


def test_every_recipe_submits_through_the_same_operations(services, people, public_pem):
    """One real submission per recipe kind, so each lands as a one-commit branch SnowDDL accepts."""
    cases = {
        "new-service-user": {"name": "svc_x", "rsa_public_key": public_pem, "business_roles": "LOADER"},
        "revoke-role": {"name": "praman", "business_roles": "ANALYTICS_ENGINEER"},
        "new-business-role": {"name": "pricing", "schema_read": "RAW.*"},
        "new-database": {"name": "proj_x", "schemas": "A", "business_roles": "READ"},
        "new-warehouse": {"name": "x_wh", "size": "XSMALL", "auto_suspend": 60},
        "change-warehouse": {"name": "bi_wh", "size": "MEDIUM"},
        "offboard-user": {"name": "tlindqvist"},
        "rotate-key": {"name": "svc_dbt", "rsa_public_key_2": public_pem},
    }
    for name, raw in cases.items():
        cr = submit(services, people["requester"], RECIPES[name], {**raw, "justification": WHY})
        assert cr.validation["valid"] and cr.recipe == name
        assert services.changes.repo.git("rev-list", "--count", f"main..{cr.branch}").strip() == "1"
