"""Effective access per person (core.findings.access through app.access), with answers worked out by hand
from the example config's YAML (snowddl/): who holds which business role, what each role and technical
role grants, and SnowDDL's default permission model (schema read / write / owner roles)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.operations.shared.preview import preview
from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot
from recipes import RECIPES

ROOT = Path(__file__).resolve().parents[1]
WHY = "Month-end close needs this access."


@pytest.fixture(scope="module")
def base():
    return Snapshot((ROOT / "snowddl").resolve(), None, load_config(ROOT / "snowddl"))


def run(base, recipe, **raw):
    result = preview(RECIPES[recipe], {**raw, "justification": WHY}, base)
    assert not result.field_errors and result.validation.valid, (result.field_errors, result.validation.to_dict())
    return result


def edited(base, files: dict):
    """The access change of a hand edit: files (relative path -> new text, None removes) laid over the base."""
    from app.access import between
    from core.snowddl.commit_snapshot import validate_with_changes

    head = validate_with_changes(base, files)
    assert head.validation.valid, head.validation.to_dict()
    return between(base, head, files)


def rows(access, change=None):
    return sorted((a.user, a.change, a.privilege, a.object) for a in access.changes + access.unchanged
                  if change is None or a.change == change)


def test_a_grant_shows_only_what_is_new_and_says_through_which_role_the_rest_is_held(base):
    # Elena Vasquez holds ANALYTICS_ENGINEER (reads RAW.* and ANALYTICS.*, uses ANALYST_WH). FINANCE_ANALYST
    # adds reads she has already, STRIPE_READ (future SELECT on RAW.STRIPE, which her RAW.* read covers) and
    # SCRATCH_CREATE: creating tables and views in DEV_SANDBOX.SCRATCH is all that is new.
    result = run(base, "grant-role", name="EVASQUEZ", business_roles=["FINANCE_ANALYST"])
    access = result.access
    [gained] = access.changes
    assert (gained.user, gained.name, gained.change) == ("EVASQUEZ", "Elena Vasquez", "gained")
    assert (gained.privilege, gained.object, gained.object_type) == ("create tables and views", "DEV_SANDBOX.SCRATCH", "SCHEMA")
    assert gained.via == ("FINANCE_ANALYST",)
    assert gained.path == ("business role FINANCE_ANALYST", "technical role SCRATCH_CREATE")
    assert set(gained.grants) == {"CREATE TABLE on SCHEMA DEV_SANDBOX.SCRATCH", "CREATE VIEW on SCHEMA DEV_SANDBOX.SCRATCH",
                                  "USAGE on SCHEMA DEV_SANDBOX.SCRATCH"}
    already = {(a.privilege, a.object): a.via for a in access.unchanged if a.change == "already"}
    assert already[("read", "ANALYTICS.MARTS")] == ("ANALYTICS_ENGINEER",)
    assert already[("read", "ANALYTICS.FINANCE")] == ("ANALYTICS_ENGINEER",)
    assert already[("read", "RAW.STRIPE")] == ("ANALYTICS_ENGINEER",)
    assert already[("run queries on", "ANALYST_WH")] == ("ANALYTICS_ENGINEER",)
    sentences = access.sentences()
    assert sentences[0] == "Elena Vasquez will newly be able to create tables and views in DEV_SANDBOX.SCRATCH."
    assert sentences[1].startswith("Elena Vasquez already reads ANALYTICS.FINANCE, ANALYTICS.MARTS and RAW.STRIPE;")
    assert sentences[1].endswith(" through ANALYTICS_ENGINEER.")
    assert access.roles == []  # no business or technical role changed: no blast radius
    # the JSON preview (snowtower request --format json) carries it
    out = json.loads(json.dumps(result.to_dict()))
    assert [{k: a[k] for k in ("user", "privilege", "object", "change", "via")} for a in out["access"]] == [
        {"user": "EVASQUEZ", "privilege": "create tables and views", "object": "DEV_SANDBOX.SCRATCH", "change": "gained",
         "via": ["FINANCE_ANALYST"]}]
    assert out["access_text"][0] == sentences[0]


def test_a_revoke_lists_what_is_lost_and_what_another_role_still_gives(base):
    # Priya Raman holds DATA_ENGINEER and ANALYTICS_ENGINEER. Only ANALYTICS_ENGINEER owns DEV_SANDBOX.DBT_DEV;
    # DATA_ENGINEER reads RAW.*, ANALYTICS.* and PROJ_CHURN.* and uses TRANSFORM_WH and ANALYST_WH too.
    access = run(base, "revoke-role", name="PRAMAN", business_roles=["ANALYTICS_ENGINEER"]).access
    assert rows(access, "gained") == []
    assert rows(access, "lost") == [("PRAMAN", "lost", "create file formats, functions, procedures, tables and views", "DEV_SANDBOX.DBT_DEV"),
                                    ("PRAMAN", "lost", "own new objects", "DEV_SANDBOX.DBT_DEV")]
    assert all(a.via == ("ANALYTICS_ENGINEER",) for a in access.changes)
    kept = {(a.privilege, a.object): a.via for a in access.unchanged if a.change == "kept"}
    assert kept[("read", "ANALYTICS.MARTS")] == ("DATA_ENGINEER",)
    assert kept[("read", "PROJ_CHURN.SCORING")] == ("DATA_ENGINEER",)  # CHURN_SCORES_READ's, read through PROJ_CHURN.*
    assert kept[("run queries on", "TRANSFORM_WH")] == ("DATA_ENGINEER",)
    assert access.sentences()[0] == ("Priya Raman will no longer be able to own new objects in DEV_SANDBOX.DBT_DEV; create file "
                                     "formats, functions, procedures, tables and views in DEV_SANDBOX.DBT_DEV.")


def test_a_business_role_change_lists_its_blast_radius(base):
    # FINANCE_ANALYST (Grace Adeyemi, Liam Murphy) reads ANALYTICS.MARKETING too: both gain it; nobody else
    # holds FINANCE_ANALYST. Dropping SCRATCH_CREATE from it: both lose creating in DEV_SANDBOX.SCRATCH.
    access = run(base, "change-business-role", name="FINANCE_ANALYST",
                 schema_read=["ANALYTICS.MARTS", "ANALYTICS.FINANCE", "ANALYTICS.MARKETING"],
                 technical_roles=["STRIPE_READ"], warehouse_usage=["ANALYST_WH"]).access
    assert rows(access, "gained") == [("GADEYEMI", "gained", "read", "ANALYTICS.MARKETING"),
                                      ("LMURPHY", "gained", "read", "ANALYTICS.MARKETING")]
    assert rows(access, "lost") == [("GADEYEMI", "lost", "create tables and views", "DEV_SANDBOX.SCRATCH"),
                                    ("LMURPHY", "lost", "create tables and views", "DEV_SANDBOX.SCRATCH")]
    [role] = access.roles
    assert (role.role, role.kind, role.change, role.users) == ("FINANCE_ANALYST", "business role", "changed", ("GADEYEMI", "LMURPHY"))
    assert [(g["privilege"], g["object"], g["users"]) for g in role.gained] == [("read", "ANALYTICS.MARKETING", ["GADEYEMI", "LMURPHY"])]
    assert [(g["privilege"], g["object"], g["users"]) for g in role.lost] == [("create tables and views", "DEV_SANDBOX.SCRATCH", ["GADEYEMI", "LMURPHY"])]
    assert role.sentence() == ("Business role FINANCE_ANALYST (changed) reaches 2 users: 2 users gain read ANALYTICS.MARKETING; "
                               "2 users lose create tables and views in DEV_SANDBOX.SCRATCH.")


def test_inheritance_through_a_technical_role_and_its_blast_radius(base):
    # SCRATCH_CREATE is held through ANALYST (5 people) and FINANCE_ANALYST (2). Letting it create tables in
    # DEV_SANDBOX.DATA_SCIENCE too reaches those 7 people through their business role and the technical role.
    text = base.text("technical_role.yaml").replace(
        "    SCHEMA:USAGE,CREATE TABLE,CREATE VIEW:\n      - DEV_SANDBOX.SCRATCH\n",
        "    SCHEMA:USAGE,CREATE TABLE,CREATE VIEW:\n      - DEV_SANDBOX.SCRATCH\n      - DEV_SANDBOX.DATA_SCIENCE\n")
    access = edited(base, {"technical_role.yaml": text})
    analysts = ["DPRICE", "GADEYEMI", "HCHO", "LMURPHY", "NJENSEN", "OBRENNAN", "SROSSI"]
    assert rows(access, "gained") == [(u, "gained", "create tables and views", "DEV_SANDBOX.DATA_SCIENCE") for u in analysts]
    assert rows(access, "lost") == []
    by = {a.user: a for a in access.changes}
    assert by["HCHO"].path == ("business role ANALYST", "technical role SCRATCH_CREATE") and by["HCHO"].via == ("ANALYST",)
    assert by["LMURPHY"].via == ("FINANCE_ANALYST",)
    [role] = access.roles
    assert (role.role, role.kind, role.users) == ("SCRATCH_CREATE", "technical role", tuple(analysts))
    assert [(g["privilege"], len(g["users"])) for g in role.gained] == [("create tables and views", 7)]


def test_future_grants_are_privileges_on_the_schema_s_new_objects(base):
    # STRIPE_READ (FINANCE_ANALYST's) gains SELECT on future tables in RAW.ZENDESK: the finance analysts can
    # read the tables in RAW.ZENDESK (tables only, so the words say so); nobody else holds STRIPE_READ.
    text = base.text("technical_role.yaml").replace(
        "    TABLE:SELECT:\n      - RAW.STRIPE\n", "    TABLE:SELECT:\n      - RAW.STRIPE\n      - RAW.ZENDESK\n", 1)
    access = edited(base, {"technical_role.yaml": text})
    assert rows(access) == [("GADEYEMI", "gained", "read tables", "RAW.ZENDESK"), ("LMURPHY", "gained", "read tables", "RAW.ZENDESK")]
    assert access.changes[0].grants == ("SELECT on future TABLE in SCHEMA RAW.ZENDESK",)
    assert access.sentences()[:2] == [
        "Technical role STRIPE_READ (changed) reaches 2 users: 2 users gain read tables in RAW.ZENDESK.",
        "Grace Adeyemi will newly be able to read tables in RAW.ZENDESK."]


def test_a_role_removed_elsewhere_takes_access_only_from_those_who_have_it_nowhere_else(base):
    # CHURN_SCORES_READ (read PROJ_CHURN.SCORING) removed from technical_role.yaml and from every business role
    # naming it (ANALYST, ANALYTICS_ENGINEER, DBT_RUNNER, BI_TOOL). Priya Raman reads PROJ_CHURN.* through
    # DATA_ENGINEER: she keeps it; the others lose it.
    tech = base.text("technical_role.yaml")
    start = tech.index("# Churn scores published")
    tech = tech[:start] + tech[tech.index("# Lets analysts build"):]
    roles = base.text("business_role.yaml").replace("  technical_roles:\n    - CHURN_SCORES_READ\n  warehouse",
                                                    "  warehouse").replace("    - CHURN_SCORES_READ\n", "")
    access = edited(base, {"technical_role.yaml": tech, "business_role.yaml": roles})
    losers = ["DPRICE", "EVASQUEZ", "HCHO", "NJENSEN", "OBRENNAN", "SROSSI", "SVC_DBT", "SVC_LOOKER", "TLINDQVIST"]
    assert rows(access, "lost") == [(u, "lost", "read", "PROJ_CHURN.SCORING") for u in losers]
    assert rows(access, "gained") == []
    assert [(a.user, a.privilege, a.object, a.via) for a in access.unchanged if a.change == "kept"] == [
        ("PRAMAN", "read", "PROJ_CHURN.SCORING", ("DATA_ENGINEER",))]
    assert {(r.role, r.kind, r.change) for r in access.roles} >= {("CHURN_SCORES_READ", "technical role", "removed")}


def test_a_change_that_grants_nothing_new_says_so(base):
    # Priya Raman's DATA_ENGINEER and ANALYTICS_ENGINEER already give everything ANALYST does.
    access = run(base, "grant-role", name="PRAMAN", business_roles=["ANALYST"]).access
    assert access.changes == [] and access.roles == []
    assert access.sentences()[0] == "No change in access: nobody gains or loses a privilege."
    via = {(a.privilege, a.object): a.via for a in access.unchanged}
    assert via[("create tables and views", "DEV_SANDBOX.SCRATCH")] == ("DATA_ENGINEER",)  # owns the schema
    assert via[("read", "ANALYTICS.MARTS")] == ("DATA_ENGINEER", "ANALYTICS_ENGINEER")
    # a change to no role at all: nobody is even looked at
    warehouses = base.text("warehouse.yaml").replace("auto_suspend: 60", "auto_suspend: 90", 1)
    other = edited(base, {"warehouse.yaml": warehouses})
    assert other.changes == [] and other.unchanged == [] and other.users == {}


def test_a_new_user_gains_everything_their_roles_give(base, public_pem):
    access = run(base, "new-user", name="JANE_DOE", first_name="Jane", last_name="Doe", email="jane@cascaderidge.example",
                 rsa_public_key=public_pem, business_roles=["ANALYST"], default_warehouse="ANALYST_WH").access
    gained = {(a.privilege, a.object) for a in access.changes}
    assert {("read", "ANALYTICS.MARTS"), ("read", "ANALYTICS.MARKETING"), ("read", "PROJ_CHURN.SCORING"),
            ("create tables and views", "DEV_SANDBOX.SCRATCH"), ("run queries on", "ANALYST_WH")} <= gained
    assert ("read", "ANALYTICS.FINANCE") not in gained
    assert all(a.user == "JANE_DOE" and a.name == "Jane Doe" and a.change == "gained" for a in access.changes)


def test_the_pull_request_body_carries_the_access_as_escaped_plain_text(base, public_pem):
    from app.operations.shared.body import render_body
    from core.changes.model import Actor

    result = run(base, "new-user", name="JANE_DOE", first_name="[click](https://evil.example)", last_name="<b>Doe</b>",
                 email="jane@cascaderidge.example", rsa_public_key=public_pem, business_roles=["ANALYST"],
                 default_warehouse="ANALYST_WH")
    body = render_body(result, Actor("requester", "Riley Requester", "r@example.com", ("requester",)))
    section = body[body.index("**Effective access:**"):body.index("**Fields:**")]
    assert "will newly be able to" in section
    assert "[click](https" not in section and "<b>" not in section  # names are text, never links or HTML
    assert "\\[click\\]" in section and "\\<b\\>" in section


def test_an_invalid_head_says_access_was_not_computed(base):
    from app.access import between
    from core.snowddl.commit_snapshot import validate_with_changes

    files = {"user.yaml": base.text("user.yaml").replace("    - FINANCE_ANALYST\n", "    - NO_SUCH_ROLE\n", 1)}
    head = validate_with_changes(base, files)
    assert not head.validation.valid
    access = between(base, head, files)
    assert access.error == "the head configuration does not validate" and access.changes == []
    assert access.to_dict()["access_error"] == access.error


def _variants(base, public_pem):
    users, roles, tech = base.text("user.yaml"), base.text("business_role.yaml"), base.text("technical_role.yaml")
    yield {"user.yaml": users.replace("    - ANALYTICS_ENGINEER\n  default_warehouse: TRANSFORM_WH\n  comment: Analytics Engineer\n\nTLINDQVIST",
                                      "    - ANALYTICS_ENGINEER\n    - FINANCE_ANALYST\n  default_warehouse: TRANSFORM_WH\n  comment: Analytics Engineer\n\nTLINDQVIST", 1)}
    yield {"user.yaml": users.replace("    - DATA_ENGINEER\n    - ANALYTICS_ENGINEER\n", "    - ANALYTICS_ENGINEER\n", 1)}
    yield {"user.yaml": users + "\nNEWBIE:\n  type: PERSON\n  first_name: New\n  last_name: Bie\n  business_roles:\n    - DATA_SCIENTIST\n"}
    yield {"business_role.yaml": roles.replace("    - RAW.*\n    - ANALYTICS.*\n    - PROJ_CHURN.*\n", "    - ANALYTICS.MARTS\n", 1)}
    yield {"business_role.yaml": roles.replace("  schema_owner:\n    - DEV_SANDBOX.SCRATCH\n", "  schema_owner:\n    - DEV_SANDBOX.*\n", 1)}
    yield {"technical_role.yaml": tech.replace("      - DEV_SANDBOX.SCRATCH\n  comment: Create tables",
                                               "      - DEV_SANDBOX.*\n  comment: Create tables", 1)}
    yield {"technical_role.yaml": tech.replace("    WAREHOUSE:USAGE,OPERATE,MONITOR:\n", "    WAREHOUSE:MONITOR:\n", 1)}
    yield {"business_role.yaml": roles.replace("    - TASK_OPERATOR\n    - GOVERNANCE_ADMIN\n", "    - GOVERNANCE_ADMIN\n", 1)}


def test_only_the_users_it_looks_at_change_and_exactly_as_a_full_walk_says(base, public_pem):
    # Every user's whole access walked afresh on both sides (no sharing, no shortcut) must differ exactly
    # where the change says, privilege by privilege, for grants, revokes, new users, business and technical
    # role changes (patterns widened and narrowed, account grants, warehouse privileges).
    from core.snowddl.baseline import Baseline
    from core.snowddl.commit_snapshot import validate_with_changes

    before = base.baseline()
    for files in _variants(base, public_pem):
        head = validate_with_changes(base, files)
        assert head.validation.valid, (files.keys(), head.validation.to_dict())
        after = Baseline.from_config(head.snowddl, previous=before)
        from core.findings.access import access_change

        got: dict[tuple[str, str], set] = {}
        for a in access_change(before, after).changes:
            got.setdefault((a.user, a.change), set()).update(a.grants)
        want = _fresh_difference(before, after)
        assert got == want, list(files)
        assert want  # every variant changes someone's access


def test_snowtower_request_carries_the_access_in_json_and_text(capsys):
    from portal.cli import main

    args = ["request", "revoke-role", "--config", str(ROOT / "snowddl"), "--set", "name=PRAMAN",
            "--set", "business_roles=ANALYTICS_ENGINEER", "--set", f"justification={WHY}"]
    assert main(args + ["--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted((a["user"], a["privilege"], a["object"], a["change"], tuple(a["via"])) for a in out["access"]) == [
        ("PRAMAN", "create file formats, functions, procedures, tables and views", "DEV_SANDBOX.DBT_DEV", "lost", ("ANALYTICS_ENGINEER",)),
        ("PRAMAN", "own new objects", "DEV_SANDBOX.DBT_DEV", "lost", ("ANALYTICS_ENGINEER",))]
    assert {a["change"] for a in out["access_unchanged"]} == {"kept"}
    assert main(args) == 0
    text = capsys.readouterr().out
    access = text[text.index("access:\n"):text.index("validation:")]
    assert "  Priya Raman will no longer be able to own new objects in DEV_SANDBOX.DBT_DEV;" in access
    assert "  Priya Raman still reads ANALYTICS.FINANCE" in access


def test_an_env_prefix_changes_no_name_the_access_speaks_of():
    prefixed = Snapshot((ROOT / "snowddl").resolve(), None, load_config(ROOT / "snowddl", "DEV"))
    result = preview(RECIPES["grant-role"], {"name": "EVASQUEZ", "business_roles": ["FINANCE_ANALYST"], "justification": WHY},
                     prefixed, env_prefix="DEV")
    assert result.validation.valid
    [gained] = result.access.changes
    assert (gained.user, gained.object, gained.via) == ("EVASQUEZ", "DEV_SANDBOX.SCRATCH", ("FINANCE_ANALYST",))
    assert gained.path == ("business role FINANCE_ANALYST", "technical role SCRATCH_CREATE")
    assert result.access.sentences()[0] == "Elena Vasquez will newly be able to create tables and views in DEV_SANDBOX.SCRATCH."


def test_a_request_whose_commits_cannot_be_read_says_so_and_is_tried_again(base):
    from types import SimpleNamespace

    from app.access import for_request

    calls = []

    def snapshot(sha):
        calls.append(sha)
        raise OSError("GitHub did not answer")
    services = SimpleNamespace(settings=SimpleNamespace(workspace="w", env_prefix=""), snapshot=snapshot)
    cr = SimpleNamespace(base_sha="b" * 40, head_sha="c" * 40)
    assert for_request(services, cr).error == "the request's commits could not be read (OSError)"
    for_request(services, cr)
    assert len(calls) == 2  # not cached: the next view tries again


def test_a_base_graph_lives_only_as_long_as_its_baseline():
    import gc
    import weakref

    from core.findings import access as core_access
    from core.snowddl.baseline import Baseline

    baseline = Baseline.from_config(load_config(ROOT / "snowddl").snowddl)
    assert core_access.graph_of(baseline) is core_access.graph_of(baseline)  # built once
    gone = weakref.ref(baseline)
    del baseline
    gc.collect()
    assert gone() is None  # the graph kept for it does not keep it alive


def test_a_new_business_role_reaches_no_user_yet(base):
    access = run(base, "new-business-role", name="PRICING_ANALYST", schema_read=["ANALYTICS.MARTS"],
                 warehouse_usage=["ANALYST_WH"], comment="Pricing").access
    assert access.changes == [] and access.unchanged == []
    assert [r.sentence() for r in access.roles] == ["Business role PRICING_ANALYST (added) reaches no user."]


def _fresh_difference(before, after) -> dict[tuple[str, str], set]:
    """(user, gained | lost) -> SnowDDL grants, from every user's whole access walked afresh on both sides."""
    from core.findings.access import _Graph, _grant_text

    fresh_b, fresh_h = _Graph(before), _Graph(after)
    want: dict[tuple[str, str], set] = {}
    for user in set(fresh_b.user_role) | set(fresh_h.user_role):
        eb = fresh_b.effective(fresh_b.user_role[user]) if user in fresh_b.user_role else frozenset()
        eh = fresh_h.effective(fresh_h.user_role[user]) if user in fresh_h.user_role else frozenset()
        for change, privs in (("gained", eh - eb), ("lost", eb - eh)):
            if privs:
                want[(fresh_b._bare(user), change)] = {_grant_text(p) for p in privs}
    return want


@pytest.mark.parametrize("env_prefix", ["", "DEV"])
def test_every_generated_change_of_every_config_matches_a_full_walk(env_prefix):
    # The example config, SnowDDL's three samples and the shared real-world cases, each file's first entry
    # removed, copied and changed (tests/test_plan_incremental.py's variants): the access change equals the
    # difference of every user's whole access walked afresh, and a change to the base itself is no change.
    from core.findings.access import access_change
    from core.snowddl.baseline import Baseline
    from core.snowddl.commit_snapshot import validate_with_changes
    from tests.test_plan_incremental import SAMPLES, _cases, _variants

    compared = changed = 0
    for root in [ROOT / "snowddl", *SAMPLES, *_cases()]:
        snap = Snapshot(root, None, load_config(root, env_prefix))
        if snap.config.snowddl is None or not snap.config.validation.valid:
            continue
        before = snap.baseline()
        same = access_change(before, Baseline.from_config(snap.config.snowddl, previous=before))
        assert same.changes == [] and same.users == {}, root
        for label, files in _variants(root):
            head = validate_with_changes(snap, files, env_prefix)
            if head.snowddl is None or not head.validation.valid:
                continue
            after = Baseline.from_config(head.snowddl, previous=before)
            got: dict[tuple[str, str], set] = {}
            for a in access_change(before, after).changes:
                got.setdefault((a.user, a.change), set()).update(a.grants)
            want = _fresh_difference(before, after)
            assert got == want, (str(root), label)
            compared += 1
            changed += bool(want)
    assert compared > 60 and changed >= 5, (compared, changed)  # 154 and 8 with the shared cases


def test_sessions_previewing_at_once_share_the_base_graph_and_get_what_each_alone_gets(public_pem):
    # One process serves many sessions: their previews compute access at once on one base baseline (its
    # role graph and memos shared) and through one cache; each must get what it gets alone.
    import threading

    from app import access as app_access
    from core.findings.access import access_change
    from core.snowddl.baseline import Baseline
    from core.snowddl.commit_snapshot import validate_with_changes

    snap = Snapshot((ROOT / "snowddl").resolve(), "f" * 40, load_config(ROOT / "snowddl"))
    heads = [(files, validate_with_changes(snap, files)) for files in _variants(snap, public_pem)]
    before = snap.baseline()
    alone = [access_change(before, Baseline.from_config(h.snowddl, previous=before)).to_dict() for _, h in heads]
    fresh = Snapshot(snap.root, "e" * 40, snap.config)  # another base commit: graph and cache start empty
    barrier = threading.Barrier(len(heads))
    got, errors = {}, []

    def run(i, files, head):
        barrier.wait()
        try:
            got[i] = app_access.between(fresh, head, files).to_dict()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i, f, h)) for i, (f, h) in enumerate(heads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and [got[i] for i in range(len(heads))] == alone
