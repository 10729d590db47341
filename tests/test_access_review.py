"""Access review campaigns (app.campaigns) end to end on the demo workspace: evidence per grant, guards,
revocations through the usual flow, the auditor's report."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import yaml

from app import campaigns
from app.operations import ApproveRequest, MergeRequest
from core.changes.base import ChangeError
from core.changes.model import Actor, Status
from core.findings import usage
from core import expiry as expiry_mod
from tests.identity_support import give_login
from tests.test_usage_evidence import EXPECTED


@pytest.fixture
def demo(services):
    services.sync_demo_account(generate=True, query_rows=500)
    return services


def expiry_file():
    return "snowddl/" + expiry_mod.EXPIRY_FILE  # relative to the config folder


def deadline(services, days=14):
    return services.clock().date() + dt.timedelta(days=days)


def test_a_campaign_over_every_grant_lists_each_once_with_its_verdict(demo, people):
    c = campaigns.start(demo, people["admin"], "all", deadline(demo), "Q1 review")
    items = campaigns.store_for(demo).items(c.id)
    assert {(i.user, i.role): i.verdict for i in items} == EXPECTED
    assert len(items) == len({(i.user, i.role) for i in items})
    assert all(i.reviewer == campaigns.APPROVERS for i in items)
    assert items[0].evidence["verdict"] == items[0].verdict and "only_read" in items[0].evidence


def test_only_admins_start_and_a_bad_scope_or_past_deadline_starts_nothing(demo, people):
    with pytest.raises(ChangeError, match="only admins"):
        campaigns.start(demo, people["approver"], "all", deadline(demo))
    with pytest.raises(ChangeError, match="scope"):
        campaigns.start(demo, people["admin"], "everything", deadline(demo))
    with pytest.raises(ChangeError, match="deadline"):
        campaigns.start(demo, people["admin"], "all", demo.clock().date() - dt.timedelta(days=1))
    assert campaigns.store_for(demo).list() == []
    refused = [r for r in demo.audit.search() if r.action == "access_review_start"]
    assert len(refused) == 3 and all(r.outcome == "refused" for r in refused)


def test_scopes(demo, people):
    role = campaigns.start(demo, people["admin"], "role:analyst", deadline(demo))
    assert {i.user for i in campaigns.store_for(demo).items(role.id)} == {"OBRENNAN", "HCHO", "NJENSEN", "DPRICE", "SROSSI"}
    db = campaigns.start(demo, people["admin"], "database:DEV_SANDBOX", deadline(demo))
    roles = {i.role for i in campaigns.store_for(demo).items(db.id)}
    assert "ANALYTICS_ENGINEER" in roles and "FINANCE_ANALYST" not in roles
    admin = campaigns.start(demo, people["admin"], "admin", deadline(demo))
    assert {i.role for i in campaigns.store_for(demo).items(admin.id)} == {"DATA_ENGINEER"}


def test_reviewer_is_the_owner_never_the_holder(demo, people):
    demo.settings = demo.settings.model_copy(update={"role_owners": {"ANALYST": "approver"}})
    c = campaigns.start(demo, people["admin"], "all", deadline(demo))
    items = {(i.user, i.role): i for i in campaigns.store_for(demo).items(c.id)}
    analyst = items[("SROSSI", "ANALYST")]
    assert analyst.reviewer == "approver"
    other = Actor("other", "Other Approver", "", ("requester", "approver"))
    holder = Actor("praman", "Priya Raman", "", ("requester", "approver"))
    for login in (other, holder):
        give_login(demo.workspace.auth_path, login)
    with pytest.raises(ChangeError, match="reviewed by approver"):
        campaigns.decide(demo, other, analyst.id, campaigns.REVOKE, "not used")
    with pytest.raises(ChangeError, match="own access"):
        campaigns.decide(demo, holder, items[("PRAMAN", "DATA_ENGINEER")].id, campaigns.KEEP, "mine")
    with pytest.raises(ChangeError, match="needs a reason"):
        campaigns.decide(demo, people["approver"], analyst.id, campaigns.KEEP, "  ")
    done = campaigns.decide(demo, people["approver"], analyst.id, campaigns.KEEP, "on call for marketing")
    assert done.decision == campaigns.KEEP and done.decided_by == "approver"
    campaigns.close(demo, people["admin"], c.id)
    with pytest.raises(ChangeError, match="closed"):
        campaigns.decide(demo, people["approver"], analyst.id, campaigns.REVOKE, "changed my mind")


def test_two_revocations_become_requests_that_deploy_and_the_report_carries_them(demo, people):
    c = campaigns.start(demo, people["admin"], "all", deadline(demo))
    store = campaigns.store_for(demo)
    items = {(i.user, i.role): i for i in store.items(c.id)}
    campaigns.decide(demo, people["approver"], items[("SROSSI", "ANALYST")].id, campaigns.REVOKE, "never used")
    campaigns.decide(demo, people["approver"], items[("BFISCHER", "DATA_SCIENTIST")].id, campaigns.REVOKE, "left the team")
    campaigns.decide(demo, people["approver"], items[("OBRENNAN", "ANALYST")].id, campaigns.KEEP, "daily user")
    opened = campaigns.open_requests(demo, people["approver"], c.id)
    assert [cr.recipe for cr in opened] == ["revoke-role", "revoke-role"]
    assert {cr.request["name"] for cr in opened} == {"SROSSI", "BFISCHER"}
    # a decision that became a request is final
    with pytest.raises(ChangeError, match="final"):
        campaigns.decide(demo, people["approver"], items[("SROSSI", "ANALYST")].id, campaigns.KEEP, "oops")
    assert campaigns.open_requests(demo, people["approver"], c.id) == []  # nothing twice
    for cr in opened:  # approved and deployed like any other change (the approver submitted: the admin approves)
        cr = ApproveRequest(demo, people["admin"], cr.id, "ok").execute()
        cr = MergeRequest(demo, people["admin"], cr.id, confirm_unsafe=True).execute()
        assert cr.status == Status.DEPLOYED
    users = yaml.safe_load(demo.changes.repo.read_text("main", "snowddl/user.yaml"))
    assert "ANALYST" not in [r.upper() for r in users["SROSSI"].get("business_roles") or []]
    assert "DATA_SCIENTIST" not in [r.upper() for r in users["BFISCHER"].get("business_roles") or []]

    data = campaigns.report(demo, c.id)
    assert data["campaign"]["scope"] == "all" and data["reviewers"] == ["approvers"]
    rows = {(i["user"], i["role"]): i for i in data["items"]}
    assert len(rows) == len(EXPECTED)
    s = rows[("SROSSI", "ANALYST")]
    assert s["decision"] == "revoke" and s["decided_by"] == "approver" and s["decided_at"]
    assert s["request"]["status"] == "deployed" and s["request"]["deployed"] is True
    assert s["evidence"]["verdict"] == usage.UNUSED and s["evidence"]["only_read"]
    assert rows[("OBRENNAN", "ANALYST")]["evidence"]["used"][0]["object"] == "ANALYTICS.MARTS.FCT_ORDERS"
    json.dumps(data)  # the JSON report is plain data
    table = list(csv.DictReader(io.StringIO(campaigns.report_csv(data))))
    assert len(table) == len(EXPECTED)
    assert {r["request_status"] for r in table if r["decision"] == "revoke"} == {"deployed"}
    records = [(r.action, r.outcome) for r in demo.audit.search() if r.action.startswith("access_review")]
    assert records.count(("access_review_decide", "ok")) == 3 and records.count(("access_review_decide", "refused")) == 1
    assert ("access_review_requests", "ok") in records


def test_a_hostile_reason_is_a_plain_csv_cell(demo, people):
    c = campaigns.start(demo, people["admin"], "role:ANALYST", deadline(demo))
    item = campaigns.store_for(demo).items(c.id)[0]
    campaigns.decide(demo, people["approver"], item.id, campaigns.KEEP, "=HYPERLINK(\"http://x\")")
    table = list(csv.DictReader(io.StringIO(campaigns.report_csv(campaigns.report(demo, c.id)))))
    assert [r["reason"] for r in table if r["reason"]] == ["'=HYPERLINK(\"http://x\")"]


def test_keep_until_a_date_becomes_a_time_bound_grant(demo, people):
    c = campaigns.start(demo, people["admin"], "role:ANALYST", deadline(demo))
    item = next(i for i in campaigns.store_for(demo).items(c.id) if i.user == "DPRICE")
    until = demo.clock().date() + dt.timedelta(days=30)
    with pytest.raises(ChangeError, match="after today"):
        campaigns.decide(demo, people["approver"], item.id, campaigns.KEEP_UNTIL, "quarter end", demo.clock().date())
    campaigns.decide(demo, people["approver"], item.id, campaigns.KEEP_UNTIL, "quarter end", until)
    [cr] = campaigns.open_requests(demo, people["admin"], c.id)
    assert cr.recipe == "grant-role" and cr.request["until"] == until.isoformat()
    cr = ApproveRequest(demo, people["approver"], cr.id, "ok").execute()
    MergeRequest(demo, people["admin"], cr.id).execute()
    expiry = demo.changes.repo.read_text("main", expiry_file())
    assert "DPRICE" in expiry and until.isoformat() in expiry


def test_the_cli_prints_the_same_verdicts_as_the_campaign(demo, people, capsys):
    from portal.cli import main

    ws = str(demo.settings.workspace)
    assert main(["access-review", "start", "--deadline", deadline(demo).isoformat(), "--workspace", ws,
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {(i["user"], i["role"]): i["verdict"] for i in data["items"]} == EXPECTED
    assert data["campaign"]["started_by"] == "snowtower-cli"
    assert main(["access-review", "status", "--id", str(data["campaign"]["id"]), "--workspace", ws]) == 0
    text = capsys.readouterr().out
    for (user, role), verdict in EXPECTED.items():
        assert any(line.split()[:3] == [user, role, verdict.split()[0]] for line in text.splitlines()), (user, role)
    assert main(["access-review", "report", "--id", "99", "--workspace", ws]) == 1
    assert main(["access-review", "start", "--deadline", "tomorrow", "--workspace", ws]) == 2
    assert main(["access-review", "report", "--id", str(data["campaign"]["id"]), "--format", "csv", "--workspace", ws]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {(r["user"], r["role"]): r["verdict"] for r in rows} == EXPECTED


def test_unused_grants_on_security_open_a_filled_in_revoke_request(demo, people):
    from app.operations import PreviewRequest
    from app.usage import unused_findings
    from recipes import RECIPES

    found = unused_findings(demo)
    assert sorted((f.object, f.fix.fields["business_roles"][0]) for f in found) == sorted(
        k for k, v in EXPECTED.items() if v in (usage.UNUSED, usage.NEVER))
    f = next(f for f in found if f.object == "SROSSI")
    assert f.fix.recipe == "revoke-role" and "no use in" in f.fix.fields["justification"]
    preview = PreviewRequest(demo, RECIPES["revoke-role"], f.fix.fields).execute()
    assert not preview.field_errors and preview.validation.valid
