"""A setup that checks itself, and no accidental demo.

`snowtower check` lists every missing or wrong item of a workspace's setup in one run (what each mode needs,
from every source the portal reads, its .streamlit/secrets.toml included), `--online` reaches GitHub and
Snowflake within a bound; the portal's settings page shows the same list. `snowtower serve` keeps the
demo's logins on this machine unless told otherwise; read-only commands never create a workspace, and
figures from the demo's stand-in say so."""
import json
import secrets
import socket
import time

import pytest

from app import settings as settings_module
from app.settings import check_setup, setup_check
from portal import cli
from tests.github_support import BOT_TOKEN, github, github_template  # noqa: F401 (fixtures)

KEY = secrets.token_hex(32)


@pytest.fixture(autouse=True)
def no_outside_secrets(tmp_path, monkeypatch):
    """No developer's ~/.streamlit or ~/.snowflake, and no SNOWTOWER_* of the machine, reach these tests."""
    secrets_file = tmp_path / "portal-secrets.toml"
    monkeypatch.setattr(setup_check, "secrets_files", lambda: [secrets_file])
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path / "no-snowflake-home"))
    for name in ("SNOWTOWER_WORKSPACE", "SNOWTOWER_GITHUB_TOKEN", "SNOWTOWER_COOKIE_KEY", "SNOWTOWER_GITHUB_REPOSITORY",
                 "SNOWTOWER_MODE", "SNOWFLAKE_ACCOUNT", "SNOWTOWER_DEMO_QUERY_ROWS"):
        monkeypatch.delenv(name, raising=False)
    return secrets_file


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def half_configured(tmp_path):
    """A production workspace as a platform team starts it: the repository named, nothing else."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "settings.toml").write_text('[snowtower]\ngithub_repository = "acme/snowflake-infra"\n')
    return ws


# -- snowtower check: every missing item in one run ------------------------------------------------------

def test_check_lists_every_missing_setting_of_a_half_configured_production_workspace_at_once(tmp_path, capsys):
    ws = half_configured(tmp_path)
    code, out, _ = run(capsys, "check", "--workspace", str(ws))
    assert code == 1
    lines = out.splitlines()
    keys = [line.split()[1].rstrip(":") for line in lines if line.startswith("error")]
    assert keys == ["github_token", "cookie_key", "connections.snowflake", "auth.yaml"]
    assert "contents and pull requests write" in lines[0] and "openssl rand -hex 32" in lines[1]
    assert "[connections.snowflake] table in .streamlit/secrets.toml" in lines[2]
    assert lines[3].endswith("(the portal starts without it)") and "snowtower users add" in lines[3]
    assert lines[-1].startswith("4 problem(s)")


def test_check_reads_the_portals_secrets_toml(tmp_path, capsys, no_outside_secrets):
    ws = half_configured(tmp_path)
    (tmp_path / "rsa_key.p8").write_text("not checked offline")
    no_outside_secrets.write_text(f'[snowtower]\ngithub_token = "{BOT_TOKEN}"\ncookie_key = "{KEY}"\n\n'
                                  '[connections.snowflake]\naccount = "acme-prod"\nuser = "SNOWTOWER"\n'
                                  f'private_key_file = "{tmp_path / "rsa_key.p8"}"\n')
    code, out, _ = run(capsys, "check", "--workspace", str(ws))
    assert code == 1 and [line.split()[1] for line in out.splitlines()[:-1]] == ["auth.yaml:"]
    (ws / "auth.yaml").write_text("cookie: {}\n")
    code, out, _ = run(capsys, "check", "--workspace", str(ws))
    assert code == 0 and out.startswith("ok\n")
    assert KEY not in out and BOT_TOKEN not in out and "github_token" in out


@pytest.mark.parametrize("mode", settings_module.MODE_NEEDS, ids=[m[0].split(",")[0] for m in settings_module.MODE_NEEDS])
def test_docs_say_what_each_mode_needs_as_check_finds_it(tmp_path, mode):
    """docs/settings.md's "What each mode needs" (MODE_NEEDS) is what check_setup finds missing in each mode."""
    title, example, needs = mode
    environ = {f"SNOWTOWER_{k.upper()}": v for k, v in example.items()}
    _, problems = check_setup(tmp_path, environ=environ, secrets={})
    assert [p.key for p in problems] == [item for item, _ in needs]
    assert f"### {title}" in (settings_module.REPO_ROOT / "docs" / "settings.md").read_text()


def test_serve_reads_the_portals_secrets_toml(tmp_path, capsys, monkeypatch, no_outside_secrets):
    """A repository named in secrets.toml makes the portal production: no demo logins, no demo details."""
    started = []
    monkeypatch.setattr(cli.os, "execvpe", lambda exe, argv, env: started.append(argv))
    ws = tmp_path / "ws"
    ws.mkdir()
    no_outside_secrets.write_text('[snowtower]\ngithub_repository = "acme/x"\n')
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "serve", "--workspace", str(ws), "--address", "0.0.0.0")
    assert code == 0 and "WARNING" not in err
    assert started[0][started[0].index("--client.showErrorDetails") + 1] == "none"


def test_a_connection_missing_its_user_and_key_file_is_named_with_each_gap(tmp_path, no_outside_secrets):
    ws = half_configured(tmp_path)
    no_outside_secrets.write_text('[connections.snowflake]\naccount = "acme-prod"\nprivate_key_file = "/nowhere/k.p8"\n')
    _, problems = check_setup(ws, environ={"SNOWTOWER_GITHUB_TOKEN": "t", "SNOWTOWER_COOKIE_KEY": KEY})
    found = [str(p) for p in problems if p.key == "connections.snowflake"]
    assert found == ["connections.snowflake: misses user (from secrets.toml [connections.snowflake])",
                     "connections.snowflake: private_key_file /nowhere/k.p8 does not exist (from secrets.toml "
                     "[connections.snowflake])"]


def test_an_audit_log_in_snowflake_cannot_start_without_the_connection(tmp_path):
    ws = half_configured(tmp_path)
    (ws / "settings.toml").write_text('[snowtower]\ngithub_repository = "acme/x"\naudit_log = "snowflake"\n')
    _, problems = check_setup(ws, environ={"SNOWTOWER_GITHUB_TOKEN": "t", "SNOWTOWER_COOKIE_KEY": KEY})
    assert [(p.key, p.blocking) for p in problems] == [("connections.snowflake", True), ("auth.yaml", False)]


def test_oidc_needs_streamlits_auth_table(tmp_path, no_outside_secrets):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "settings.toml").write_text('[snowtower]\nauth = "oidc"\n')
    _, problems = check_setup(ws, environ={})
    assert [str(p) for p in problems] == ["auth: auth = oidc needs Streamlit's [auth] table in .streamlit/secrets.toml; "
                                          "missing: redirect_uri, cookie_secret, client_id, client_secret, "
                                          "server_metadata_url (from secrets.toml [auth])"]
    no_outside_secrets.write_text('[auth]\nredirect_uri = "https://x/oauth2callback"\ncookie_secret = "s"\n\n'
                                  '[auth.okta]\nclient_id = "i"\nclient_secret = "c"\n'
                                  'server_metadata_url = "https://okta/.well-known/openid-configuration"\n')
    assert check_setup(ws, environ={})[1] == []


def test_streamlit_in_snowflake_needs_its_signing_key_and_github_secret(tmp_path):
    _, problems = check_setup(tmp_path, environ={"SNOWTOWER_RUNTIME": "sis", "SNOWTOWER_GITHUB_REPOSITORY": "acme/x"},
                              secrets={})
    assert [p.key for p in problems] == ["github_token", "signing_key"]
    assert "the app's secret named by github_secret_name" in problems[0].message
    # The container runtime gives the app's SECRETS as top-level keys of st.secrets.
    _, problems = check_setup(tmp_path, environ={"SNOWTOWER_RUNTIME": "sis", "SNOWTOWER_GITHUB_REPOSITORY": "acme/x"},
                              secrets={"github_token": "t", "signing_key": KEY})
    assert problems == []


def test_a_broken_secrets_toml_is_named_without_its_content(tmp_path, capsys, no_outside_secrets):
    ws = half_configured(tmp_path)
    no_outside_secrets.write_text('[snowtower]\ngithub_token = "ghp_secretvalue\n')
    code, out, _ = run(capsys, "check", "--workspace", str(ws))
    assert code == 1 and "error   secrets.toml: is not valid TOML" in out and str(no_outside_secrets) in out
    assert "ghp_secretvalue" not in out


def test_check_on_a_missing_workspace_names_it_and_creates_nothing(tmp_path, capsys):
    code, _, err = run(capsys, "check", "--workspace", str(tmp_path / "typo"))
    assert code == 2 and f"no SnowTower workspace at {tmp_path / 'typo'}" in err
    assert not (tmp_path / "typo").exists()


# -- --online: bounded reachability -------------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: nothing listens there


def online(tmp_path, base_url: str, token: str, capsys):
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    (ws / "settings.toml").write_text(f'[snowtower]\ngithub_repository = "acme/snowflake-infra"\n'
                                      f'github_base_url = "{base_url}"\n')
    (ws / "auth.yaml").write_text("cookie: {}\n")
    (tmp_path / "portal-secrets.toml").write_text(
        f'[snowtower]\ngithub_token = "{token}"\ncookie_key = "{KEY}"\n\n[connections.snowflake]\naccount = "acme"\n'
        f'user = "u"\npassword = "p"\nhost = "127.0.0.1"\nport = {_closed_port()}\nprotocol = "http"\n')
    started = time.monotonic()
    code, out, _ = run(capsys, "check", "--workspace", str(ws), "--online", "--timeout", "5")
    return code, out, time.monotonic() - started


def test_online_check_reaches_github_with_write_permission(tmp_path, capsys, github):
    code, out, _ = online(tmp_path, github.base_url, BOT_TOKEN, capsys)
    lines = {line.split()[1]: line for line in out.splitlines() if line.split()[1] in ("GitHub:", "Snowflake:")}
    assert lines["GitHub:"].startswith("online  GitHub: acme/snowflake-infra at ") and "write permission" in lines["GitHub:"]
    assert lines["Snowflake:"].startswith("error   Snowflake: secrets.toml [connections.snowflake]: not reachable")
    assert code == 1


def test_online_check_names_a_token_github_refuses(tmp_path, capsys, github):
    code, out, _ = online(tmp_path, github.base_url, "wrong-token", capsys)
    assert code == 1 and "error   GitHub: acme/snowflake-infra at " in out and "refuses the credentials (401" in out
    assert "wrong-token" not in out


def test_online_check_of_an_unreachable_github_ends_within_its_bound(tmp_path, capsys):
    code, out, took = online(tmp_path, f"http://127.0.0.1:{_closed_port()}/api/v3", BOT_TOKEN, capsys)
    assert code == 1 and "error   GitHub: " in out and "not reachable (ConnectionError" in out
    assert took < 15  # 5 s for both probes, and the connector's import


# -- the portal's settings page: the same full list --------------------------------------------------------

def test_the_portal_shows_every_missing_setting_on_its_settings_page(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from portal import ui
    from tests.test_cli import ROOT

    ws = half_configured(tmp_path)
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(ws))
    ui._services.clear()
    ui._identity.clear()
    at = AppTest.from_file(str(ROOT / "portal" / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "SnowTower's settings need fixing"
    _, problems = check_setup(ws, secrets={})
    assert [t.value for t in at.text] == [str(p) + ("" if p.blocking else " (the portal starts without it)")
                                          for p in problems]
    assert [p.key for p in problems] == ["github_token", "cookie_key", "connections.snowflake", "auth.yaml"]


# -- no accidental demo ----------------------------------------------------------------------------------

@pytest.fixture
def started(monkeypatch):
    argvs = []
    monkeypatch.setattr(cli.os, "execvpe", lambda exe, argv, env: argvs.append(argv))
    return argvs


def test_serve_keeps_a_demo_workspace_on_this_machine_unless_allowed(tmp_path, capsys, started, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "serve", "--workspace", str(ws), "--address", "0.0.0.0")
    assert code == 2 and started == [] and "public demo logins" in err and "--allow-remote" in err
    code, _, err = run(capsys, "serve", "--workspace", str(ws), "--address", "0.0.0.0", "--allow-remote")
    assert code == 0 and "WARNING: the SnowTower demo is served on 0.0.0.0" in err
    argv = started[0]
    assert argv[argv.index("--client.showErrorDetails") + 1] == "full"
    assert run(capsys, "serve", "--workspace", str(ws))[0] == 0  # localhost: as before


def test_serve_of_a_production_workspace_listens_where_told_without_demo_details(tmp_path, capsys, started, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "settings.toml").write_text('[snowtower]\nmode = "production"\n')
    from app.paths import EXAMPLE_CONFIG
    from core.workspace import ensure_demo_workspace

    ensure_demo_workspace(ws, EXAMPLE_CONFIG)  # its git repository (a production workspace starts from one)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "serve", "--workspace", str(ws), "--address", "0.0.0.0")
    assert code == 0 and "WARNING" not in err
    argv = started[0]
    assert argv[argv.index("--client.showErrorDetails") + 1] == "none"


def test_serve_of_a_missing_workspace_starts_no_demo(tmp_path, capsys, started):
    code, _, err = run(capsys, "serve", "--workspace", str(tmp_path / "typo"))
    assert code == 2 and started == [] and str(tmp_path / "typo") in err and not (tmp_path / "typo").exists()


@pytest.mark.parametrize("argv", [["cost"], ["cost", "--format", "json"], ["security"], ["security", "--format", "json"],
                                  ["expire"], ["expire", "--format", "json"], ["users", "list"],
                                  ["alerts"], ["alerts", "--dry-run"]])
def test_read_only_commands_never_create_a_workspace(tmp_path, capsys, argv):
    typo = tmp_path / "typo"
    code, out, err = run(capsys, *argv, "--workspace", str(typo))
    assert code == 2 and out == "" and f"no SnowTower workspace at {typo}" in err
    assert not typo.exists()


def test_cost_on_a_production_workspace_seeds_no_repository(tmp_path, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "settings.toml").write_text('[snowtower]\nmode = "production"\n')
    code, _, err = run(capsys, "cost", "--workspace", str(ws))
    assert code == 2 and "holds no SnowTower git repository" in err and str(ws) in err
    assert sorted(p.name for p in ws.iterdir()) == ["settings.toml"]


def test_figures_from_the_demo_stand_in_say_so(services, capsys, monkeypatch):
    monkeypatch.setenv("SNOWTOWER_DEMO_QUERY_ROWS", "5000")
    ws = str(services.workspace.root)
    code, out, _ = run(capsys, "cost", "--workspace", ws, "--days", "7")
    assert code == 0 and out.splitlines()[0].startswith("demo data: ")
    code, out, _ = run(capsys, "cost", "--workspace", ws, "--days", "7", "--format", "json")
    assert code == 0 and json.loads(out)["demo_data"] is True
    code, out, _ = run(capsys, "security", "--workspace", ws, "--days", "7", "--format", "json")
    assert code == 1 and json.loads(out)["demo_data"] is True  # the planted findings: exit 1
    code, out, _ = run(capsys, "security", "--workspace", ws, "--days", "7")
    assert code == 1 and out.splitlines()[0].startswith("demo data: ")
    code, out, _ = run(capsys, "expire", "--workspace", ws, "--format", "json")
    assert code == 0 and json.loads(out)["demo_data"] is True
    code, out, _ = run(capsys, "expire", "--workspace", ws)
    assert code == 0 and out.splitlines()[0].startswith("demo data: ")


def test_the_server_steps_of_docs_deploy_give_check_everything_but_the_first_login(tmp_path):
    """docs/deploy.md's example settings file and secrets.toml, as written (placeholders filled in): `snowtower
    check` finds nothing missing but the first login, which step 5 creates."""
    import re
    import tomllib

    doc = (settings_module.REPO_ROOT / "docs" / "deploy.md").read_text()
    server = doc.split("## On a server behind a reverse proxy")[1].split("\n## ")[0]
    settings_toml, secrets_toml = [re.sub(r"^   ", "", b, flags=re.M) for b in re.findall(r"```toml\n(.*?)```", server, re.S)]
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "settings.toml").write_text(settings_toml)
    key = tmp_path / "svc_portal.p8"
    key.write_text("a key")
    secrets_data = tomllib.loads(re.sub(r'"<[^>]*>"', lambda _: f'"{secrets.token_hex(32)}"', secrets_toml)
                                 .replace("/srv/snowtower/keys/svc_portal.p8", str(key)))
    settings, problems = check_setup(ws, environ={}, secrets=secrets_data)
    assert [p.key for p in problems] == ["auth.yaml"] and settings.mode == "production"
    assert settings.audit_log == "snowflake" and secrets_data["connections"]["snowflake"]["account"]


def test_the_status_page_lists_the_same_problems_as_check(tmp_path):
    from types import SimpleNamespace

    from app.status import _settings

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "settings.toml").write_text('[snowtower]\nmode = "production"\n')
    settings, problems = check_setup(ws)
    lines = _settings(SimpleNamespace(settings=settings))
    assert [c.detail for c in lines] == [str(p) for p in problems] and not any(c.ok for c in lines)
    assert [p.key for p in problems] == ["cookie_key", "connections.snowflake", "auth.yaml"]
