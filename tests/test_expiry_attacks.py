"""Trying to break expiry (issue 15): each test is an attack or a newcomer's mistake that worked before
its fix (docs/security.md, "Expiry and the kept baseline")."""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from app.audit_record import AuditQuery
from app.operations import ApproveRequest
from app.identity import EXPIRY_ACTOR, POLICY_ACTOR
from app.jobs.expire import ExpireAccess
from core import expiry
from core.changes.base import ChangeError
from core.changes.model import Status
from core.snowddl.config_loader import load_config
from core.snowddl.baseline import Baseline
from tests.github_support import gh_services, github, github_template  # noqa: F401  (fixtures)
from tests.test_expire import UNTIL, WHY, at, grant_until, submit

EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"


def test_two_expire_submit_runs_at_once_open_one_request_per_ended_grant(services, people, monkeypatch):
    """A cron run and a run by hand at the same moment: both read the requests before either opened
    one. Before: two revoke requests for the same grant."""
    from app.jobs import expire as expire_module
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


def _flags(services, cr):
    from core.risk import risk_flags

    return risk_flags(services.snapshot(cr.base_sha), services.snapshot(cr.head_sha), services.plan(cr.base_sha, cr.head_sha))


def test_a_request_that_makes_time_bound_access_permanent_says_so_and_is_flagged(services, people):
    """A requester asks for their role again without an end date: the only change is a deleted entry of
    the expiry file. Before: titled "Renew ANALYST of MOKAFOR", with no risk flag."""
    grant_until(services, people)
    cr = submit(services, people["requester"], "grant-role",
                {"name": "MOKAFOR", "business_roles": ["ANALYST"], "justification": "Keep it, please, thanks."})
    assert "for good" in cr.title and "until" in cr.title
    [flag] = [f for f in _flags(services, cr) if f.kind == "end_date"]
    assert flag.level == "medium" and flag.path == expiry.EXPIRY_FILE
    assert flag.message == f"MOKAFOR keeps business role ANALYST for good: its end date {UNTIL.isoformat()} is removed"


def test_a_renewal_that_moves_the_end_date_later_is_flagged_with_both_dates(services, people):
    first = grant_until(services, people)
    later = UNTIL + dt.timedelta(days=300)
    cr = submit(services, people["requester"], "grant-role",
                {"name": "MOKAFOR", "business_roles": ["ANALYST"], "until": later.isoformat(),
                 "justification": "Still needed for the audit.", "renews": str(first.id)})
    [flag] = [f for f in _flags(services, cr) if f.kind == "end_date"]
    assert flag.message == (f"MOKAFOR's business role ANALYST is extended from {UNTIL.isoformat()} "
                            f"to {later.isoformat()} (300 days)")
    assert flag.line is not None and later.isoformat() in flag.text


def test_a_grant_with_an_end_date_and_a_revoke_raise_no_end_date_flag(services, people):
    first = grant_until(services, people)
    assert [f for f in _flags(services, first) if f.kind == "end_date"] == []
    cr = submit(services, people["requester"], "revoke-role",
                {"name": "MOKAFOR", "business_roles": ["ANALYST"], "justification": "No longer needed."})
    assert [f for f in _flags(services, cr) if f.kind == "end_date"] == []


@pytest.mark.parametrize("which", ["nonexistent", "a grant of another role", "a rejected grant"])
def test_renews_must_name_the_merged_request_that_granted_that_access(services, people, which):
    """`renews` is typed by the requester and shown to reviewers as "Renews #N" (a claim that the access
    was approved before). Before: any number was taken."""
    from app.operations import PreviewRequest, RejectRequest
    from recipes import RECIPES

    grant_until(services, people)
    if which == "nonexistent":
        n = 999
    elif which == "a grant of another role":
        n = submit(services, people["requester"], "grant-role",
                   {"name": "MOKAFOR", "business_roles": ["FINANCE_ANALYST"], "until": UNTIL.isoformat(),
                    "justification": WHY}).id
    else:
        cr = submit(services, people["requester"], "grant-role",
                    {"name": "MOKAFOR", "business_roles": ["DATA_SCIENTIST"], "justification": WHY})
        RejectRequest(services, people["approver"], cr.id, "Not for this team.").execute()
        n = cr.id
    raw = {"name": "MOKAFOR", "business_roles": ["ANALYST"], "until": (UNTIL + dt.timedelta(days=30)).isoformat(),
           "justification": "Still needed for the audit.", "renews": str(n)}
    preview = PreviewRequest(services, RECIPES["grant-role"], raw).execute()
    assert "renews" in preview.field_errors and f"#{n}" in preview.field_errors["renews"]


def test_an_active_service_user_is_never_offboarded_when_the_account_does_not_say_service(services):
    """SVC_LOOKER is `type: SERVICE` in the config, but ACCOUNT_USAGE.USERS has no TYPE for it (users made
    before TYPE existed, or the view's lag after a change): its queries still run. Before: proposed for
    offboarding as a stale PERSON, which would break the pipeline once merged."""
    from core.snowflake import demo

    services.settings = services.settings.model_copy(update={"demo_query_rows": 2_000})
    services.sync_demo_account(generate=True)
    folder = services.workspace.account_dir
    with demo._open(folder / "SNOWFLAKE.db", read_only=False) as db:
        db.execute("UPDATE ACCOUNT_USAGE.USERS SET LAST_SUCCESS_LOGIN = LAST_SUCCESS_LOGIN - INTERVAL 400 DAY, "
                   "TYPE = NULL WHERE NAME = 'SVC_LOOKER'")
        assert db.execute("SELECT COUNT(*) FROM ACCOUNT_USAGE.QUERY_HISTORY WHERE USER_NAME = 'SVC_LOOKER'").fetchone()[0]
    report = ExpireAccess(services).execute()
    assert "SVC_LOOKER" not in [p.user for p in report.proposals if p.kind == "offboard"], report.stale_error


def test_a_renewal_left_in_review_holds_the_revoke_back_for_a_week_only(services, people):
    """The requester opens a renewal and leaves it in review (or never resubmits it after changes were
    asked): before, the revoke was never opened and the access that ended stayed for good."""
    from app.operations import RequestChanges
    from app.jobs.expire import RENEWAL_GRACE_DAYS

    first = grant_until(services, people)
    renewal = submit(services, people["requester"], "grant-role",
                     {"name": "MOKAFOR", "business_roles": ["ANALYST"], "until": (UNTIL + dt.timedelta(days=30)).isoformat(),
                      "justification": "Still needed for the audit.", "renews": str(first.id)})
    RequestChanges(services, people["approver"], renewal.id, "Which audit? Say more.").execute()
    services.clock = at(UNTIL + dt.timedelta(days=RENEWAL_GRACE_DAYS))
    [p] = ExpireAccess(services, submit=True, stale_days=0).execute().proposals
    assert p.opened is None and p.covered_by.startswith(f"renewal #{renewal.id}")
    services.clock = at(UNTIL + dt.timedelta(days=RENEWAL_GRACE_DAYS + 1))
    [p] = ExpireAccess(services, submit=True, stale_days=0).execute().proposals
    assert p.opened is not None and p.opened.recipe == "revoke-role"


# -- the kept baseline (issue 16) -------------------------------------------------------------------

def test_a_baseline_kept_by_another_version_of_the_plan_code_is_not_used(tmp_path, monkeypatch):
    """The kept file holds rows derived by SnowTower's plan code; its format number and SnowDDL's version
    were its only keys. After an upgrade that changes how rows are derived (a fix of a row the plan
    compared wrongly), the old rows were used again, and carried on to every later base commit (each
    baseline is derived from the previous one): the plan kept the old mistake for good."""
    import json

    from core.snowddl import baseline_cache

    loaded = load_config(EXAMPLE)
    cache = tmp_path / "cache"
    path = baseline_cache.write(cache, "a1b2c3d", Baseline.from_config(loaded.snowddl))
    assert baseline_cache.read(cache, "a1b2c3d", loaded.snowddl) is not None
    body = json.loads(path.read_text())
    assert body["code"] == baseline_cache.code_version()
    path.write_text(json.dumps(dict(body, code="0" * 32)))  # written by other plan code
    assert baseline_cache.read(cache, "a1b2c3d", loaded.snowddl) is None
    assert baseline_cache.read_newest(cache, loaded.snowddl) is None
    del body["code"]  # written before this key existed
    path.write_text(json.dumps(body))
    assert baseline_cache.read(cache, "a1b2c3d", loaded.snowddl) is None


def test_the_plan_code_version_follows_the_modules_that_derive_rows(tmp_path, monkeypatch):
    from core.snowddl import baseline_cache

    before = baseline_cache.code_version()
    assert len(before) == 32 and before == baseline_cache.code_version()
    copy = tmp_path / "plan.py"
    copy.write_text(Path(baseline_cache.CODE_MODULES[0]).read_text() + "\n# changed\n")
    monkeypatch.setattr(baseline_cache, "CODE_MODULES", (str(copy),) + tuple(baseline_cache.CODE_MODULES[1:]))
    baseline_cache.code_version.cache_clear()
    try:
        assert baseline_cache.code_version() != before
    finally:
        baseline_cache.code_version.cache_clear()


@pytest.mark.parametrize("tz", ["Etc/GMT-14", "Etc/GMT+12"])  # UTC+14 and UTC-12: one is always on another day
def test_end_dates_are_checked_against_the_utc_day_the_expiry_job_counts_in(tz, monkeypatch):
    """The job counts days in UTC (Services.clock); the grant form checked `until` against the server's
    local date. Before: on a server east or west of UTC, an end date the job had already reached was
    accepted, or tomorrow (UTC) refused, for up to 14 hours a day."""
    import time

    from recipes.base import Collector
    from recipes.common import future_date

    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        utc_today = dt.datetime.now(dt.timezone.utc).date()
        c = Collector()
        assert future_date(c, "until", utc_today.isoformat()) is None and c.errors
        assert c.errors[0].message == f"must be after today ({utc_today.isoformat()})."
        c = Collector()
        assert future_date(c, "until", (utc_today + dt.timedelta(days=1)).isoformat()) == utc_today + dt.timedelta(days=1)
        assert not c.errors
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("backend_name", ["local", "github"])
def test_a_run_cut_off_between_opening_a_revoke_and_its_auto_approval_is_finished_by_the_next_run(
        backend_name, request, people, monkeypatch):
    """The job opens the revoke, then dies before the policy approves it. Before: the next run found the
    revoke open ("never twice") and left it unapproved for good, though expiry_auto_approve is on."""
    from app.jobs import expire as expire_module

    services = request.getfixturevalue("services" if backend_name == "local" else "gh_services")
    grant_until(services, people)
    services.settings = services.settings.model_copy(update={"expiry_auto_approve": True})
    services.clock = at(UNTIL + dt.timedelta(days=1))

    class Killed(BaseException):
        pass

    def killed(*a, **kw):
        raise Killed()

    monkeypatch.setattr(expire_module.ApproveRequest, "execute", killed)
    with pytest.raises(Killed):
        ExpireAccess(services, submit=True, stale_days=0).execute()
    monkeypatch.undo()
    [opened] = [cr for cr in services.changes.list() if cr.requester == EXPIRY_ACTOR.username]
    assert opened.status == Status.OPEN
    [p] = ExpireAccess(services, submit=True, stale_days=0).execute().proposals
    assert p.opened is None and p.approved and services.changes.get(opened.id).status == Status.APPROVED
    # and a third run approves nothing again (one approval record by the policy)
    ExpireAccess(services, submit=True, stale_days=0).execute()
    records = services.audit.search(AuditQuery(actor=POLICY_ACTOR.username))
    assert [(r.action, r.outcome, r.request_id) for r in records] == [("approve", "ok", opened.id)]


@pytest.mark.parametrize("field", ["comment", "first_name"])
def test_typed_text_that_looks_like_an_old_end_date_comment_is_never_an_end_date(services, people, new_user_raw, field):
    """The old form of an end date is a YAML comment `# SnowTower: ROLE until DATE` next to the role. The
    reader searched every line for it, quoted values included, so a requester who typed it into a new
    user's comment (or name) made a time-bound grant out of text: the expiry job would then revoke that
    role, approved by policy when expiry_auto_approve is on. Before: read as an end date."""
    from app.operations import MergeRequest
    from core.expiry_lookup import time_bound_grants
    from recipes import RECIPES  # noqa: F401

    typed = "Contractor # SnowTower: ANALYST until 2026-01-02"
    cr = submit(services, people["requester"], "new-user", new_user_raw("jane_doe", **{field: typed}))
    ApproveRequest(services, people["approver"], cr.id, "ok").execute()
    MergeRequest(services, people["admin"], cr.id, confirm_unsafe=True).execute()
    snap = services.snapshot()
    assert "SnowTower: ANALYST until 2026-01-02" in snap.text(snap.file("user"))  # stored, as text
    assert time_bound_grants(services) == []
    services.clock = at(dt.date(2026, 1, 3))
    assert ExpireAccess(services, stale_days=0).execute().proposals == []


def test_old_end_date_comments_are_still_read_where_the_grant_recipe_wrote_them():
    text = ("CAROL:\n  type: PERSON\n  comment: 'x # SnowTower: LOADER until 2030-01-01'\n  business_roles:\n"
            "    - ANALYST  # SnowTower: ANALYST until 2030-01-01\n    # SnowTower: BI_TOOL until 2031-01-01\n"
            "    - BI_TOOL\n  default_warehouse: X  # SnowTower: ADMIN until 2030-01-01\n")
    assert [(g.user, g.role, g.until.isoformat()) for g in expiry.legacy_grants(text)] == [
        ("CAROL", "ANALYST", "2030-01-01"), ("CAROL", "BI_TOOL", "2031-01-01")]


def test_a_last_login_in_the_session_s_time_zone_is_compared_in_utc(services, monkeypatch):
    """ACCOUNT_USAGE.USERS.LAST_SUCCESS_LOGIN is a TIMESTAMP_LTZ: the connector gives it in the session's
    time zone. The job cut the offset off and called the rest UTC, so "logged in again since the rejected
    offboarding" was decided up to 14 hours off. Before: 2026-08-01 20:00 taken as UTC."""
    import pandas as pd

    from core.snowflake import queries

    login = pd.Timestamp("2026-08-01 20:00", tz="America/Los_Angeles")
    frame = pd.DataFrame([{"NAME": "MOKAFOR", "TYPE": "PERSON", "LAST_SUCCESS_LOGIN": login, "DAYS_IDLE": 120,
                           "LAST_QUERY": None}])
    monkeypatch.setattr(queries, "ask", lambda *a, **kw: frame)
    services.clock = at(dt.date(2026, 11, 29))
    [p] = ExpireAccess(services).execute().proposals
    assert p.kind == "offboard" and p.since == dt.datetime(2026, 8, 2, 3, 0, tzinfo=dt.timezone.utc)


_EXITS_WHILE_WRITING = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from core.snowddl import baseline_cache, commit_snapshot
from core.snowddl.config_loader import load_config

real_replace = os.replace
def slow_replace(a, b):  # a large tree's file takes a while to write
    time.sleep(1.5)
    real_replace(a, b)
baseline_cache.os.replace = slow_replace
root = Path(sys.argv[2])
commit_snapshot.Snapshot(root, "a1b2c3d", load_config(root), cache=Path(sys.argv[3])).baseline()
print("done")  # and the command ends, as `snowtower request` or `snowtower expire` does
"""


def test_a_command_that_ends_while_its_baseline_is_being_kept_leaves_a_whole_file_and_no_temporary_one(tmp_path):
    """The baseline is kept by a background thread; a command (`snowtower request --submit`, `snowtower
    expire --submit`) ended before it finished, and the interpreter stopped the thread mid-write. Before:
    a temporary file left behind on every such run (15 MB each on the 5,000-users tree), and nothing kept."""
    import os
    import subprocess
    import sys

    cache = tmp_path / "cache"
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", _EXITS_WHILE_WRITING, str(root), str(EXAMPLE), str(cache)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONHASHSEED": "1"})
    assert done.returncode == 0 and "done" in done.stdout, done.stderr[-2000:]
    assert sorted(p.name for p in (cache / "baselines").iterdir()) == ["a1b2c3d.json"]


def test_temporary_files_left_by_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    import os
    import time

    from core.snowddl import baseline_cache

    loaded = load_config(EXAMPLE)
    folder = tmp_path / "cache" / "baselines"
    folder.mkdir(parents=True)
    old, fresh = folder / ".baseline-old", folder / ".baseline-fresh"
    for p in (old, fresh):
        p.write_text("{")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    baseline_cache.write(tmp_path / "cache", "a1b2c3d", Baseline.from_config(loaded.snowddl))
    assert sorted(p.name for p in folder.iterdir()) == [".baseline-fresh", "a1b2c3d.json"]  # another writer's stays


def test_a_cache_folder_that_cannot_be_written_is_a_logged_warning_not_a_traceback(tmp_path, monkeypatch, caplog):
    """Disk full, a read-only volume, or a file where the folder should be: the plan goes on without the
    kept file. Before: the writer thread died with a traceback on the server's error output."""
    from core.snowddl import baseline_cache

    crashed = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashed.append(args.exc_value))
    blocked = tmp_path / "cache"
    blocked.write_text("a file, not a folder")
    loaded = load_config(EXAMPLE)
    with caplog.at_level("WARNING", logger="snowtower.baseline"):
        baseline_cache.write_later(blocked, "a1b2c3d", Baseline.from_config(loaded.snowddl)).join(60)
    assert crashed == []
    assert any("not kept" in r.getMessage() for r in caplog.records)


def test_every_workflow_step_that_pipes_a_command_fails_when_the_command_fails():
    """A `run:` step without `shell: bash` runs as `bash -e {0}`: no pipefail, so `snowtower expire --submit
    | tee expire.txt` exits 0 when the job failed (the status of `tee`), and the daily run stays green while
    no access expires. Before: expire.yml was such a step."""
    import re

    import yaml

    workflows = sorted((Path(__file__).resolve().parents[1] / ".github" / "workflows").glob("*.yml"))
    silent = []
    for path in workflows:
        jobs = (yaml.safe_load(path.read_text()) or {}).get("jobs") or {}
        for job_name, job in jobs.items():
            default_shell = ((job.get("defaults") or {}).get("run") or {}).get("shell")
            for step in job.get("steps") or []:
                run = step.get("run") or ""
                pipes = [line for line in run.split("\n") if re.search(r"[^|]\|[^|]", line) and "'|'" not in line]
                shell = step.get("shell") or default_shell
                if pipes and shell != "bash" and "set -o pipefail" not in run and "-o pipefail" not in run:
                    silent.append(f"{path.name}:{job_name}:{step.get('name')}")
    assert silent == []
