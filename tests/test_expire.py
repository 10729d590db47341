"""Access that ends by itself (issue 15): the expiry file, `snowtower expire` and its requests, on both
backends (local git + SQLite; GitHub through tests/github_server.py), with a fixed clock."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from app.audit_record import AuditQuery
from app.operations import ApproveRequest, MergeRequest, PreviewRequest, SubmitRequest
from app.identity import POLICY_ACTOR
from app.jobs.expire import ExpireAccess
from core.expiry_lookup import time_bound_grants
from core import expiry
from core.changes.model import Status
from core.snowddl.config_loader import load_config
from recipes import RECIPES
from tests.github_support import gh_services, github, github_template  # noqa: F401  (fixtures)

WHY = "Needed for the quarter-end close, then no longer."
UNTIL = dt.date.today() + dt.timedelta(days=20)


def at(day: dt.date, hour: int = 6):
    return lambda: dt.datetime.combine(day, dt.time(hour), dt.timezone.utc)


def submit(services, actor, recipe_name, raw):
    recipe = RECIPES[recipe_name]
    preview = PreviewRequest(services, recipe, raw).execute()
    assert preview.ok, (preview.field_errors, preview.validation and preview.validation.errors)
    return SubmitRequest(services, actor, recipe, raw, preview.base_sha).execute()


def land(services, people, recipe_name, raw):
    """Submit as the requester, approve, merge: the normal path."""
    cr = submit(services, people["requester"], recipe_name, raw)
    ApproveRequest(services, people["approver"], cr.id, "ok").execute()
    return MergeRequest(services, people["admin"], cr.id, confirm_unsafe=True).execute()


def grant_until(services, people, until=UNTIL, **extra):
    return land(services, people, "grant-role",
                {"name": "MOKAFOR", "business_roles": ["ANALYST"], "until": until.isoformat(), "justification": WHY, **extra})


def roles_on_base(services, user="MOKAFOR"):
    snap = services.snapshot()
    from core.snowddl.yaml_reader import load_entry

    return [str(r).upper() for r in load_entry(snap.text(snap.file("user")), user)[1]["business_roles"]]


def job(services, **kw):
    return ExpireAccess(services, stale_days=0, **kw).execute()


@pytest.fixture(params=["local", "github"])
def backend(request, tmp_path):
    if request.param == "local":
        return request.getfixturevalue("services")
    return request.getfixturevalue("gh_services")


# -- the job, both backends ------------------------------------------------------------------------

def test_an_ended_grant_becomes_one_revoke_request_by_the_expiry_job_and_never_two(backend, people):
    granted = grant_until(backend, people)
    grants = time_bound_grants(backend)
    assert [(g.user, g.role, g.until, g.reason) for g in grants] == [("MOKAFOR", "ANALYST", UNTIL, WHY)]
    assert "ANALYST" in roles_on_base(backend)

    backend.clock = at(UNTIL)  # the last day: not ended yet, but ending
    report = job(backend, within=14, submit=True)
    assert [g.user for g in report.ending] == ["MOKAFOR"] and report.proposals == []

    backend.clock = at(UNTIL + dt.timedelta(days=1))
    first = job(backend, submit=True)
    [p] = first.proposals
    assert p.opened is not None and p.granted_by == granted.id and not p.approved
    cr = backend.changes.get(p.opened.id)
    assert cr.requester == "snowtower-expiry" and cr.recipe == "revoke-role" and cr.status == Status.OPEN
    assert cr.request["business_roles"] == ["ANALYST"] and f"by #{granted.id}" in cr.justification
    assert expiry.EXPIRY_FILE in " ".join(cr.files)  # the revoke clears the entry in the same change

    second = job(backend, submit=True)
    assert second.proposals[0].opened is None and second.proposals[0].covered_by.startswith(f"#{cr.id}")
    assert [c.id for c in backend.changes.list() if c.requester == "snowtower-expiry"] == [cr.id]

    records = backend.audit.search(AuditQuery(actor="snowtower-expiry"))
    assert [(r.action, r.outcome, r.request_id) for r in records] == [("submit", "ok", cr.id)]

    # Reviewed like anyone's request: an approver approves, an admin merges, the access is gone.
    ApproveRequest(backend, people["approver"], cr.id, "ended").execute()
    MergeRequest(backend, people["admin"], cr.id, confirm_unsafe=True).execute()
    assert "ANALYST" not in roles_on_base(backend) and time_bound_grants(backend) == []
    assert job(backend, submit=True).proposals == []


def test_auto_approve_only_when_the_setting_allows_it(backend, people):
    grant_until(backend, people)
    backend.settings = backend.settings.model_copy(update={"expiry_auto_approve": True})
    backend.clock = at(UNTIL + dt.timedelta(days=3))
    [p] = job(backend, submit=True).proposals
    assert p.approved and backend.changes.get(p.opened.id).status == Status.APPROVED
    records = backend.audit.search(AuditQuery(actor=POLICY_ACTOR.username))
    assert [(r.action, r.outcome, r.request_id) for r in records] == [("approve", "ok", p.opened.id)]
    MergeRequest(backend, people["admin"], p.opened.id, confirm_unsafe=True).execute()
    assert "ANALYST" not in roles_on_base(backend)


def test_renewal_is_a_grant_request_that_links_the_earlier_one_and_stops_the_revoke(backend, people):
    first = grant_until(backend, people)
    later = UNTIL + dt.timedelta(days=60)
    renewal = submit(backend, people["requester"], "grant-role",
                     {"name": "MOKAFOR", "business_roles": ["ANALYST"], "until": later.isoformat(),
                      "justification": "Still needed for the audit follow-up.", "renews": str(first.id)})
    assert renewal.title.startswith("Renew ANALYST of MOKAFOR") and renewal.request["renews"] == first.id
    assert backend.changes.diff(renewal).count("\n+") >= 1 and "user.yaml" not in " ".join(renewal.files)

    backend.clock = at(UNTIL + dt.timedelta(days=1))
    [p] = job(backend, submit=True).proposals  # the renewal is in review: no revoke races it
    assert p.opened is None and p.covered_by == f"renewal #{renewal.id} (open)"

    ApproveRequest(backend, people["approver"], renewal.id, "ok").execute()
    MergeRequest(backend, people["admin"], renewal.id).execute()
    [g] = time_bound_grants(backend)
    assert (g.until, g.renews) == (later, first.id) and "ANALYST" in roles_on_base(backend)
    assert job(backend, submit=True).proposals == []


def test_a_rejected_expiry_revoke_is_not_asked_again_for_the_same_end_date(services, people):
    grant_until(services, people)
    services.clock = at(UNTIL + dt.timedelta(days=1))
    [p] = job(services, submit=True).proposals
    from app.operations import RejectRequest

    RejectRequest(services, people["approver"], p.opened.id, "Keep it one more week, renewal coming").execute()
    services.clock = at(UNTIL + dt.timedelta(days=5))
    [again] = job(services, submit=True).proposals
    assert again.opened is None and again.covered_by == f"#{p.opened.id} (rejected)"


# -- the expiry file -------------------------------------------------------------------------------

def test_the_expiry_file_is_ignored_by_snowddl_and_checked_by_validate(tmp_path):
    import shutil

    from app.settings import EXAMPLE_CONFIG

    root = tmp_path / "cfg"
    shutil.copytree(EXAMPLE_CONFIG, root)
    (root / "__snowtower").mkdir()
    (root / expiry.EXPIRY_FILE).write_text(
        "MOKAFOR:\n  DATA_ENGINEER:\n    until: 2020-01-31\n    reason: ok\n"
        "GHOST:\n  ANALYST:\n    until: 2030-01-01\n"
        "PRAMAN:\n  NO_SUCH_ROLE:\n    until: 2030-01-01\n  ANALYST:\n    until: 2030-01-01\n  LOADER:\n    until: soon\n")
    v = load_config(root).validation
    assert not [w for w in v.warnings if w.kind == "unused"]  # SnowDDL's scanner skips __ folders
    got = sorted((p.line, p.object, p.message) for p in v.errors if p.kind == "expiry")
    assert got == [
        (6, "GHOST ANALYST", "user GHOST is not in the configuration"),
        (9, "PRAMAN NO_SUCH_ROLE", "business role NO_SUCH_ROLE is not in the configuration"),
        (11, "PRAMAN ANALYST", "PRAMAN does not have business role ANALYST: the config does not hold this grant"),
        (13, "PRAMAN LOADER", "until must be a date written YYYY-MM-DD"),
    ]
    assert not [p for p in v.errors if p.kind != "expiry"]


def test_validate_cli_reports_past_end_dates(tmp_path, capsys):
    import shutil

    from app.settings import EXAMPLE_CONFIG
    from portal.cli import main

    root = tmp_path / "cfg"
    shutil.copytree(EXAMPLE_CONFIG, root)
    (root / "__snowtower").mkdir()
    (root / expiry.EXPIRY_FILE).write_text("MOKAFOR:\n  DATA_ENGINEER:\n    until: 2020-01-31\n    reason: ok\n")
    assert main(["validate", str(root), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(w["file"], w["line"], w["kind"], w["object"]) for w in out["warnings"] if w["kind"] == "expired"] == [
        (expiry.EXPIRY_FILE, 2, "expired", "MOKAFOR DATA_ENGINEER")]
    assert "2020-01-31" in [w for w in out["warnings"] if w["kind"] == "expired"][0]["message"]


@pytest.mark.parametrize("text, message", [
    ("- a\n- b\n", "must map users"),
    ("A: [\n", "not valid YAML"),
    ("x" * (expiry.MAX_BYTES + 1), "larger than"),
])
def test_an_unreadable_expiry_file_is_one_clear_error_and_refuses_grants(text, message):
    with pytest.raises(expiry.ExpiryError, match=message):
        expiry.parse(text)


def test_hostile_reasons_stay_one_quoted_value():
    evil = 'x"\n  ADMIN:\n    until: 2099-01-01 # \u2028 \x00' + "y" * 2000
    text = expiry.render([expiry.Grant("ALICE", "ANALYST", dt.date(2030, 1, 1), evil)])
    grants, problems = expiry.parse(text)
    assert problems == [] and [(g.user, g.role) for g in grants] == [("ALICE", "ANALYST")]
    assert len(grants[0].reason) == expiry.MAX_REASON and "\n" not in grants[0].reason


def test_legacy_comments_are_read_and_moved_into_the_file_by_the_next_grant(services, people):
    # A user.yaml written by the old recipe: the end date as a comment next to the role.
    repo = services.changes.repo
    text = repo.read_text("main", "snowddl/user.yaml").replace(
        "    - ANALYTICS_ENGINEER\n  default_warehouse: TRANSFORM_WH\n  comment: Analytics Engineer\n\nTLINDQVIST",
        "    - ANALYTICS_ENGINEER  # SnowTower: ANALYTICS_ENGINEER until 2030-06-30\n  default_warehouse: TRANSFORM_WH\n"
        "  comment: Analytics Engineer\n\nTLINDQVIST", 1)
    assert "until 2030-06-30" in text
    main = services.changes.base_head()
    sha = repo.commit_files(main, {"snowddl/user.yaml": text}, "old-style grant\n", ("t", "t@example.com"))
    repo.update_ref("refs/heads/main", sha, main)
    [legacy] = time_bound_grants(services)
    assert legacy.legacy and (legacy.role, legacy.until) == ("ANALYTICS_ENGINEER", dt.date(2030, 6, 30))

    grant_until(services, people)
    grants = {(g.user, g.role): g for g in time_bound_grants(services)}
    assert not any(g.legacy for g in grants.values())  # both now live in the file
    assert grants[(legacy.user, "ANALYTICS_ENGINEER")].until == dt.date(2030, 6, 30)
    assert grants[("MOKAFOR", "ANALYST")].until == UNTIL


# -- stale users -----------------------------------------------------------------------------------

def test_stale_users_are_proposed_once_each_and_active_service_users_never(backend, tmp_path):
    from core.snowflake import demo, demo_planted
    from core.snowflake.connect import standin_source

    services = backend
    if services.settings.backend == "local":  # the demo's own stand-in
        services.settings = services.settings.model_copy(update={"demo_query_rows": 2_000})
        services.sync_demo_account(generate=True)
        folder = services.workspace.account_dir
    else:  # production reads ACCOUNT_USAGE through the connector: here, a stand-in account in its place
        folder = tmp_path / "account"
        demo.generate(folder, services.snapshot().config, query_rows=2_000)
        services.snowflake_source = lambda: standin_source(folder)
    # SVC_LOOKER has not logged in for a year but its queries still run: in use, never offboarded.
    # SVC_DBT neither logs in nor runs anything: stale like a person.
    with demo._open(folder / "SNOWFLAKE.db", read_only=False) as db:
        db.execute("UPDATE ACCOUNT_USAGE.USERS SET LAST_SUCCESS_LOGIN = LAST_SUCCESS_LOGIN - INTERVAL 400 DAY "
                   "WHERE NAME IN ('SVC_LOOKER', 'SVC_DBT')")
        db.execute("DELETE FROM ACCOUNT_USAGE.QUERY_HISTORY WHERE USER_NAME = 'SVC_DBT'")
        looker = db.execute("SELECT COUNT(*) FROM ACCOUNT_USAGE.QUERY_HISTORY WHERE USER_NAME = 'SVC_LOOKER'").fetchone()[0]
    assert looker > 0
    report = ExpireAccess(services, submit=True).execute()
    offboards = sorted(p.user for p in report.proposals if p.kind == "offboard")
    assert offboards == sorted([*demo_planted.STALE_USERS, "SVC_DBT"]), report.stale_error
    opened = [services.changes.get(p.opened.id) for p in report.proposals if p.opened]
    assert {(c.recipe, c.requester, c.status) for c in opened} == {("offboard-user", "snowtower-expiry", Status.OPEN)}
    # Never twice, and never auto-approved (the setting is for ended grants only).
    services.settings = services.settings.model_copy(update={"expiry_auto_approve": True})
    again = ExpireAccess(services, submit=True).execute()
    assert all(p.opened is None and p.covered_by for p in again.proposals)
    assert len([c for c in services.changes.list() if c.requester == "snowtower-expiry"]) == len(offboards)


def test_bad_numbers_are_refused_before_any_work(services):
    for kw in ({"within": -1}, {"within": 10**9}, {"stale_days": 99_999}):
        with pytest.raises(ValueError):
            ExpireAccess(services, **kw).execute()
    assert services.changes.list() == []


def test_expire_cli_reports_and_submits(tmp_path, people, capsys, monkeypatch):
    from app.services import build_services
    from app.settings import load_settings
    from portal.cli import main

    ws = tmp_path / "ws"
    services = build_services(load_settings(ws))
    grant_until(services, people, until=dt.date.today() + dt.timedelta(days=5))
    assert main(["expire", "--workspace", str(ws), "--within", "14", "--stale-days", "0", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(g["user"], g["role"], g["days_left"]) for g in out["ending"]] == [("MOKAFOR", "ANALYST", 5)]
    assert out["proposals"] == []
    assert main(["expire", "--workspace", str(ws), "--within", "-3"]) == 2
    assert "--within" in capsys.readouterr().err


def test_a_grant_the_config_no_longer_holds_is_not_revoked_again(services, people):
    grant_until(services, people)
    land(services, people, "revoke-role", {"name": "MOKAFOR", "business_roles": ["ANALYST"],
                                           "justification": "Project finished early."})
    assert time_bound_grants(services) == []  # the revoke took the end date with it
    # A hand edit puts an entry back for a role the user no longer has: validation says so, the job skips it.
    repo = services.changes.repo
    main = services.changes.base_head()
    text = expiry.render([expiry.Grant("MOKAFOR", "ANALYST", UNTIL, "hand edit")])
    sha = repo.commit_files(main, {f"snowddl/{expiry.EXPIRY_FILE}": text}, "hand edit\n", ("t", "t@example.com"))
    repo.update_ref("refs/heads/main", sha, main)
    assert [p.message for p in services.snapshot().config.validation.errors] == [
        "MOKAFOR does not have business role ANALYST: the config does not hold this grant"]
    services.clock = at(UNTIL + dt.timedelta(days=2))
    report = job(services, submit=True)
    assert [g.role for g in report.ending] == ["ANALYST"] and report.proposals == []


def test_the_auto_approve_setting_reads_true_and_false_and_refuses_anything_else(tmp_path, monkeypatch):
    from app.settings import load_settings

    assert load_settings(tmp_path).expiry_auto_approve is False  # off unless someone turns it on
    for text, value in (("true", True), ("false", False), ("0", False), ("YES", True)):
        monkeypatch.setenv("SNOWTOWER_EXPIRY_AUTO_APPROVE", text)
        assert load_settings(tmp_path).expiry_auto_approve is value
    monkeypatch.setenv("SNOWTOWER_EXPIRY_AUTO_APPROVE", "maybe")
    with pytest.raises(ValueError, match="expiry_auto_approve: wrong type"):
        load_settings(tmp_path)


def test_renews_is_refused_for_a_role_not_held_until_a_date(services):
    base = services.snapshot()
    with pytest.raises(Exception) as err:
        RECIPES["grant-role"].parse({"name": "MOKAFOR", "business_roles": ["ANALYST"], "until": UNTIL.isoformat(),
                                     "justification": WHY, "renews": "3"}, base)
    assert "only a role MOKAFOR holds until a date can be renewed" in err.value.by_field()["renews"]


def test_an_expiry_revoke_closed_on_github_outside_the_portal_is_asked_again(gh_services, github, people):
    # Found by forging a decision on GitHub: anyone who can close a pull request (a writer, a triager: maybe
    # the very person whose access ended) closed the job's revoke PR; it read as rejected by reviewers and
    # the job never asked again, so the access stayed for good. Only a rejection the portal recorded (a
    # reviewer's signed review) stops the job.
    from tests.github_support import as_user

    grant_until(gh_services, people)
    gh_services.clock = at(UNTIL + dt.timedelta(days=1))
    [p] = job(gh_services, submit=True).proposals
    as_user(github, "alice-token").get_pull(p.opened.id).edit(state="closed")
    gh_services.clock = at(UNTIL + dt.timedelta(days=2))
    [again] = job(gh_services, submit=True).proposals
    assert again.covered_by == "" and again.opened is not None and again.opened.id != p.opened.id
    assert gh_services.changes.get(again.opened.id).status == Status.OPEN
    # A rejection in the portal still stops it.
    from app.operations import RejectRequest

    RejectRequest(gh_services, people["approver"], again.opened.id, "Keep it one more week").execute()
    [third] = job(gh_services, submit=True).proposals
    assert third.opened is None and third.covered_by == f"#{again.opened.id} (rejected)"
