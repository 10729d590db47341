"""Issue 25: no effect without its record, whatever step a process dies at. Each operation (submit,
approve, merge) runs in a subprocess that SNOWTOWER_CRASH_AT kills (os._exit, as kill -9 leaves it) at a
named step (core.faults.crash_point); the next start repairs the workspace and completes the audit log:
every intent has its outcome, and every effect found (a request opened, an approval, a deployment) has
an "ok" record of its operation."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.audit_record import INTENT, OK, AuditQuery
from app.operations import ApproveRequest, SubmitRequest
from app.services import build_services
from app.settings import load_settings
from core.changes.model import Status
from core.faults import CRASH_EXIT
from recipes import RECIPES

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys
from app.operations import ApproveRequest, MergeRequest, SubmitRequest
from app.services import build_services
from app.settings import load_settings
from core.changes.model import Actor
from recipes import RECIPES

workspace, operation, request_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
raw = json.loads(sys.stdin.read())
services = build_services(load_settings(workspace))
admin = Actor("admin", roles=("requester", "approver", "admin"))
if operation == "submit":
    SubmitRequest(services, Actor("requester", roles=("requester",)), RECIPES["new-user"], raw,
                  services.changes.base_head()).execute()
elif operation == "approve":
    ApproveRequest(services, Actor("approver", roles=("requester", "approver")), request_id).execute()
else:
    MergeRequest(services, admin, request_id).execute()
print("finished")
"""

STEPS = {
    "submit": ["submit.after_intent", "submit.after_commit", "submit.after_ref", "submit.before_outcome"],
    "approve": ["approve.after_intent", "approve.before_commit", "approve.before_outcome"],
    "merge": ["merge.after_intent", "merge.after_ref", "merge.after_merge", "merge.after_deploy", "merge.before_outcome"],
}
# Steps after which the effect is done: the repair writes "ok"; before them, "failed" (nothing happened).
EFFECT_DONE = {"submit.before_outcome", "approve.before_outcome", "merge.after_ref", "merge.after_merge",
               "merge.after_deploy", "merge.before_outcome"}


def run_child(workspace: Path, operation: str, request_id: int, raw: dict, step: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SNOWTOWER_CRASH_AT": step, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", CHILD, str(workspace), operation, str(request_id)], input=json.dumps(raw),
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def assert_complete(services) -> None:
    """Every intent has its outcome; every request, approval and deployment has its ok record."""
    records = services.audit.records()
    by_op: dict[str, list] = {}
    for r in records:
        by_op.setdefault(r.operation_id, []).append(r)
    for op, group in by_op.items():
        if op and group[0].outcome == INTENT:
            assert len(group) == 2 and group[1].outcome != INTENT, group
    assert services.audit.open_intents() == []
    oks = [r for r in records if r.outcome == OK]
    for cr in services.changes.list():
        assert [r for r in oks if r.action == "submit" and r.request_id == cr.id], f"{cr.ref} opened without a record"
        for review in services.changes.reviews(cr):
            if review.decision == "approve":
                assert [r for r in oks if r.action == "approve" and r.request_id == cr.id and r.actor == review.reviewer]
        if cr.status in (Status.MERGED, Status.DEPLOYED):
            assert [r for r in oks if r.action == "merge" and r.request_id == cr.id], f"{cr.ref} deployed without a merge record"


@pytest.mark.parametrize("step", [s for steps in STEPS.values() for s in steps])
def test_a_process_killed_at_any_step_leaves_intent_and_outcome_complete_after_repair(tmp_path, people, new_user_raw, step):
    workspace = tmp_path / "workspace"
    services = build_services(load_settings(workspace))
    operation = step.split(".")[0]
    request_id = 0
    raw = new_user_raw("crash_user")
    if operation != "submit":
        recipe = RECIPES["new-user"]
        cr = SubmitRequest(services, people["requester"], recipe, new_user_raw("jane_doe"), services.changes.base_head()).execute()
        if operation == "merge":
            ApproveRequest(services, people["approver"], cr.id, head_sha=cr.head_sha).execute()
        request_id = cr.id
    main = services.changes.base_head()

    proc = run_child(workspace, operation, request_id, raw, step)
    assert proc.returncode == CRASH_EXIT, proc.stderr[-2000:]

    after = build_services(load_settings(workspace))  # the next start: repair
    assert_complete(after)
    intent = [r for r in after.audit.records() if r.action == operation and r.outcome == INTENT][-1]
    outcome = [r for r in after.audit.search(AuditQuery(action=operation)) if r.operation_id == intent.operation_id]
    assert len(outcome) == 1
    if step in EFFECT_DONE:
        assert outcome[0].outcome == OK and outcome[0].reason.startswith("completed by the repair"), outcome
    else:
        assert outcome[0].outcome == "failed" and "interrupted" in outcome[0].reason, outcome
    if operation == "merge":
        cr = after.changes.get(request_id)
        assert (cr.status == Status.DEPLOYED) == (step in EFFECT_DONE)
        assert (after.changes.base_head() != main) == (step in EFFECT_DONE)
        if step in EFFECT_DONE:  # the repaired merge's record carries the merged commit
            assert outcome[0].commit_after == cr.merged_sha
    if operation == "submit":
        opened = after.changes.list(requester="requester")
        assert bool(opened) == (step in EFFECT_DONE)
        if opened:
            assert outcome[0].request_id == opened[0].id
    assert after.audit.verify().ok
