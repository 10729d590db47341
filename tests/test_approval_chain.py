"""The approval chain on the local backend (real git, real SQLite): approvals bound to content, one
status rule computed inside the write, review actions bound to the request on screen, and no stuck
state after a crash at any step. The same attacks on GitHub: tests/test_github_trust.py."""
import threading

import pytest
import yaml

from core.changes.approval import changed_lines, same_change, status_from_reviews
from core.changes.base import AlreadyResolved, ChangeError, HeadMoved, ReturnedToReview
from core.changes.git import GitRepo
from core.changes.local import LocalChanges
from core.changes.model import Review, Status
from app.operations import (ApproveRequest, MergeRequest, PreviewRequest, RejectRequest, RequestChanges,
                               ResubmitRequest, SubmitRequest)
from app.operations.shared.guards import approvals
from recipes import RECIPES
from tests.identity_support import give_login


def submit(services, actor, recipe_name, raw):
    recipe = RECIPES[recipe_name]
    preview = PreviewRequest(services, recipe, raw).execute()
    assert preview.ok, (preview.field_errors, preview.validation)
    return SubmitRequest(services, actor, recipe, raw, preview.base_sha).execute()


def on_main(services, rel):
    repo = services.changes.repo
    return yaml.safe_load(repo.read_text(repo.branch_head("main"), f"snowddl/{rel}"))


def with_approvals(services, n):
    services.settings = services.settings.model_copy(update={"required_approvals": n})
    services.changes.required_approvals = n
    return services


# -- the one status rule ---------------------------------------------------------------------------

def test_status_rule_counts_distinct_reviewers_and_only_approvals_of_the_current_content():
    r = lambda who, decision, head="h1": Review(1, who, decision, "", "t", head)  # noqa: E731
    assert status_from_reviews([r("a", "approve")], "req", 1) == Status.APPROVED
    assert status_from_reviews([r("a", "approve"), r("a", "approve")], "req", 2) == Status.OPEN  # one person, one vote
    assert status_from_reviews([r("req", "approve")], "req", 1) == Status.OPEN  # never the requester
    assert status_from_reviews([r("a", "approve"), r("b", "request_changes")], "req", 1) == Status.CHANGES_REQUESTED
    assert status_from_reviews([r("a", "approve"), r("b", "reject")], "req", 1) == Status.REJECTED  # final
    # A resubmission voids earlier decisions; an approval of the replaced head recorded after it does not count.
    assert status_from_reviews([r("a", "approve"), r("req", "resubmit", "h2")], "req", 1) == Status.OPEN
    assert status_from_reviews([r("req", "resubmit", "h2"), r("a", "approve", "h1")], "req", 1) == Status.OPEN
    assert status_from_reviews([r("req", "resubmit", "h2"), r("a", "approve", "h2")], "req", 1) == Status.APPROVED
    # A rebase (same change, newer base) keeps decisions and accepts approvals of the new head.
    assert status_from_reviews([r("a", "void", "h2"), r("x", "rebase", "h3"), r("a", "approve", "h3")], "req", 1) == Status.APPROVED


def test_diffs_compare_by_added_and_removed_lines_not_context():
    one = "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n ctx\n-  size: SMALL\n+  size: LARGE\n"
    moved = "--- a/f\n+++ b/f\n@@ -7,3 +7,3 @@\n other\n-  size: SMALL\n+  size: LARGE\n"
    other = "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n ctx\n-  size: MEDIUM\n+  size: LARGE\n"
    assert same_change(one, moved) and not same_change(one, other)
    assert changed_lines("--- a/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-x: 1\n") == [("gone", "-x: 1")]


# -- approvals bound to content --------------------------------------------------------------------

def test_two_simultaneous_approvals_with_two_required_give_approved(services, people, new_user_raw):
    from core.changes.model import Actor

    with_approvals(services, 2)
    cr = submit(services, people["requester"], "new-user", new_user_raw())
    second = Actor("blake", "Blake Approver", "", ("approver",))
    give_login(services.workspace.auth_path, second)
    barrier = threading.Barrier(2)
    errors = []

    def approve(actor):
        barrier.wait()
        try:
            ApproveRequest(services, actor, cr.id, head_sha=cr.head_sha).execute()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(a,)) for a in (people["approver"], second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    cr = services.changes.get(cr.id)
    assert cr.status == Status.APPROVED and approvals(services, cr) == ["approver", "blake"]


def test_an_approval_of_a_head_that_moved_is_refused_and_records_nothing(services, people, new_user_raw):
    cr = submit(services, people["requester"], "new-user", new_user_raw())
    RequestChanges(services, people["admin"], cr.id, "Use DATA_SCIENTIST").execute()
    seen = services.changes.get(cr.id)  # the approver's page is drawn now ...
    ResubmitRequest(services, people["requester"], cr.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    with pytest.raises(HeadMoved, match="changed since you opened it"):  # ... and the click comes after the resubmission
        ApproveRequest(services, people["approver"], cr.id, "ok", seen.head_sha).execute()
    with pytest.raises(HeadMoved):  # the backend checks again inside its write, whatever the caller did
        services.changes.review(seen, people["approver"], "approve", "", seen.head_sha)
    after = services.changes.get(cr.id)
    assert after.status == Status.OPEN and approvals(services, after) == []
    assert [r.decision for r in services.changes.reviews(after)] == ["request_changes", "resubmit"]


def test_a_resubmission_voids_approvals_in_the_write_that_moves_the_branch(services, people, new_user_raw):
    cr = submit(services, people["requester"], "new-user", new_user_raw())
    ApproveRequest(services, people["approver"], cr.id).execute()
    RequestChanges(services, people["admin"], cr.id, "Use DATA_SCIENTIST").execute()
    fixed = ResubmitRequest(services, people["requester"], cr.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    assert fixed.status == Status.OPEN and approvals(services, fixed) == []
    [void] = [r for r in services.changes.reviews(fixed) if r.decision == "resubmit"]
    assert void.head_sha == fixed.head_sha != cr.head_sha
    with pytest.raises(ChangeError, match="needs 1 approval"):
        MergeRequest(services, people["admin"], cr.id).execute()


def test_merging_a_rebuilt_change_that_differs_from_the_approved_one_sends_it_back_to_review(services, people):
    why = {"justification": "Month-end close needs more compute."}
    medium = submit(services, people["requester"], "change-warehouse", {"name": "ANALYST_WH", "size": "MEDIUM", **why})
    large = submit(services, people["approver"], "change-warehouse", {"name": "ANALYST_WH", "size": "LARGE", **why})
    ApproveRequest(services, people["approver"], medium.id).execute()
    ApproveRequest(services, people["admin"], large.id).execute()
    MergeRequest(services, people["admin"], large.id).execute()
    # Approved: SMALL -> MEDIUM (+2 credits/hour). Rebuilt on main now: LARGE -> MEDIUM. Not what was approved.
    with pytest.raises(ReturnedToReview, match="differs from the approved one: approvals were voided"):
        MergeRequest(services, people["admin"], medium.id).execute()
    back = services.changes.get(medium.id)
    assert back.status == Status.OPEN and approvals(services, back) == []
    assert on_main(services, "warehouse.yaml")["ANALYST_WH"]["size"] == "LARGE"  # nothing merged
    assert "+  size: MEDIUM" in services.changes.diff(back) and "-  size: LARGE" in services.changes.diff(back)
    assert [e.action for e in services.changes.events(back)][-1] == "voided"
    # A new approval of the rebuilt change merges it.
    ApproveRequest(services, people["approver"], medium.id, head_sha=back.head_sha).execute()
    assert MergeRequest(services, people["admin"], medium.id).execute().status == Status.DEPLOYED
    assert on_main(services, "warehouse.yaml")["ANALYST_WH"]["size"] == "MEDIUM"


def test_a_rebuild_never_brings_back_an_item_removed_elsewhere(services, people):
    """Two requests on one role, built on the same base: one removes STRIPE_READ, the other adds a
    technical role. Merging the second after the first must not bring STRIPE_READ back."""
    base = services.snapshot()
    now = RECIPES["change-business-role"].current(base, "FINANCE_ANALYST")
    why = "Quarterly access review."
    remove = submit(services, people["requester"], "change-business-role",
                    {**now, "name": "FINANCE_ANALYST", "technical_roles": ["SCRATCH_CREATE"], "justification": why})
    add = submit(services, people["requester"], "change-business-role",
                 {**now, "name": "FINANCE_ANALYST", "schema_read": now["schema_read"] + ["ANALYTICS.MARKETING"],
                  "justification": why})
    assert add.request["schema_read_add"] == ["ANALYTICS.MARKETING"] and "technical_roles" not in add.request
    for cr in (remove, add):
        ApproveRequest(services, people["approver"], cr.id).execute()
    MergeRequest(services, people["admin"], remove.id, confirm_unsafe=True).execute()  # it revokes STRIPE_READ
    merged = MergeRequest(services, people["admin"], add.id).execute()
    assert merged.status == Status.DEPLOYED  # the same lines added: the approval stands
    role = on_main(services, "business_role.yaml")["FINANCE_ANALYST"]
    assert role["technical_roles"] == ["SCRATCH_CREATE"] and "ANALYTICS.MARKETING" in role["schema_read"]


def test_a_rebuilt_commit_keeps_the_requester_as_author_and_the_merger_as_committer(services, people, new_user_raw):
    first = submit(services, people["requester"], "new-user", new_user_raw("first_user"))
    second = submit(services, people["requester"], "new-user", new_user_raw("second_user"))
    for cr in (first, second):
        ApproveRequest(services, people["approver"], cr.id).execute()
    MergeRequest(services, people["admin"], first.id).execute()
    merged = MergeRequest(services, people["admin"], second.id).execute()
    assert merged.head_sha != second.head_sha  # rebuilt on the new main
    who = services.changes.repo.git("log", "-1", "--format=%an <%ae>|%cn <%ce>", merged.merged_sha).strip()
    assert who == "Riley Requester <requester@snowtower.example>|Ada Admin <admin@snowtower.example>"


# -- actions bound to the request on screen ---------------------------------------------------------

def test_an_action_on_a_request_that_left_the_queue_names_who_and_touches_nothing_else(services, people, new_user_raw):
    first = submit(services, people["requester"], "new-user", new_user_raw("first_user"))
    second = submit(services, people["requester"], "new-user", new_user_raw("second_user"))
    for cr in (first, second):
        ApproveRequest(services, people["approver"], cr.id).execute()
    RejectRequest(services, people["approver"], first.id, "Duplicate").execute()
    with pytest.raises(AlreadyResolved, match=f"#{first.id} is already rejected by approver"):
        MergeRequest(services, people["admin"], first.id, first.head_sha).execute()
    MergeRequest(services, people["admin"], second.id).execute()
    with pytest.raises(AlreadyResolved, match=f"#{second.id} is already deployed by admin"):
        ApproveRequest(services, people["approver"], second.id).execute()
    assert services.changes.get(first.id).status == Status.REJECTED


def test_the_review_page_never_redirects_a_click_to_another_request(services, people, new_user_raw, monkeypatch):
    """An admin has #1 on screen; another browser rejects it; the admin's Merge click must not merge #2."""
    from streamlit.testing.v1 import AppTest

    from tests.portal_support import as_viewer
    from tests.test_pages import ROOT, TIMEOUT

    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(services.settings.workspace))
    first = submit(services, people["requester"], "new-user", new_user_raw("first_user"))
    second = submit(services, people["requester"], "new-user", new_user_raw("second_user"))
    for cr in (first, second):
        ApproveRequest(services, people["approver"], cr.id).execute()
    at = AppTest.from_file(str(ROOT / "pages" / "review.py"), default_timeout=TIMEOUT)
    as_viewer(at, people["admin"])
    at.run()
    at.button(key=f"review.card.{first.id}").click().run()  # opened by its card (or its row)
    assert at.subheader[0].value.startswith(f"{first.ref} ")
    RejectRequest(services, people["approver"], first.id, "Duplicate").execute()  # from another browser
    at = next(b for b in at.button if b.label == "Merge and deploy").click().run()
    assert any(f"{first.ref} is already rejected by approver; nothing was done." in e.value for e in at.error)
    assert services.changes.get(second.id).status == Status.APPROVED  # untouched
    assert not [s.value for s in at.success if "merged" in s.value]


# -- crashes leave no stuck state -------------------------------------------------------------------

class PowerCut(BaseException):
    """A process dying at that point: no `except Exception` of the code under test runs (a killed process
    runs none), only what the next start or action repairs counts."""


def crash_after(monkeypatch, obj, name, when=lambda *a, **k: True):
    """Make `obj.name` do its work, then die (as a process would) once `when(*args)` holds."""
    real = getattr(obj, name)

    def dying(*args, **kwargs):
        result = real(*args, **kwargs)
        if when(*args, **kwargs):
            monkeypatch.setattr(obj, name, real)
            raise PowerCut(f"crash after {name}")
        return result
    monkeypatch.setattr(obj, name, dying)


def restart(services):
    """A new process on the same workspace: what build_services does at start."""
    old = services.changes
    fresh = LocalChanges(GitRepo(old.repo.path), old.store, old.cache_dir, old.base_branch, old.config_dir,
                         old.required_approvals)
    repaired = fresh.repair()
    services.changes = fresh
    return repaired


def test_a_crash_between_moving_main_and_recording_the_merge_is_repaired_at_the_next_start(services, people, new_user_raw, monkeypatch):
    cr = submit(services, people["requester"], "new-user", new_user_raw())
    ApproveRequest(services, people["approver"], cr.id).execute()
    crash_after(monkeypatch, services.changes.repo, "update_ref", lambda ref, *a: ref == "refs/heads/main")
    with pytest.raises(PowerCut):
        MergeRequest(services, people["admin"], cr.id).execute()
    assert services.changes.store.get(cr.id).status == Status.APPROVED  # the record lags behind main
    assert restart(services) == [f"#{cr.id} recorded as merged at {cr.head_sha[:8]}"]
    after = services.changes.get(cr.id)
    assert after.status == Status.MERGED and after.merged_sha == cr.head_sha == services.changes.base_head()
    with pytest.raises(AlreadyResolved, match="already merged"):
        MergeRequest(services, people["admin"], cr.id).execute()


def test_in_the_demo_a_merge_whose_deployment_record_was_cut_off_is_deployed_at_the_next_start(services, people, new_user_raw, monkeypatch):
    from app.services import build_services

    cr = submit(services, people["requester"], "new-user", new_user_raw())
    ApproveRequest(services, people["approver"], cr.id).execute()
    crash_after(monkeypatch, services.changes.store, "add_deployment")
    with pytest.raises(PowerCut):
        MergeRequest(services, people["admin"], cr.id).execute()
    assert services.changes.store.get(cr.id).status == Status.MERGED  # the record, as the crash left it
    again = build_services(services.settings)  # the next start
    after = again.changes.get(cr.id)
    assert after.status == Status.DEPLOYED and again.store.deployed_sha() == after.merged_sha == again.changes.base_head()


def test_the_same_crash_is_repaired_by_the_next_action_without_a_restart(services, people, new_user_raw, monkeypatch):
    cr = submit(services, people["requester"], "new-user", new_user_raw())
    ApproveRequest(services, people["approver"], cr.id).execute()
    crash_after(monkeypatch, services.changes.repo, "update_ref", lambda ref, *a: ref == "refs/heads/main")
    with pytest.raises(PowerCut):
        MergeRequest(services, people["admin"], cr.id).execute()
    # The next read records the merge and, in the demo where merging deploys, the deployment too.
    assert [c.id for c in services.changes.list(statuses=[Status.DEPLOYED])] == [cr.id]
    assert services.store.deployed_sha() == cr.head_sha == services.changes.base_head()


@pytest.mark.parametrize("step", ["commit_files", "insert", "add_event", "update_ref"])
def test_a_submit_that_crashes_at_any_step_leaves_nothing_and_can_be_retried(services, people, new_user_raw, monkeypatch, step):
    target = services.changes.repo if step in ("commit_files", "update_ref") else services.changes.store
    crash_after(monkeypatch, target, step)
    with pytest.raises(PowerCut):
        submit(services, people["requester"], "new-user", new_user_raw())
    assert services.changes.list() == []
    restart(services)
    assert [b for b in services.changes.repo.heads() if b != "main"] == []  # no branch without a request
    cr = submit(services, people["requester"], "new-user", new_user_raw())
    assert cr.status == Status.OPEN and services.changes.repo.branch_head(cr.branch) == cr.head_sha


@pytest.mark.parametrize("step", ["commit_files", "add_review", "update_ref"])
def test_a_resubmit_that_crashes_at_any_step_changes_nothing_and_can_be_retried(services, people, new_user_raw, monkeypatch, step):
    cr = submit(services, people["requester"], "new-user", new_user_raw())
    cr = RequestChanges(services, people["approver"], cr.id, "Use DATA_SCIENTIST").execute()
    target = services.changes.repo if step in ("commit_files", "update_ref") else services.changes.store
    crash_after(monkeypatch, target, step)
    with pytest.raises(PowerCut):
        ResubmitRequest(services, people["requester"], cr.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    restart(services)
    same = services.changes.get(cr.id)
    assert (same.head_sha, same.status) == (cr.head_sha, Status.CHANGES_REQUESTED)
    assert services.changes.repo.branch_head(cr.branch) == cr.head_sha
    fixed = ResubmitRequest(services, people["requester"], cr.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    assert fixed.status == Status.OPEN and services.changes.repo.branch_head(cr.branch) == fixed.head_sha


# -- settings and storage of the model ----------------------------------------------------------------

def test_github_approvers_come_from_settings_toml_or_the_environment(tmp_path, monkeypatch):
    from app.settings import load_settings

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "settings.toml").write_text('[snowtower]\n\n[snowtower.github_approvers]\n"Alice-GH" = "alice"\n')
    assert load_settings(ws).github_approvers == {"alice-gh": "alice"}  # GitHub logins are case-insensitive
    monkeypatch.setenv("SNOWTOWER_GITHUB_APPROVERS", "bob-gh=bob, carol-gh=carol")
    assert load_settings(ws).github_approvers == {"bob-gh": "bob", "carol-gh": "carol"}
    monkeypatch.setenv("SNOWTOWER_GITHUB_APPROVERS", "bob-gh")
    with pytest.raises(ValueError, match="github_approvers: must map .*SNOWTOWER_GITHUB_APPROVERS"):
        load_settings(ws)


def test_the_signing_key_is_a_secret_generated_once_per_workspace_unless_given(tmp_path, monkeypatch):
    import stat

    from app.settings import load_settings, signing_key

    monkeypatch.delenv("SNOWTOWER_SIGNING_KEY", raising=False)
    settings = load_settings(tmp_path / "ws")
    key = signing_key(settings)
    assert len(key) == 64 and signing_key(settings) == key  # generated once, then reused
    assert stat.S_IMODE((tmp_path / "ws" / "signing.key").stat().st_mode) == 0o600
    assert signing_key(load_settings(tmp_path / "other")) != key
    monkeypatch.setenv("SNOWTOWER_SIGNING_KEY", "from-the-secret-store-0123456789ab")
    assert signing_key(load_settings(tmp_path / "ws")) == b"from-the-secret-store-0123456789ab"


def test_a_record_signature_covers_every_field():
    from core.changes import metadata as meta

    record = meta.sign({"recipe": "grant-role", "request": {"business_roles": ["ANALYST"]}, "head_sha": "a" * 40}, b"k")
    assert meta.verify(record, b"k") and not meta.verify(record, b"other key")
    for changed in ({"recipe": "revoke-role"}, {"request": {"business_roles": ["SYSADMIN"]}}, {"head_sha": "b" * 40}, {"extra": 1}):
        assert not meta.verify({**record, **changed}, b"k")
    assert not meta.verify({k: v for k, v in record.items() if k != "sig"}, b"k") and not meta.verify(None, b"k")


def test_a_workspace_made_before_reviews_had_a_head_commit_opens_and_keeps_its_reviews(tmp_path):
    import sqlite3

    from core.changes.store import Store

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE reviews (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id INTEGER NOT NULL,
                reviewer TEXT NOT NULL, decision TEXT NOT NULL, comment TEXT NOT NULL DEFAULT '', at TEXT NOT NULL);
            INSERT INTO reviews (request_id, reviewer, decision, comment, at) VALUES (1, 'approver', 'approve', '', 't');
        """)
    store = Store(path)
    assert store.reviews(1) == [Review(1, "approver", "approve", "", "t", "")]
    assert status_from_reviews(store.reviews(1), "requester", 1) == Status.APPROVED


def test_a_stored_role_change_is_intent_and_comes_back_to_the_form_as_whole_lists(services):
    recipe = RECIPES["change-business-role"]
    base = services.snapshot()
    now = recipe.current(base, "FINANCE_ANALYST")
    asked = {**now, "name": "FINANCE_ANALYST", "technical_roles": ["SCRATCH_CREATE", "CRM_READ"],
             "justification": "Quarterly access review."}
    stored = PreviewRequest(services, recipe, asked).execute().request_dict
    assert (stored["technical_roles_add"], stored["technical_roles_remove"]) == (["CRM_READ"], ["STRIPE_READ"])
    assert not {"schema_read", "technical_roles", "warehouse_usage"} & set(stored)  # never whole lists
    form = recipe.form_values(base, stored)
    assert form["technical_roles"] == asked["technical_roles"] and form["schema_read"] == now["schema_read"]
    again = PreviewRequest(services, recipe, form).execute()  # editing and resubmitting gives the same change
    assert again.request_dict == stored and again.diff == PreviewRequest(services, recipe, stored).execute().diff
