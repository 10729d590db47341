"""Issue 25 with the GitHub backend: the audit head anchored on each merged commit as a commit status
(context snowtower/audit, https://docs.github.com/en/rest/commits/statuses), outside the audit store.
A merge leaves one; `snowtower audit verify` reads every one (superseded ones included) and catches a log
rewritten consistently from scratch; GitHub out of reach makes verify say the check is incomplete (exit
2) unless --offline; a status GitHub refuses neither undoes nor blocks the merge (the next merge anchors
the head again); a process killed after the merge is completed, anchor included, by the repair. And the
test server refuses statuses as GitHub does."""
from __future__ import annotations

import logging
import sqlite3

import pytest
import requests

from app.audit_record import GENESIS, OK, AuditRecord, verify_chain
from app.audit_anchor import anchor_text
from app.operations import ApproveRequest, MergeRequest, PreviewRequest, SubmitRequest
from app.services import build_services
from app.settings import load_settings
from core.changes.github.statuses import AUDIT_CONTEXT
from core.changes.model import Status
from core.faults import CRASH_EXIT
from portal import cli
from recipes import RECIPES
from tests.github_server import STATUSES_PER_CONTEXT
from tests.github_support import as_user, github, github_template, gh_services  # noqa: F401 (fixtures)
from tests.test_audit_chain import INSERT, row_of


def merged(services, people, raw):
    recipe = RECIPES["new-user"]
    base = services.changes.base_head()
    assert not PreviewRequest(services, recipe, raw, base).execute().field_errors
    cr = SubmitRequest(services, people["requester"], recipe, raw, base).execute()
    ApproveRequest(services, people["approver"], cr.id, head_sha=cr.head_sha).execute()
    return MergeRequest(services, people["admin"], cr.id).execute()


def audit_statuses(server, sha: str) -> list[dict]:
    return [s for s in server.statuses.get(sha, []) if s["context"] == AUDIT_CONTEXT]


def verify(services, capsys, *extra) -> tuple[int, str, str]:
    code = cli.main(["audit", "verify", "--workspace", str(services.workspace.root), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def rewrite_whole_log(services, actor: str = "mallory") -> None:
    """Every approval's actor replaced and every hash recomputed: a chain consistent in itself, written by
    someone holding the database file and the algorithm."""
    prev, forged = GENESIS, []
    for r in services.audit.records():
        f = AuditRecord(**{**r.__dict__, "actor": actor if r.action == "approve" else r.actor}).chained(r.seq, prev)
        forged.append(f)
        prev = f.hash
    db = sqlite3.connect(services.workspace.db_path)
    for trigger in ("audit_log_no_update", "audit_log_no_delete", "audit_log_append_only"):
        db.execute(f"DROP TRIGGER {trigger}")
    db.execute("DELETE FROM audit_log")
    db.executemany(INSERT.replace("{t}", "audit_log"), [row_of(f) for f in forged])
    db.commit()
    db.close()
    assert verify_chain(services.audit.records()).ok  # the chain alone cannot tell


def test_a_merge_through_github_leaves_a_status_with_the_audit_head(gh_services, github, people, new_user_raw):
    cr = merged(gh_services, people, new_user_raw())
    assert cr.merged_sha and github.git.branch_head("main") == cr.merged_sha
    statuses = audit_statuses(github, cr.merged_sha)
    assert len(statuses) == 1
    status = statuses[0]
    assert status["state"] == "success" and status["creator"]["login"] == "snowtower-bot"
    records = gh_services.audit.records()
    outcome = [r for r in records if r.action == "merge" and r.outcome == OK][-1]
    # The head at the merge, its own outcome included.
    assert status["description"] == anchor_text(outcome.seq, outcome.hash)
    assert outcome.commit_after == cr.merged_sha
    assert len(status["description"]) <= 140


@pytest.mark.audit_tampered
def test_verify_reads_the_github_anchors_and_catches_a_log_rewritten_from_scratch(gh_services, github, people,
                                                                                  new_user_raw, capsys):
    first = merged(gh_services, people, new_user_raw("jane_doe"))
    second = merged(gh_services, people, new_user_raw("john_roe"))
    # A status in the same context by another writer is not an anchor: never read as one.
    as_user(github, "alice-token").get_commit(first.merged_sha).create_status(
        "success", description=anchor_text(1, "0" * 64), context=AUDIT_CONTEXT)
    code, out, err = verify(gh_services, capsys)
    assert code == 0, (out, err)
    assert "intact" in out and "2 anchor(s) checked on 2 merged commit(s) on GitHub" in out, out

    rewrite_whole_log(gh_services)
    code, out, _ = verify(gh_services, capsys)
    assert code == 1 and "the log was rewritten" in out, out
    # The anchor it contradicts is named: the first merge's status, on its merged commit and pull request.
    assert f"on GitHub (status {AUDIT_CONTEXT} on commit {first.merged_sha[:12]} of #{first.id}" in out, out

    # Whoever holds the portal's token can post newer statuses agreeing with the forged log: the older ones
    # stay in GitHub's list of the commit's statuses, and verify reads them all.
    bot = as_user(github, "bot-token")
    for cr in (first, second):
        seq = int(audit_statuses(github, cr.merged_sha)[-1]["description"].split("seq=")[1].split()[0])
        forged = next(r for r in gh_services.audit.records() if r.seq == seq)
        bot.get_commit(cr.merged_sha).create_status("success", description=anchor_text(seq, forged.hash),
                                                    context=AUDIT_CONTEXT)
    code, out, _ = verify(gh_services, capsys)
    assert code == 1 and "the log was rewritten" in out and first.merged_sha[:12] in out, out


@pytest.mark.audit_tampered
def test_verify_without_github_says_the_check_is_incomplete(gh_services, github, people, new_user_raw, capsys):
    merged(gh_services, people, new_user_raw())
    github.fail("GET", r"/pulls$", "502", times=50)
    code, out, err = verify(gh_services, capsys)
    assert code == 2, (out, err)
    assert "intact" in out and "the anchors on GitHub could not be read" in err and "--offline" in err, err
    code, out, err = verify(gh_services, capsys, "--offline")
    assert code == 0 and "intact" in out and "the anchors on GitHub were not checked (--offline)" in out, (out, err)
    # A broken chain is broken whether GitHub answers or not.
    rewrite_whole_log(gh_services)
    db = sqlite3.connect(gh_services.workspace.db_path)
    db.execute("UPDATE audit_log SET actor = 'eve' WHERE seq = 2")
    db.commit()
    db.close()
    for extra in ((), ("--offline",)):
        code, out, _ = verify(gh_services, capsys, *extra)
        assert code == 1 and "broken at record #2" in out, out


def test_a_refused_status_neither_undoes_nor_blocks_the_merge(gh_services, github, people, new_user_raw, caplog):
    github.fail("POST", r"/statuses/[0-9a-f]{40}$", "422", times=1)
    with caplog.at_level(logging.WARNING, logger="app.audit_anchor"):
        first = merged(gh_services, people, new_user_raw("jane_doe"))
    assert first.status in (Status.MERGED, Status.DEPLOYED) and github.git.branch_head("main") == first.merged_sha
    assert audit_statuses(github, first.merged_sha) == []
    assert any("could not be anchored" in r.getMessage() for r in caplog.records)
    assert [r for r in gh_services.audit.records() if r.action == "merge" and r.outcome == OK and r.request_id == first.id]
    # The next merge anchors the head, which covers the first merge's records through the chain.
    second = merged(gh_services, people, new_user_raw("john_roe"))
    status = audit_statuses(github, second.merged_sha)[0]
    first_outcome = next(r for r in gh_services.audit.records() if r.action == "merge" and r.request_id == first.id
                         and r.outcome == OK)
    assert int(status["description"].split("seq=")[1].split()[0]) > first_outcome.seq


def test_a_merge_killed_before_its_status_is_anchored_by_the_repair(gh_services, github, people, new_user_raw,
                                                                      tmp_path):
    from tests.test_crash_audit import run_child

    recipe = RECIPES["new-user"]
    base = gh_services.changes.base_head()
    cr = SubmitRequest(gh_services, people["requester"], recipe, new_user_raw(), base).execute()
    ApproveRequest(gh_services, people["approver"], cr.id, head_sha=cr.head_sha).execute()
    proc = run_child(gh_services.workspace.root, "merge", cr.id, {}, "merge.after_merge")
    assert proc.returncode == CRASH_EXIT, proc.stderr[-2000:]
    merged_sha = github.pulls[cr.id].merge_commit_sha
    assert merged_sha and audit_statuses(github, merged_sha) == []  # merged on GitHub, nothing recorded or anchored

    after = build_services(load_settings(gh_services.workspace.root))  # the next start: the repair
    outcome = next(r for r in after.audit.records() if r.action == "merge" and r.outcome == OK)
    assert outcome.reason.startswith("completed by the repair") and outcome.commit_after == merged_sha
    statuses = audit_statuses(github, merged_sha)
    assert [s["description"] for s in statuses] == [anchor_text(*after.audit.head())]
    assert int(statuses[0]["description"].split("seq=")[1].split()[0]) >= outcome.seq


# -- the test server refuses statuses as GitHub does ---------------------------------------------------

def post_status(server, sha: str, token: str = "bot-token", **body) -> requests.Response:
    return requests.post(f"{server.repo_url}/statuses/{sha}", json=body, timeout=10,
                         headers={"Authorization": f"token {token}", "Accept": "application/vnd.github+json"})


def test_the_test_server_refuses_statuses_as_github_does(github):
    sha = github.git.branch_head("main")
    ok = post_status(github, sha, state="success", context=AUDIT_CONTEXT, description="x")
    assert ok.status_code == 201 and ok.json()["creator"]["login"] == "snowtower-bot"
    unknown = post_status(github, "1" * 40, state="success")
    assert unknown.status_code == 422 and unknown.json()["message"] == f"No commit found for SHA: {'1' * 40}"
    assert post_status(github, sha, state="done").status_code == 422
    long = post_status(github, sha, state="success", description="d" * 141)
    assert long.status_code == 422 and "maximum is 140 characters" in long.json()["errors"][0]["message"]
    assert post_status(github, sha, "mallory-token", state="success").status_code == 403  # read access only
    # 1000 per sha and context (case-insensitive), others unaffected.
    github.statuses[sha] = [dict(github.statuses[sha][0], id=i) for i in range(STATUSES_PER_CONTEXT)]
    full = post_status(github, sha, state="success", context=AUDIT_CONTEXT.upper())
    assert full.status_code == 422 and "maximum number of statuses" in full.json()["errors"][0]["message"]
    assert post_status(github, sha, state="pending", context="ci").status_code == 201
    # Listed newest first, paged.
    listed = requests.get(f"{github.repo_url}/commits/{sha}/statuses", params={"per_page": 100}, timeout=10,
                          headers={"Authorization": "token bot-token"})
    assert listed.status_code == 200 and listed.json()[0]["context"] == "ci" and 'rel="next"' in listed.headers["Link"]


def test_only_commit_ids_from_the_log_reach_github():
    """The log may be the tampered part: a merge record's commit that is no commit id (a path, a query)
    never becomes part of a URL the portal's token requests."""
    from app.audit_anchor import read_github_anchors

    asked = []

    class Backend:
        def merged_commits(self):
            return [(3, "a" * 40)]

        def statuses(self, sha, context):
            asked.append(sha)
            return [{"description": anchor_text(2, "b" * 64), "created_at": "2026-01-02T03:04:05Z"}]

    anchors, commits = read_github_anchors(Backend(), ["../../collaborators", "c" * 40 + "?x=1", "d" * 40, ""])
    assert asked == ["a" * 40, "d" * 40] and commits == 2
    assert [(a.seq, a.digest) for a in anchors] == [(2, "b" * 64)] * 2
    assert "commit aaaaaaaaaaaa of #3, 2026-01-02T03:04:05Z" in anchors[0].where


def test_the_portal_login_set_in_another_case_still_finds_its_pull_requests_and_anchors(gh_services, github, people,
                                                                                        new_user_raw):
    """GitHub logins are case-insensitive: github_portal_login = "SnowTower-BOT" is the account GitHub names
    snowtower-bot. Compared as typed, the portal's own pull requests were strangers' (no request could be
    read) and `audit verify` found no anchor to check."""
    from app.audit_anchor import read_github_anchors

    gh_services.changes._login = "SnowTower-BOT"  # as the setting spells it
    cr = merged(gh_services, people, new_user_raw())
    assert cr.status == Status.DEPLOYED or cr.merged_sha
    assert len(audit_statuses(github, cr.merged_sha)) == 1
    anchors, commits = read_github_anchors(gh_services.changes)
    assert commits == 1 and len(anchors) == 1
