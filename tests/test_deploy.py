"""Deployment goes through the change backend's interface (ChangeBackend.deploy), not `if mode ==`:
the demo's backend deploys on merge, once; a backend whose workflow deploys leaves the request merged."""
from __future__ import annotations

import sqlite3

from app.operations import ApproveRequest, MergeRequest, PreviewRequest, SubmitRequest
from core.changes.model import Status
from recipes import RECIPES

RECIPE = RECIPES["new-user"]


def approved(services, people, raw):
    base = PreviewRequest(services, RECIPE, raw).execute().base_sha
    cr = SubmitRequest(services, people["requester"], RECIPE, raw, base).execute()
    ApproveRequest(services, people["approver"], cr.id).execute()
    return cr


def deployments(services) -> list:
    with sqlite3.connect(services.workspace.db_path) as db:
        return db.execute("SELECT sha, request_id, actor FROM deployments").fetchall()


def test_the_demo_backend_deploys_on_merge_once(services, people, new_user_raw):
    cr = approved(services, people, new_user_raw())
    merged = MergeRequest(services, people["admin"], cr.id).execute()
    assert merged.status == Status.DEPLOYED and services.store.deployed_sha() == merged.merged_sha
    again = services.changes.deploy(merged, people["admin"])  # idempotent: nothing recorded twice
    assert again.status == Status.DEPLOYED
    assert [d for d in deployments(services) if d[1] == cr.id] == [(merged.merged_sha, cr.id, "admin")]
    assert [e.action for e in services.changes.events(merged)][-2:] == ["merged", "deployed"]


def test_a_backend_whose_workflow_deploys_leaves_the_request_merged(services, people, new_user_raw):
    services.changes.deploys_on_merge = False  # as in production: the merge-deploy workflow deploys
    before = deployments(services)
    cr = approved(services, people, new_user_raw())
    merged = MergeRequest(services, people["admin"], cr.id).execute()
    assert merged.status == Status.MERGED and deployments(services) == before
    assert services.changes.repair() == [] and services.changes.get(cr.id).status == Status.MERGED
