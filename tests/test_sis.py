"""The portal's entry script as Streamlit in Snowflake runs it: no workspace folder (a read-only working
folder, an empty home), runtime sis from the app's own snowtower.toml, the GitHub stand-in
(tests/github_server.py), the Snowflake stand-in (fakesnow) as the app's session, secrets as the app's
SECRETS give them (st.secrets github_token, signing_key). Every page an admin should see loads.

The viewer: the sign-in through st.user (branch idn) is not here yet; the test seats an admin the
simplest way the current entry script allows (portal.auth.sign_in answers with that admin)."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.changes.model import Actor
from portal import auth, ui
from tests.github_support import BOT_TOKEN, github, github_template  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]
ADMIN = Actor("ada", "Ada Admin", "ada@example.com", ("requester", "approver", "admin"))
SIGNING_KEY = "5e0c8d1f" * 8  # 64 characters, 8 different ones


class NoSignOut:
    def logout(self, *args, **kwargs):  # Snowsight signs viewers in and out, not the app
        return None


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def sis(tmp_path, github, monkeypatch):
    """A process set up as Streamlit in Snowflake would run SnowTower; yields the working folder."""
    import fakesnow
    import snowflake.connector
    from snowflake.connector.util_text import split_statements

    import app.settings as settings_module

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
                   "app.audit.SqliteAuditLog.__init__"):
        monkeypatch.setattr(target, lambda *a, **k: pytest.fail("a workspace was used in Streamlit in Snowflake"))
    # The viewer (see the module's docstring).
    monkeypatch.setattr(auth, "lockout_for", lambda settings: None)
    monkeypatch.setattr(auth, "sign_in", lambda *a, **k: auth.SignInResult(ADMIN, NoSignOut()))
    ui._services.clear()
    ui.live_source.clear()
    with fakesnow.patch():
        # What deploy/setup.sql made beforehand (the parts fakesnow runs): the app's database and schema.
        setup = (ROOT / "deploy" / "setup.sql").read_text()
        conn = snowflake.connector.connect()
        for sql, _ in split_statements(io.StringIO(setup), remove_comments=True):
            if sql.upper().startswith(("CREATE DATABASE", "CREATE SCHEMA")):
                conn.cursor().execute(sql)
        yield cwd
    ui._services.clear()
    ui.live_source.clear()
    cwd.chmod(0o755)
    home.chmod(0o755)


def portal() -> AppTest:
    at = AppTest.from_file(str(ROOT / "portal" / "app.py"), default_timeout=60)
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
    from app.audit import AuditQuery

    before = listing(sis)
    at = portal()
    assert not at.exception and [t.value for t in at.title] == ["Welcome, Ada"]  # Home, as the admin
    services = ui.services()
    assert services.settings.in_sis and services.store is None and services.settings.backend == "github"
    titles = {}
    for key, (file, title, _) in ui.PAGES.items():
        if not ui.may_open(ADMIN, key):
            continue
        visit(at, key)
        assert not at.exception, (key, at.exception)
        titles[key] = [t.value for t in at.title]
        if key in ui.WORKSPACE_PAGES:  # the users file's page: not part of SnowTower here
            assert "not part of SnowTower in Streamlit in Snowflake" in " ".join(i.value for i in at.info)
        assert not [e.value for e in at.error if "error id" in e.value], (key, [e.value for e in at.error])
    assert set(titles) == set(ui.PAGES)  # an admin may open every page
    # The Status page ran against the stand-ins: GitHub with write permission, the config valid.
    visit(at, "status")
    shown = "\n".join(str(e.value) for e in [*at.success, *at.error])
    assert f"**GitHub**: {github.full_name} reachable at" in shown and "as snowtower-bot (admin)" in shown
    assert "production on Streamlit in Snowflake" in shown and "is valid" in shown
    assert "**Audit log**: readable (snowflake)" in shown
    # The stand-in has no ACCOUNT_USAGE: the grant probe fails, on one line naming what is missing.
    assert "**Snowflake**: status_account_usage: " in shown and 'schema "SNOWFLAKE.ACCOUNT_USAGE" does not exist' in shown
    # Nothing was written where SnowTower runs; the audit log is the Snowflake table setup.sql named.
    assert listing(sis) == before and not (Path(os.environ["HOME"]) / ".snowtower").exists()
    assert services.audit.table == "SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG"
    services.audit.write("ada", ["admin"], "probe")
    assert [r.action for r in services.audit.search(AuditQuery(actor="ada"))] == ["probe"]


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
