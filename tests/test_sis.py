"""The portal's entry script as Streamlit in Snowflake runs it: no workspace folder (a read-only working
folder, an empty home), runtime sis from the app's own snowtower.toml, the GitHub stand-in
(tests/github_server.py), the Snowflake stand-in (fakesnow) as the app's session, secrets as the app's
SECRETS give them (st.secrets github_token, signing_key). Every page an admin should see loads.

The viewer: st.user as Snowflake gives it (AppTest.user: user_name, email), roles from the viewer's
Snowflake roles in SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_USERS (a table in the stand-in) through the shipped
sis_role_mapping (app.identity.Sis), never streamlit-authenticator."""
from __future__ import annotations

import importlib
import io
import os
import sys
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from core.changes.model import Actor
from tests.github_support import BOT_TOKEN, github, github_template  # noqa: F401 (fixtures)
from tests.shipped_imports import ShippedImports

ROOT = Path(__file__).resolve().parents[1]
ADMIN = Actor("ada", "Ada Admin", "ada@example.com", ("requester", "approver", "admin"))
SIGNING_KEY = "5e0c8d1f" * 8  # 64 characters, 8 different ones


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def shipped():
    """Only what Streamlit in Snowflake installs is importable to the app's code (tests/shipped_imports.py).
    The app's modules are imported afresh under that rule (and the test run's own put back afterwards),
    so an import made before, without the rule, cannot hide one."""
    guard = ShippedImports()
    ours = {f.name for f in guard.folders}
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] in ours}
    for name in saved:
        del sys.modules[name]
    guard.install()
    try:
        yield guard
    finally:
        guard.uninstall()
        for name in [n for n in sys.modules if n.split(".")[0] in ours]:
            del sys.modules[name]
        sys.modules.update(saved)
    assert not guard.refusals, f"the app imported what Streamlit in Snowflake does not install: {guard.refusals}"


def test_the_rule_refuses_to_the_app_what_snowflake_does_not_install(shipped):
    """The rule is a real check: the demo stand-in needs duckdb, which deploy/requirements.txt does not
    install, so importing it as the app would fails here as in Snowflake; the harness may still use it."""
    with pytest.raises(ModuleNotFoundError, match="duckdb"):
        importlib.import_module("core.snowflake.demo")
    assert shipped.refusals[-1][0] == "duckdb" and shipped.refusals[-1][1].endswith("core/snowflake/demo.py")
    assert importlib.import_module("duckdb")  # the test's own import (fakesnow's engine) is not the app's
    assert shipped.allows("pyarrow") and shipped.allows("snowflake.connector")  # streamlit's, the connector
    for name in ("streamlit_authenticator", "fakesnow", "tests", "snowflake.cli", "pytest"):
        assert not shipped.allows(name), name
    shipped.refusals.clear()


def ui():
    """portal.ui as the app under test imported it (under the `shipped` rule)."""
    return importlib.import_module("portal.ui")


@pytest.fixture
def app_role() -> list:
    """The Snowflake sessions the app opened in the test, each a tests.snowflake_privileges.RoleSession
    (its `log`: every statement run, what it needed, what was missing)."""
    return []


@pytest.fixture
def setup_sql(request) -> str:
    """The setup script an administrator ran (deploy/setup.sql unless a test passes another)."""
    return getattr(request, "param", None) or (ROOT / "deploy" / "setup.sql").read_text()


@pytest.fixture
def sis(shipped, tmp_path, github, monkeypatch, app_role, setup_sql):
    """A process set up as Streamlit in Snowflake would run SnowTower; yields the working folder."""
    import fakesnow
    import snowflake.connector
    from snowflake.connector.util_text import split_statements

    import app.settings.load as settings_module

    shipped = (ROOT / "deploy" / "snowtower.toml").read_text()
    shipped = shipped.replace('github_repository = "YOUR-ORG/snowflake-infrastructure"',
                              f'github_repository = "{github.full_name}"\ngithub_base_url = "{github.base_url}"\n'
                              "github_seconds_between_writes = 0.0")
    app_settings = tmp_path / "app" / "snowtower.toml"
    app_settings.parent.mkdir()
    app_settings.write_text(shipped)
    monkeypatch.setattr(settings_module, "APP_SETTINGS", app_settings)  # deployed beside the app's files
    for name in list(os.environ):
        if name.startswith(("SNOWTOWER_", "SNOWFLAKE_")):
            monkeypatch.delenv(name)
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    cwd.chmod(0o555)
    home.chmod(0o555)
    # No local git repository, no demo workspace, no SQLite: any attempt fails the test.
    for target in ("core.workspace.ensure_demo_workspace", "core.changes.local.LocalChanges.__init__",
                   "core.changes.store.Store.__init__", "core.lockout.Lockout._connect",
                   "app.audit_sqlite.SqliteAuditLog.__init__"):
        monkeypatch.setattr(target, lambda *a, **k: pytest.fail("a workspace was used in Streamlit in Snowflake"))
    import streamlit as st

    st.cache_resource.clear()  # st.connection's connections too: each test's stand-in is its own
    with fakesnow.patch():
        # What deploy/setup.sql made beforehand (the parts fakesnow runs): the app's database, schema and
        # audit table (the app creates nothing: its role may only SELECT and INSERT there).
        setup = setup_sql
        conn = snowflake.connector.connect()
        for sql, _ in split_statements(io.StringIO(setup), remove_comments=True):
            if sql.upper().startswith(("CREATE DATABASE", "CREATE SCHEMA", "CREATE TABLE")):
                conn.cursor().execute(sql)
        # Who holds which SnowTower role (the view the SiS identity reads; Snowflake keeps it, not the app).
        for sql in ("CREATE DATABASE IF NOT EXISTS SNOWFLAKE", "CREATE SCHEMA IF NOT EXISTS SNOWFLAKE.ACCOUNT_USAGE",
                    "CREATE TABLE SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_USERS (CREATED_ON TIMESTAMP, DELETED_ON TIMESTAMP, "
                    "ROLE VARCHAR, GRANTED_TO VARCHAR, GRANTEE_NAME VARCHAR, GRANTED_BY VARCHAR)",
                    "INSERT INTO SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_USERS VALUES "
                    "(CURRENT_TIMESTAMP, NULL, 'SNOWTOWER_ADMIN', 'USER', 'ADA', 'SECURITYADMIN'), "
                    "(CURRENT_TIMESTAMP, NULL, 'SNOWTOWER_REQUESTER', 'USER', 'RILEY', 'SECURITYADMIN'), "
                    "(CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'SNOWTOWER_ADMIN', 'USER', 'RILEY', 'SECURITYADMIN'), "
                    # SnowDDL's users: their user role <USER>__U_ROLE, which holds their business roles
                    "(CURRENT_TIMESTAMP, NULL, 'FOX__U_ROLE', 'USER', 'FOX', 'SNOWDDL'), "
                    "(CURRENT_TIMESTAMP, NULL, 'MULDER__U_ROLE', 'USER', 'MULDER', 'SNOWDDL'), "
                    "(CURRENT_TIMESTAMP, NULL, 'TEAM_LEADS', 'USER', 'DANA', 'SECURITYADMIN')",
                    # GRANTS_TO_ROLES as documented (a role granted to a role: PRIVILEGE USAGE, GRANTED_ON ROLE,
                    # NAME the granted role, GRANTEE_NAME the role it is granted to)
                    "CREATE TABLE SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_ROLES (CREATED_ON TIMESTAMP, MODIFIED_ON TIMESTAMP, "
                    "PRIVILEGE VARCHAR, GRANTED_ON VARCHAR, NAME VARCHAR, TABLE_CATALOG VARCHAR, TABLE_SCHEMA VARCHAR, "
                    "GRANTED_TO VARCHAR, GRANTEE_NAME VARCHAR, GRANT_OPTION VARCHAR, GRANTED_BY VARCHAR, DELETED_ON TIMESTAMP)",
                    "INSERT INTO SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_ROLES VALUES "
                    "(CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'USAGE', 'ROLE', 'SNOWTOWER_APPROVER__B_ROLE', NULL, NULL, 'ROLE', "
                    "'FOX__U_ROLE', 'false', 'SNOWDDL', NULL), "
                    "(CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'USAGE', 'ROLE', 'SNOWTOWER_ADMIN__B_ROLE', NULL, NULL, 'ROLE', "
                    "'MULDER__U_ROLE', 'false', 'SNOWDDL', CURRENT_TIMESTAMP), "  # revoked
                    "(CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'USAGE', 'ROLE', 'ENGINEERS', NULL, NULL, 'ROLE', "
                    "'TEAM_LEADS', 'false', 'SECURITYADMIN', NULL), "
                    "(CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'USAGE', 'ROLE', 'SNOWTOWER_ADMIN', NULL, NULL, 'ACCOUNT ROLE', "
                    "'ENGINEERS', 'false', 'SECURITYADMIN', NULL), "  # the view's page spells account roles either way
                    "(CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'USAGE', 'ROLE', 'SNOWTOWER_ADMIN', NULL, NULL, 'DATABASE_ROLE', "
                    "'MULDER__U_ROLE', 'false', 'SECURITYADMIN', NULL), "  # a database role of that name is not Mulder's
                    "(CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'SELECT', 'TABLE', 'SNOWTOWER_ADMIN', 'DB', 'S', 'ROLE', "
                    "'MULDER__U_ROLE', 'false', 'SECURITYADMIN', NULL)"):  # a table named like a role: not a role grant
            conn.cursor().execute(sql)
        # The app's session runs as SNOWTOWER_APP with what deploy/setup.sql grants it, nothing more: a
        # statement needing another privilege fails as Snowflake fails it (tests/snowflake_privileges.py).
        from tests.snowflake_privileges import Grants, RoleSession

        grants = Grants.from_setup(setup)
        project = yaml.safe_load((ROOT / "snowflake.yml").read_text())["entities"]["snowtower"]
        real_connect = snowflake.connector.connect

        def connect(*args, **kwargs):
            session = RoleSession(real_connect(*args, **kwargs), grants, "SNOWTOWER_APP", project["identifier"]["database"],
                                  project["identifier"]["schema"], project["query_warehouse"])
            app_role.append(session)
            return session
        snowflake.connector.connect = connect
        try:
            yield cwd
        finally:
            snowflake.connector.connect = real_connect
    st.cache_resource.clear()
    cwd.chmod(0o755)
    home.chmod(0o755)


def portal(user_name: str = "ADA") -> AppTest:
    at = AppTest.from_file(str(ROOT / "portal" / "app.py"), default_timeout=60)
    at.user = {"user_name": user_name, "email": f"{user_name.lower()}@example.com", "name": user_name.title()}  # st.user
    at.secrets["github_token"] = BOT_TOKEN  # the app's SECRETS clause (snowflake.yml)
    at.secrets["signing_key"] = SIGNING_KEY
    # st.connection("snowflake") is the app's session in SiS; here fakesnow answers the connector's default connection.
    return at.run()


def visit(at, key: str):
    url_path = "" if key == "home" else key.replace("_", "-")
    [page_hash] = [h for h, info in at._registered_pages.items() if info.get("url_pathname") == url_path]
    at._page_hash = page_hash
    return at.run()


def test_every_admin_page_loads_in_streamlit_in_snowflake(sis, github):
    from app.audit_record import AuditQuery

    before = listing(sis)
    at = portal()
    assert not at.exception and [t.value for t in at.title] == ["Welcome, Ada"]  # Home, as the admin
    services = ui().services()
    assert services.settings.in_sis and services.store is None and services.settings.backend == "github"
    titles = {}
    for key in ui().PAGES:
        if not ui().may_open(ADMIN, key):
            continue
        visit(at, key)
        assert not at.exception, (key, at.exception)
        titles[key] = [t.value for t in at.title]
        if key in ui().WORKSPACE_PAGES:  # the users file's page: not part of SnowTower here
            assert "not part of SnowTower in Streamlit in Snowflake" in " ".join(i.value for i in at.info)
        assert not [e.value for e in at.error if "error id" in e.value], (key, [e.value for e in at.error])
    assert set(titles) == set(ui().PAGES)  # an admin may open every page
    # The Status page ran against the stand-ins: GitHub with write permission, the config valid.
    visit(at, "status")
    shown = "\n".join(str(e.value) for e in [*at.success, *at.error])
    assert f"**GitHub**: {github.full_name} reachable at" in shown and "as snowtower-bot (admin)" in shown
    assert "production on Streamlit in Snowflake" in shown and "is valid" in shown
    assert "**Audit log**: readable and writable (snowflake)" in shown
    # Finding states, the alerts' ledger and campaigns are kept in setup.sql's tables, not lost with the container.
    assert "**SnowTower records**: finding states, alerts' ledger, campaigns and lock rows: readable and writable" in shown
    from app import campaigns
    from app.findings_state import SnowflakeFindingStates, states_for

    states = states_for(services)
    assert isinstance(states, SnowflakeFindingStates) and states.persistent
    assert states.states_table == "SNOWTOWER.APP.SNOWTOWER_FINDING_STATE"
    assert campaigns.store_for(services).campaigns_table == "SNOWTOWER.APP.SNOWTOWER_CAMPAIGNS"
    # The stand-in's ACCOUNT_USAGE holds GRANTS_TO_USERS only: the grant probe fails, on one line naming what is missing.
    assert "**Snowflake**: status_account_usage: " in shown and "ACCESS_HISTORY does not exist" in shown
    # Nothing was written where SnowTower runs; the audit log is the Snowflake table setup.sql named.
    assert listing(sis) == before and not (Path(os.environ["HOME"]) / ".snowtower").exists()
    assert services.audit.table == "SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG"
    services.audit.write("ada", ["admin"], "probe")
    # the sign-in through st.user, then the probe, both in the Snowflake table (newest first)
    assert [r.action for r in services.audit.search(AuditQuery(actor="ada"))] == ["probe", "sign_in"]


def test_every_statement_the_app_ran_is_granted_by_setup_sql_and_none_is_ddl(sis, app_role):
    """Every page as the admin, the Status page's checks and the audit log, on a session that holds only
    deploy/setup.sql's grants to SNOWTOWER_APP (SELECT and INSERT on the audit table): nothing was refused,
    and nothing created, altered, dropped or granted anything."""
    at = portal()
    for key in ui().PAGES:
        visit(at, key)
        assert not at.exception, (key, at.exception)
    ran = [entry for session in app_role for entry in session.log]
    assert ran and [(sql, [str(n) for n in missing]) for sql, _, missing in ran if missing] == []
    needed = {str(n) for _, needs, _ in ran for n in needs}
    table = "SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG"
    assert {f"SELECT ON TABLE {table}", f"INSERT ON TABLE {table}", "USAGE ON SCHEMA SNOWTOWER.APP",
            "USAGE ON WAREHOUSE SNOWTOWER_WH", "SELECT ON ACCOUNT_USAGE VIEW SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_ROLES"} <= needed
    assert not [sql for sql, _, _ in ran if sql.split()[0].upper() in ("CREATE", "ALTER", "DROP", "GRANT", "REVOKE")
                and not sql.upper().startswith("ALTER SESSION")]  # the session's time zone (UTC) is not an object


def test_the_workspace_pages_are_not_offered_in_the_navigation(sis):
    at = portal()
    assert not at.exception
    listed = {p.get("url_pathname") for p in at._registered_pages.values()}
    assert "logins" in listed  # its address answers (saying it is not offered) ...
    visit(at, "logins")
    assert not at.exception and not at.text_input and not at.button  # ... and offers nothing to do


def test_a_missing_signing_key_in_snowflake_is_named_on_the_settings_page(sis):
    at = AppTest.from_file(str(ROOT / "portal" / "app.py"), default_timeout=60)
    at.secrets["github_token"] = BOT_TOKEN  # but no signing_key in the app's SECRETS
    at.run()
    assert not at.exception and [t.value for t in at.title] == ["SnowTower's settings need fixing"]
    assert [t.value for t in at.text] == ["signing_key: Streamlit in Snowflake has no workspace to keep a generated key: "
                                          "set signing_key in the app's secrets (from the default)"]


def test_the_viewer_is_snowflakes_user_with_the_roles_snowflake_grants_them(sis, monkeypatch):
    """st.user names the viewer; GRANTS_TO_USERS (revoked grants have DELETED_ON) and the shipped mapping
    give the portal role: Riley holds SNOWTOWER_REQUESTER now (her admin grant was revoked), so she is a
    requester; someone with no SnowTower role is told so and sees no page; streamlit-authenticator is
    never imported."""
    import sys

    for name in [m for m in sys.modules if m.split(".")[0] == "streamlit_authenticator"]:
        monkeypatch.delitem(sys.modules, name)  # put back after the test
    at = portal("RILEY")
    assert not at.exception and [t.value for t in at.title] == ["Welcome, Riley"]
    assert ui().services().identity.roles_of("riley") == frozenset({"requester"})
    visit(at, "review")  # an approver's page: its address says the viewer may not open it
    assert not at.exception and not at.button
    assert any("approver" in (w.value or "") for w in [*at.warning, *at.info, *at.error])
    nobody = portal("MALLORY")
    assert not nobody.exception and not nobody.title
    assert any("Ask an admin for one" in e.value for e in nobody.error)
    assert not [m for m in sys.modules if m.split(".")[0] == "streamlit_authenticator"]


def test_a_warehouse_request_previews_in_streamlit_in_snowflake_with_its_cost_line(sis, shipped):
    """The request preview with its cost projection (app.operations.shared.preview) runs on the app's session:
    nothing of the demo's stand-in is imported (the `shipped` rule), and an account whose metering the
    app cannot read gets one line saying so under the preview, not an error."""
    at = portal()
    visit(at, "warehouse")
    at.text_input(key="warehouse.name").input("MARKETING_WH")
    at.selectbox(key="warehouse.size").set_value("SMALL")
    at.text_area(key="warehouse.justification").input("Campaign analysis moves off the analyst warehouse.")
    at = next(b for b in at.button if b.label == "Preview").click().run()
    assert not at.exception, at.exception
    assert any(b.label == "Submit request" for b in at.button)
    # the stand-in session has no WAREHOUSE_METERING_HISTORY: the projection says it cannot read it
    [note] = [c.value for c in at.caption if c.value.startswith("Cost projection unavailable")]
    assert "WAREHOUSE_METERING_HISTORY does not exist" in note
    assert not shipped.refusals


def test_inherited_roles_count_snowddls_user_roles_and_business_roles_included(sis):
    """The viewer's roles are walked from GRANTS_TO_USERS through GRANTS_TO_ROLES: Fox holds
    SNOWTOWER_APPROVER as a SnowDDL business role (SNOWTOWER_APPROVER__B_ROLE, granted to FOX__U_ROLE);
    Dana holds SNOWTOWER_ADMIN two grants down (TEAM_LEADS -> ENGINEERS -> SNOWTOWER_ADMIN); Mulder's
    business role was revoked, and a table privilege is not a role."""
    at = portal("FOX")
    assert not at.exception and [t.value for t in at.title] == ["Welcome, Fox"]
    identity = ui().services().identity
    assert identity.roles_of("fox") == frozenset({"requester", "approver"})
    assert identity.roles_of("dana") == frozenset({"requester", "approver", "admin"})
    assert identity.roles_of("mulder") == frozenset()
    nobody = portal("MULDER")
    assert not nobody.exception and not nobody.title


AUDIT_GRANT = "GRANT SELECT, INSERT ON TABLE SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG TO ROLE SNOWTOWER_APP;"


@pytest.mark.parametrize("setup_sql", [(ROOT / "deploy" / "setup.sql").read_text().replace(
    AUDIT_GRANT, AUDIT_GRANT.replace("SELECT, INSERT", "SELECT"))], indirect=True)
def test_without_the_insert_grant_the_viewer_is_told_which_grant_is_missing(sis):
    """An administrator who left INSERT out of step 4: the sign-in cannot be recorded, so nothing is done,
    and the page names the statement that fixes it (no traceback, no DDL tried)."""
    at = portal()
    assert not at.exception and not at.title
    [error] = [e.value for e in at.error]
    assert error.startswith("The audit log cannot be used, so nothing is done until it can: the role SNOWTOWER_APP may not "
                            "INSERT the audit table SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG: GRANT INSERT ON TABLE "
                            "SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG TO ROLE SNOWTOWER_APP (")


def test_the_scratch_folder_for_snowddl_goes_with_the_backend(sis):
    """Each commit's config is exported into a temporary folder (SnowDDL reads folders); it is removed
    with the backend that reads it, not left in the container's /tmp for every process that ran."""
    import gc

    import streamlit as st

    from portal import ui

    at = portal()
    assert not at.exception
    scratch = ui.services().workspace.root
    assert scratch.is_dir() and scratch.name.startswith("snowtower-sis-")
    del at
    st.cache_resource.clear()
    gc.collect()
    assert not scratch.exists()
