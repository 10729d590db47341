"""A failed deployment opens a revert request (app/operations/revert.py), urgent, reviewed like any other:
on the local backend through the portal's deploy step and `snowtower revert --request N`. (GitHub mode,
the merge-deploy workflow's path, is in tests/test_deploy.py against the test server.)"""
from __future__ import annotations

import pytest
import yaml

from app.audit_record import REFUSED
from app.operations import ApproveRequest, MergeRequest, SubmitRequest
from app.identity import DEPLOY_ACTOR
from app.operations.revert import RevertFailedDeployment
from app.review import queue
from core.changes.base import ChangeError
from core.changes.model import Status
from recipes import RECIPES


class FailingDeploy:
    """The deploy step fails (an apply refused by the account): the boundary the demo's deploy crosses."""

    def __init__(self, services, times=1):
        self.services, self.left = services, times
        self.real = services.changes.deploy

    def __call__(self, cr, actor):
        if self.left:
            self.left -= 1
            raise ChangeError("snowddl apply failed: 003001 (42501): SQL access control error")
        return self.real(cr, actor)


def merged_request(services, people, new_user_raw, name="jane_doe", fail=True):
    """Submit, approve and merge a new user; the deploy step fails when `fail`."""
    cr = SubmitRequest(services, people["requester"], RECIPES["new-user"], new_user_raw(name),
                       services.changes.base_head()).execute()
    ApproveRequest(services, people["approver"], cr.id).execute()
    if fail:
        services.changes.deploy = FailingDeploy(services)
    try:
        return MergeRequest(services, people["admin"], cr.id).execute()
    finally:
        services.changes.__dict__.pop("deploy", None)


def reverts(services):
    return [cr for cr in services.changes.list() if cr.recipe == "revert"]


def users_on_main(services) -> dict:
    return yaml.safe_load(services.snapshot().text("user.yaml"))


def test_a_failed_deploy_step_opens_an_urgent_revert_reviewed_like_any_other(services, people, new_user_raw):
    cr = merged_request(services, people, new_user_raw)
    assert cr.status == Status.MERGED  # merged, not deployed
    assert [e.action for e in services.changes.events(cr)][-1] == "deploy_failed"
    [revert] = reverts(services)
    assert revert.requester == "snowtower-deploy" and revert.status == Status.OPEN
    assert revert.request["request"] == cr.id and revert.request["merged_sha"] == cr.merged_sha
    assert revert.title == f"Revert #{cr.id}: its deployment failed"
    # What it does: JANE_DOE leaves user.yaml again; nothing else changes.
    assert "JANE_DOE" in users_on_main(services)
    diff = services.changes.diff(revert)
    assert "-JANE_DOE:" in diff and not [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    # The queue shows it first, marked urgent, though older requests wait.
    other = SubmitRequest(services, people["requester"], RECIPES["new-user"], new_user_raw("john_roe"),
                          services.changes.base_head()).execute()
    rows = queue(services, people["approver"])
    assert [(r.id, r.urgent) for r in rows] == [(revert.id, True), (other.id, False)]
    # No bypass: the system actor cannot approve it (nor anything), nobody merges it unapproved.
    with pytest.raises(ChangeError, match="only approvers and admins"):
        ApproveRequest(services, DEPLOY_ACTOR, revert.id).execute()
    assert services.audit.search()[0].outcome == REFUSED and services.audit.search()[0].actor == "snowtower-deploy"
    with pytest.raises(ChangeError, match="needs 1 approval"):
        MergeRequest(services, people["admin"], revert.id, confirm_unsafe=True).execute()
    ApproveRequest(services, people["approver"], revert.id).execute()
    done = MergeRequest(services, people["admin"], revert.id, confirm_unsafe=True).execute()
    assert done.status == Status.DEPLOYED and "JANE_DOE" not in users_on_main(services)


def test_never_twice_and_the_command_line_says_so(services, people, new_user_raw, monkeypatch, capsys):
    from portal import cli

    cr = merged_request(services, people, new_user_raw)
    [revert] = reverts(services)
    again = RevertFailedDeployment(services, cr.id).execute()
    assert again.covered_by.id == revert.id and again.opened is None and len(reverts(services)) == 1
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(services.settings.workspace))
    assert cli.main(["revert", "--request", str(cr.id), "--submit"]) == 0
    assert f"covered by revert #{revert.id}" in capsys.readouterr().out and len(reverts(services)) == 1
    # Rejected by a reviewer: reviewers decided; not asked again.
    from app.operations import RejectRequest

    RejectRequest(services, people["approver"], revert.id, "The failure was the network; retrying.").execute()
    assert RevertFailedDeployment(services, cr.id).execute().covered_by.id == revert.id and len(reverts(services)) == 1


def test_a_change_whose_deployment_did_not_fail_is_not_reverted(services, people, new_user_raw, monkeypatch, capsys):
    from portal import cli

    cr = merged_request(services, people, new_user_raw, fail=False)
    assert cr.status == Status.DEPLOYED
    with pytest.raises(ChangeError, match="did not fail"):
        RevertFailedDeployment(services, cr.id).execute()
    with pytest.raises(ChangeError, match="is not a change merged"):
        RevertFailedDeployment(services, 999).execute()
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(services.settings.workspace))
    assert cli.main(["revert", "--request", str(cr.id), "--submit"]) == 1
    assert "did not fail" in capsys.readouterr().err and reverts(services) == []


def test_the_same_lines_changed_since_refuse_the_revert_and_the_admins_are_told(services, people, new_user_raw,
                                                                                monkeypatch, capsys):
    from portal import cli

    sent = []
    services.notifications.notify = lambda event, cr, actor, comment="", decision="", names=(): sent.append((event, cr.id, comment))
    services.changes.deploys_on_merge = False  # a deployment outside the portal, which reports its failure
    grant = {"name": "PRAMAN", "business_roles": ["FINANCE_ANALYST"], "justification": "Covers the finance close."}
    first = SubmitRequest(services, people["requester"], RECIPES["grant-role"], grant, services.changes.base_head()).execute()
    ApproveRequest(services, people["approver"], first.id).execute()
    first = MergeRequest(services, people["admin"], first.id).execute()
    services.changes.record_deploy_failure(first, DEPLOY_ACTOR, "snowddl apply failed")
    # Meanwhile the same lines changed: another role granted right where `first` added its line.
    more = {"name": "PRAMAN", "business_roles": ["DATA_SCIENTIST"], "justification": "Joins the churn model work."}
    later = SubmitRequest(services, people["requester"], RECIPES["grant-role"], more, services.changes.base_head()).execute()
    ApproveRequest(services, people["approver"], later.id).execute()
    MergeRequest(services, people["admin"], later.id).execute()
    head = services.changes.base_head()
    outcome = RevertFailedDeployment(services, first.id).execute()
    assert outcome.refused and outcome.opened is None and reverts(services) == []
    assert "user.yaml line" in outcome.message and "none was made" in outcome.message
    assert services.audit.search()[0].outcome == REFUSED and services.audit.search()[0].actor == "snowtower-deploy"
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(services.settings.workspace))
    # The command line says so, and so does the admins' notification (the CLI builds its own services).
    told = []
    monkeypatch.setattr("app.notifications.notify", lambda s, event, cr, actor, comment="", decision="": told.append((event, cr.id, comment)))
    assert cli.main(["revert", "--request", str(first.id), "--submit"]) == 1
    assert "none was made" in capsys.readouterr().err
    assert told and told[0][0] == "request_deploy_failed" and told[0][1] == first.id and "none was made" in told[0][2]
    assert services.changes.base_head() == head and reverts(services) == []


def test_the_portal_s_deploy_step_tells_the_admins_what_became_of_the_revert(services, people, new_user_raw):
    sent = []
    services.notifications.notify = lambda event, cr, actor, comment="", decision="", names=(): sent.append((event, cr.id, comment))
    cr = merged_request(services, people, new_user_raw)
    [revert] = reverts(services)
    [failed] = [s for s in sent if s[0] == "request_deploy_failed"]
    assert failed[1] == cr.id and "003001" in failed[2] and f"opened {revert.ref}, marked urgent" in failed[2]
    assert ("request_created", revert.id) in [(s[0], s[1]) for s in sent]  # the approvers hear of the revert


def test_the_review_page_shows_the_revert_first_and_urgent_whatever_the_sort(tmp_path, monkeypatch, people, new_user_raw):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from portal import ui
    from tests.portal_support import as_viewer

    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "workspace"))
    ui._services.clear()
    services = ui.services()
    merged_request(services, people, new_user_raw)
    [revert] = reverts(services)
    newer = SubmitRequest(services, people["requester"], RECIPES["new-user"], new_user_raw("john_roe"),
                          services.changes.base_head()).execute()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "review.py"), default_timeout=60)
    as_viewer(at, people["approver"])
    at.run()
    table = next(d.value for d in at.dataframe if "Request" in d.value.columns)
    assert list(table["Request"]) == [revert.ref, newer.ref] and list(table["Urgent"]) == ["URGENT", ""]
    at.selectbox(key="review.sort").set_value("Requester").run()  # "requester" sorts before "snowtower-deploy"
    table = next(d.value for d in at.dataframe if "Request" in d.value.columns)
    assert list(table["Request"]) == [revert.ref, newer.ref]
    at.button(key=f"review.card.{revert.id}").click().run()  # a request opens by its row or card
    assert any(m.value.startswith(":red-badge[:material/priority_high: urgent] A deployment failed") for m in at.markdown)
    assert not at.exception


def test_a_revert_is_rebuilt_on_a_moved_base_when_merged(services, people, new_user_raw):
    merged_request(services, people, new_user_raw)
    [revert] = reverts(services)
    ApproveRequest(services, people["approver"], revert.id).execute()
    # main moves on (a role granted to PRAMAN, far from JANE_DOE's lines) before the admin merges the revert
    grant = {"name": "PRAMAN", "business_roles": ["FINANCE_ANALYST"], "justification": "Covers the finance close."}
    other = SubmitRequest(services, people["requester"], RECIPES["grant-role"], grant, services.changes.base_head()).execute()
    ApproveRequest(services, people["approver"], other.id).execute()
    MergeRequest(services, people["admin"], other.id).execute()
    done = MergeRequest(services, people["admin"], revert.id, confirm_unsafe=True).execute()
    users = users_on_main(services)
    assert done.status == Status.DEPLOYED and "JANE_DOE" not in users and "FINANCE_ANALYST" in users["PRAMAN"]["business_roles"]
    # (A change right next to the reverted lines, e.g. another user appended after JANE_DOE, would be refused
    # instead, as git refuses adjacent changes: tests/test_revert_recipe.py.)


def test_the_admin_s_merge_click_says_the_deployment_failed(tmp_path, monkeypatch, people, new_user_raw):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from portal import ui
    from tests.portal_support import as_viewer

    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "workspace"))
    ui._services.clear()
    services = ui.services()
    cr = SubmitRequest(services, people["requester"], RECIPES["new-user"], new_user_raw(), services.changes.base_head()).execute()
    ApproveRequest(services, people["approver"], cr.id).execute()
    services.changes.deploy = FailingDeploy(services)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "review.py"), default_timeout=60)
    as_viewer(at, people["admin"])
    at.run()
    next(b for b in at.button if b.label == "Merge and deploy").click()
    at.run()
    assert any(f"{cr.ref} was merged but its deployment failed" in e.value for e in at.error)
    assert not any("merged into" in s.value for s in at.success) and len(reverts(services)) == 1 and not at.exception


def test_texts_typed_into_a_revert_are_never_used(services, people, new_user_raw):
    from app.operations.shared.preview import PreviewRequest
    from recipes.base import SOURCES
    from recipes.revert import REVERT

    merged_request(services, people, new_user_raw)
    [revert] = reverts(services)
    forged = {f"{sha}:user.yaml": "EVIL:\n  type: PERSON\n" for sha in (revert.request["merged_sha"], revert.request["parent_sha"])}
    preview = PreviewRequest(services, REVERT, {**revert.request, SOURCES: forged}, services.changes.base_head()).execute()
    from core.changes.approval import same_change

    assert preview.ok and "EVIL" not in preview.diff and same_change(preview.diff, services.changes.diff(revert))
