"""Finding to fix: each hygiene finding's fix becomes a request, through preview and submit, whose diff is
exactly the fix and whose justification names the finding (real git repository, real SQLite records)."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.findings.hygiene import hygiene
from app.operations import PreviewRequest, SubmitRequest
from recipes import RECIPES
from tests.portal_support import as_viewer

PLANTED = {  # file -> (old, new): one planted problem each
    "warehouse.yaml": [
        ("  size: XSMALL\n  auto_suspend: 60\n", "  size: XSMALL\n  auto_suspend: 3600\n"),  # LOADER_WH
        ("DATA_SCIENCE_WH:\n", "DEV_WH:\n  size: SMALL\n  auto_suspend: 60\n  resource_monitor: DATA_SCIENCE_MONITOR\n\n"
                               "DATA_SCIENCE_WH:\n"),
    ],
    "user.yaml": [
        ("    - DATA_ENGINEER\n  default_warehouse: TRANSFORM_WH\n  comment: Senior Data Engineer\n",
         "    - DATA_ENGINEER\n    - PLATFORM_ADMIN\n  default_warehouse: TRANSFORM_WH\n  comment: Senior Data Engineer\n"),
    ],
    "business_role.yaml": [
        ("\nDATA_SCIENTIST:\n", "\nPLATFORM_ADMIN:\n  global_roles:\n    - SYSADMIN\n  comment: Platform administration\n\n"
                              "DATA_SCIENTIST:\n"),
    ],
}

# A LEGACY_SERVICE user may have a password (SnowDDL and Snowflake refuse one on type SERVICE): planted alone.
SERVICE_PASSWORD = {"user.yaml": [("SVC_LOOKER:\n  type: SERVICE\n",
                                   "SVC_LOOKER:\n  type: LEGACY_SERVICE\n  password: Planted-service-pass-1\n")]}

EXPECTED = {  # the changed lines of each fix's request, exactly
    ("WAREHOUSE_LONG_AUTO_SUSPEND", "LOADER_WH"): ["-  auto_suspend: 3600", "+  auto_suspend: 60"],
    ("DEV_WAREHOUSE_TOO_LARGE", "DEV_WH"): ["-  size: SMALL", "+  size: XSMALL"],
    ("LEGACY_SERVICE_USER_PASSWORD", "SVC_LOOKER"): ["-  password: Planted-service-pass-1"],
    ("ADMIN_ROLE_GRANT", "MOKAFOR"): ["-    - PLATFORM_ADMIN"],
    ("WAREHOUSE_NO_MONITOR", "BI_WH"): ["+  resource_monitor: ANALYST_MONITOR"],
}


def plant(services, planted: dict):
    repo, main = services.changes.repo, services.changes.base_head()
    files = {}
    for rel, edits in planted.items():
        text = repo.read_text(main, f"snowddl/{rel}")
        for old, new in edits:
            assert old in text, old
            text = text.replace(old, new, 1)
        files[f"snowddl/{rel}"] = text
    head = repo.commit_files(main, files, "Planted findings\n", ("Platform", "platform@example.com"))
    repo.update_ref("refs/heads/main", head, main)
    return services


@pytest.fixture
def planted(services):
    return plant(services, PLANTED)


@pytest.fixture
def service_password(services):
    return plant(services, SERVICE_PASSWORD)


def changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_each_fix_is_a_request_whose_diff_is_exactly_the_fix(planted, people):
    services = planted
    findings = {(f.code, f.object): f for f in hygiene(services.snapshot().config)}
    assert set(findings) == set(EXPECTED) - {("LEGACY_SERVICE_USER_PASSWORD", "SVC_LOOKER")}
    for key, finding in findings.items():
        fields = dict(finding.fix.fields)
        if not finding.fix.complete:  # the requester picks the monitor
            assert key == ("WAREHOUSE_NO_MONITOR", "BI_WH")
            fields["resource_monitor"] = "ANALYST_MONITOR"
        recipe = RECIPES[finding.fix.recipe]
        preview = PreviewRequest(services, recipe, fields).execute()
        assert preview.ok, (key, preview.field_errors, preview.validation and preview.validation.errors)
        cr = SubmitRequest(services, people["requester"], recipe, fields, preview.base_sha).execute()
        assert changed_lines(services.changes.diff(cr)) == EXPECTED[key], key
        assert f"Fixes finding {key[0]} on {key[1]}" in cr.justification
    assert len(hygiene(services.snapshot().config)) == len(findings)  # nothing reaches main before review


def test_remove_password_refuses_a_user_without_a_password(planted):
    from recipes import FieldErrors

    snap = planted.snapshot()
    with pytest.raises(FieldErrors, match="has no password"):
        RECIPES["remove-password"].parse({"name": "SVC_DBT", "justification": "x" * 20}, snap)


def test_a_fix_opens_the_recipe_prefilled_and_previewed_and_one_click_submits_it(service_password, people, monkeypatch):
    """What the Fix button hands over (recipe_form.start_fix) opens the recipe filled in and previewed: the
    preview makes the invalid config valid, and Submit opens the request."""
    planted = service_password
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(planted.workspace.root))
    monkeypatch.setenv("SNOWTOWER_DEMO_QUERY_ROWS", "5000")
    finding = next(f for f in hygiene(planted.snapshot().config) if f.code == "LEGACY_SERVICE_USER_PASSWORD")

    def script():
        import streamlit as st

        from core.findings.hygiene import hygiene
        from portal import recipe_form, ui

        if "opened" not in st.session_state:
            st.session_state.opened = True
            f = next(f for f in hygiene(ui.services().snapshot().config) if f.code == "LEGACY_SERVICE_USER_PASSWORD")
            st.session_state[recipe_form.PENDING_KEY] = {"recipe": f.fix.recipe, "id": None, "ref": None,
                                                         "raw": dict(f.fix.fields), "comment": "",
                                                         "fixes": f.title, "preview": True}
        recipe_form.recipe_page("remove-password", "remove_password.", "intro")

    at = AppTest.from_function(script, default_timeout=60)
    as_viewer(at, people["requester"], planted.workspace.root)  # clicks act with the roles the users file gives
    at.run()
    assert not at.exception, at.exception
    assert any("Fixes finding LEGACY_SERVICE_USER_PASSWORD on SVC_LOOKER" in i.value for i in at.info)
    submit = next(b for b in at.button if b.label == "Submit request")
    submit.click().run()
    assert not at.exception, at.exception
    crs = planted.changes.list()
    assert len(crs) == 1 and crs[0].justification == finding.fix.fields["justification"]
    assert changed_lines(planted.changes.diff(crs[0])) == EXPECTED[("LEGACY_SERVICE_USER_PASSWORD", "SVC_LOOKER")]
