"""Trying to break expiry (issue 15): each test is an attack or a newcomer's mistake that worked before
its fix (docs/security.md, "Expiry and the kept baseline")."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from app.audit import AuditQuery
from app.operations import ApproveRequest
from app.operations.expire import EXPIRY_ACTOR, POLICY_ACTOR, ExpireAccess
from core import expiry
from core.changes.base import ChangeError
from core.changes.model import Status
from tests.test_expire import UNTIL, WHY, at, grant_until, submit


def test_two_expire_submit_runs_at_once_open_one_request_per_ended_grant(services, people, monkeypatch):
    """A cron run and a run by hand at the same moment: both read the requests before either opened
    one. Before: two revoke requests for the same grant."""
    from app.operations import expire as expire_module
    from app.services import build_services

    grant_until(services, people)
    other = build_services(services.settings)  # a second process on the same workspace
    for s in (services, other):
        s.clock = at(UNTIL + dt.timedelta(days=1))
    both_listed = threading.Barrier(2, timeout=3)
    original = expire_module.ExpireAccess._open

    def open_after_both_listed(self, p):
        try:
            both_listed.wait()  # with the job's lock the other run never gets here while this one runs
        except threading.BrokenBarrierError:
            pass
        return original(self, p)

    monkeypatch.setattr(expire_module.ExpireAccess, "_open", open_after_both_listed)
    errors = []

    def run(s):
        try:
            ExpireAccess(s, submit=True, stale_days=0).execute()
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in (services, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    opened = [cr for cr in services.changes.list() if cr.requester == EXPIRY_ACTOR.username]
    assert [(cr.recipe, cr.request["business_roles"]) for cr in opened] == [("revoke-role", ["ANALYST"])]


def test_the_expiry_policy_approves_nothing_but_the_job_s_revoke_of_an_ended_grant(services, people):
    """The policy identity holds the approver role (written in code). The guard that it approves only
    the job's revokes of grants that ended, and only while expiry_auto_approve is on, must be in the
    operation, not only in the job that calls it. Before: it approved anything it was handed."""
    services.settings = services.settings.model_copy(update={"expiry_auto_approve": True})
    # A person's grant request: never the policy's to approve.
    cr = submit(services, people["requester"], "grant-role",
                {"name": "MOKAFOR", "business_roles": ["ANALYST"], "justification": WHY})
    with pytest.raises(ChangeError, match="expiry policy"):
        ApproveRequest(services, POLICY_ACTOR, cr.id, "policy", cr.head_sha).execute()
    assert services.changes.get(cr.id).status == Status.OPEN
    # A revoke a person asked for (not the job) of a role held for good: not an ended grant.
    revoke = submit(services, people["requester"], "revoke-role",
                    {"name": "MOKAFOR", "business_roles": ["DATA_ENGINEER"], "justification": WHY})
    with pytest.raises(ChangeError, match="expiry policy"):
        ApproveRequest(services, POLICY_ACTOR, revoke.id, "policy", revoke.head_sha).execute()
    refused = services.audit.search(AuditQuery(actor=POLICY_ACTOR.username))
    assert [(r.action, r.outcome, r.request_id) for r in refused] == [("approve", "refused", revoke.id),
                                                                       ("approve", "refused", cr.id)]


def test_the_expiry_policy_approves_nothing_while_the_setting_is_off(services, people):
    grant_until(services, people)
    services.clock = at(UNTIL + dt.timedelta(days=1))
    [p] = ExpireAccess(services, submit=True, stale_days=0).execute().proposals
    assert p.opened and not p.approved
    with pytest.raises(ChangeError, match="expiry_auto_approve"):
        ApproveRequest(services, POLICY_ACTOR, p.opened.id, "policy", p.opened.head_sha).execute()
    assert services.changes.get(p.opened.id).status == Status.OPEN


def test_the_expiry_policy_does_not_approve_the_job_s_revoke_of_a_grant_that_has_not_ended(services, people):
    """The job's revoke, but the end date was moved later on the base meanwhile (a renewal merged):
    approving it by policy would take away access that has not ended."""
    services.settings = services.settings.model_copy(update={"expiry_auto_approve": True})
    grant_until(services, people)
    services.clock = at(UNTIL + dt.timedelta(days=1))
    cr = submit(services, EXPIRY_ACTOR, "revoke-role",
                {"name": "MOKAFOR", "business_roles": ["ANALYST"], "justification": "Time-bound access ended."})
    services.clock = at(UNTIL - dt.timedelta(days=1))  # or the clock says it has not ended
    with pytest.raises(ChangeError, match="has not ended"):
        ApproveRequest(services, POLICY_ACTOR, cr.id, "policy", cr.head_sha).execute()


@pytest.mark.parametrize("text", [
    # the same grant twice: YAML keeps the last copy, and a reviewer reads the first
    'MOKAFOR:\n  ANALYST:\n    until: 2026-01-01\n    reason: "a"\n  ANALYST:\n    until: 2099-01-01\n    reason: "b"\n',
    # the same user twice
    'MOKAFOR:\n  ANALYST:\n    until: 2026-01-01\n    reason: "a"\nMOKAFOR:\n  ANALYST:\n    until: 2099-01-01\n    reason: "b"\n',
    # the same user under two spellings
    'MOKAFOR:\n  ANALYST:\n    until: 2026-01-01\n    reason: "a"\nmokafor:\n  analyst:\n    until: 2099-01-01\n    reason: "b"\n',
])
def test_a_grant_written_twice_in_the_expiry_file_is_an_error(text):
    """Before: the last copy silently won (a later end date hidden below an earlier one)."""
    grants, problems = expiry.parse(text)
    assert [p.message for p in problems if "more than once" in p.message], problems
    assert len(grants) <= 1


def test_aliases_in_the_expiry_file_cannot_blow_up_a_reason():
    """A 1 KB file whose reason is an alias of an alias of ... (YAML keeps them as references): read as
    text, the reason would be 10**9 characters. Before: str() of it ran out of memory."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    text = "x:\n" + "\n".join("  " + line for line in lines) + "\n" + \
        "MOKAFOR:\n  ANALYST:\n    until: 2026-01-01\n    reason: *a9\n"
    assert len(text) < 2_000
    grants, problems = expiry.parse(text)
    assert grants == [] and any(p.object == "MOKAFOR ANALYST" and "reason must be text" in p.message for p in problems)
