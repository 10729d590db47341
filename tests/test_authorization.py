"""The authorization matrix: every page and every request action, for a requester, an approver, an
admin and a signed-out visitor. Pages: what each viewer can open (AppTest on the real entry script; a
page one may not open says so). Actions: what the server refuses, whatever a page shows, and that
each refusal is on the audit log."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.operations import ApproveRequest, MergeRequest, RejectRequest, RequestChanges, ResubmitRequest, SubmitRequest
from app.operations.unlock_login import UnlockLogin
from core.changes.base import ChangeError
from core.changes.model import Actor
from portal import ui
from recipes import RECIPES
from test_signin import attempt, portal, workspace  # noqa: F401  (workspace: a fixture)

ROOT = Path(__file__).resolve().parents[1]
RECIPE = RECIPES["new-user"]
ROLES = ("requester", "approver", "admin")
# Who may open what; every other page is for every signed-in viewer.
RESTRICTED = {"review": {"approver", "admin"}, "logins": {"admin"}, "cost": {"admin"}, "audit": {"admin"},
              "security": {"admin"}, "infrastructure": {"admin"}, "status": {"admin"}}
DENIED_MESSAGE = {"review": "Review queue is for approvers", "logins": "Logins is for admins",
                  "cost": "Cost is for admins", "audit": "Audit log is for admins",
                  "security": "Security is for admins", "infrastructure": "Infrastructure is for admins",
                  "status": "Status is for admins"}


def test_the_page_rule_is_the_matrix(people):
    for key in ui.PAGES:
        for role in ROLES:
            assert ui.may_open(people[role], key) == (role in RESTRICTED.get(key, set(ROLES))), (key, role)


def visit(at, key: str):
    """Open page `key` by its address, as a browser does (/review): AppTest.switch_page only knows
    pages that run a file, so the session's registered page of that URL path is chosen."""
    url_path = "" if key == "home" else key.replace("_", "-")  # Home is the default page, at /
    hashes = [h for h, info in at._registered_pages.items() if info.get("url_pathname") == url_path]
    assert len(hashes) == 1, (key, at._registered_pages)
    at._page_hash = hashes[0]
    return at.run()


@pytest.mark.parametrize("role", ROLES)
def test_every_page_for_each_role(workspace, role):
    at = attempt(portal(), role, "demo")
    for key, title in ((p.key, p.title) for p in ui.PAGE_RECORDS):
        visit(at, key)
        assert not at.exception, (key, role)
        errors = " ".join(e.value for e in at.error)
        if role in RESTRICTED.get(key, set(ROLES)):
            assert "is for" not in errors, (key, role, errors)
        else:  # the address says why, instead of sending the viewer Home without a word
            assert DENIED_MESSAGE[key] in errors, (key, role, errors)
            assert [t.value for t in at.title] == [title], (key, role)


def test_a_signed_out_visitor_sees_only_the_sign_in_form(workspace):
    at = portal()
    assert [b.label for b in at.button] == ["Sign in"] and ui.VIEWER_KEY not in at.session_state
    for file in (p.file for p in ui.PAGE_RECORDS if p.file):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(str(ROOT / "pages" / file))


# -- actions: what the server refuses -------------------------------------------------------------------

SIGNED_OUT = Actor("", "", "", ())
VIEWERS = (*ROLES, "signed-out")


def _actor(people, who):
    return SIGNED_OUT if who == "signed-out" else people[who]


def _open_request(services, people, new_user_raw, name, state="open"):
    """A request of the requester's, in `state` (open, approved, changes_requested)."""
    cr = SubmitRequest(services, people["requester"], RECIPE, new_user_raw(name), services.changes.base_head()).execute()
    if state == "approved":
        ApproveRequest(services, people["approver"], cr.id).execute()
    if state == "changes_requested":
        RequestChanges(services, people["approver"], cr.id, "say why").execute()
    return cr


# action -> (state the request needs, the viewers the server lets do it, how to do it)
ACTIONS = {
    "approve": ("open", {"approver", "admin"}, lambda s, a, cr, raw: ApproveRequest(s, a, cr.id).execute()),
    "request_changes": ("open", {"approver", "admin"},
                        lambda s, a, cr, raw: RequestChanges(s, a, cr.id, "rename it").execute()),
    "reject": ("open", {"approver", "admin"}, lambda s, a, cr, raw: RejectRequest(s, a, cr.id, "not needed").execute()),
    "merge": ("approved", {"admin"}, lambda s, a, cr, raw: MergeRequest(s, a, cr.id).execute()),
    "resubmit": ("changes_requested", {"requester"},
                 lambda s, a, cr, raw: ResubmitRequest(s, a, cr.id, raw).execute()),
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_request_action_for_each_viewer(services, people, new_user_raw, action):
    state, allowed, run = ACTIONS[action]
    for i, who in enumerate(VIEWERS):
        name = f"user_{action}_{i}"
        cr = _open_request(services, people, new_user_raw, name, state)
        before = services.changes.get(cr.id)
        if who in allowed:
            run(services, _actor(people, who), cr, new_user_raw(name, business_roles=["FINANCE_ANALYST"]))
            assert services.audit.search()[0].outcome == "ok", (action, who)
        else:
            with pytest.raises(ChangeError):
                run(services, _actor(people, who), cr, new_user_raw(name, business_roles=["FINANCE_ANALYST"]))
            after = services.changes.get(cr.id)
            assert (after.status, after.head_sha) == (before.status, before.head_sha), (action, who)  # nothing changed
            last = services.audit.search()[0]
            assert (last.actor, last.action, last.request_id, last.outcome) == \
                (_actor(people, who).username, action, cr.id, "refused"), (action, who)


def test_submit_and_unlock_for_each_viewer(services, people, new_user_raw):
    base = services.changes.base_head()
    for i, who in enumerate(VIEWERS):
        if who == "signed-out":
            with pytest.raises(ChangeError, match="sign in"):
                SubmitRequest(services, SIGNED_OUT, RECIPE, new_user_raw(f"u{i}"), base).execute()
        else:
            assert SubmitRequest(services, people[who], RECIPE, new_user_raw(f"u{i}"), base).execute().requester == who
        services.lockout().record_failure("approver")
        if who == "admin":
            assert UnlockLogin(services, people[who], "approver").execute() is True
        else:
            with pytest.raises(ChangeError, match="only admins" if who != "signed-out" else "sign in"):
                UnlockLogin(services, _actor(people, who), "approver").execute()
            assert services.lockout().status()["approver"][0] >= 1
    assert [(r.actor, r.action, r.outcome) for r in reversed(services.audit.search())] == [
        ("requester", "submit", "ok"), ("requester", "unlock_login", "refused"),
        ("approver", "submit", "ok"), ("approver", "unlock_login", "refused"),
        ("admin", "submit", "ok"), ("admin", "unlock_login", "ok"),
        ("", "submit", "refused"), ("", "unlock_login", "refused"),
    ]
