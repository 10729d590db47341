"""The identity port (app.identity): each provider, the jobs' identities, the server-side role check
every operation passes through (a disabled or demoted login is refused whatever its page shows), the
`snowtower users` commands, the cookie key outside the demo, and Streamlit in Snowflake's sign-in
without streamlit-authenticator."""
from __future__ import annotations

import datetime as dt

import importlib
import inspect
import io
import pkgutil
import secrets
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import app.operations
from app import identity
from app.identity import LocalLogins, Oidc, Sis, WithSystem, system_actor
from app.operations import ApproveRequest, MergeRequest, RejectRequest, RequestChanges, ResubmitRequest, SubmitRequest
from app.operations.accept_finding import AcceptFinding
from app.operations.shared.audited import NoLongerAllowed
from app.operations.logins import SaveLogin, UpdateLogin
from app.operations.unlock_login import UnlockLogin
from app.operations.withdraw import WithdrawRequest
from core.changes.base import ChangeError
from core.changes.model import Actor, Status
from recipes import RECIPES
from tests.identity_support import give_login

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"
RECIPE = RECIPES["new-user"]


# -- providers ------------------------------------------------------------------------------------------

def test_local_logins_read_the_file_again_when_it_changes(tmp_path):
    path = tmp_path / "auth.yaml"
    identity.add_user(path, "Dana", PASSWORD, ["approver"], name="Dana Scully", email="dana@example.com")
    logins = LocalLogins(path, "production")
    assert logins.roles_of("DANA") == {"approver"}
    assert logins.actor("dana") == Actor("dana", "Dana Scully", "dana@example.com", ("approver",))
    identity.update_user(path, "dana", roles=["requester"])
    assert logins.roles_of("dana") == {"requester"}  # demoted: the next question sees it
    identity.update_user(path, "dana", disabled=True)
    assert logins.roles_of("dana") == frozenset() and logins.actor("dana") is None
    identity.update_user(path, "dana", disabled=False)
    assert logins.roles_of("dana") == {"requester"}  # enabled again with the roles it had
    assert logins.roles_of("nobody") == frozenset() and logins.actor("nobody") is None
    path.write_text("{not yaml")
    assert logins.roles_of("dana") == frozenset()  # an unusable file gives nobody a role


def test_demo_logins_count_only_in_the_demo(tmp_path):
    path = tmp_path / "auth.yaml"
    identity.ensure_demo_logins(path)
    assert LocalLogins(path, "demo").roles_of("admin") == {"requester", "approver", "admin"}
    assert LocalLogins(path, "production").roles_of("admin") == frozenset()


def test_nobody_signs_in_under_a_jobs_name(tmp_path):
    path = tmp_path / "auth.yaml"
    with pytest.raises(ValueError, match="SnowTower's jobs"):
        identity.add_user(path, "snowtower-expiry", PASSWORD, ["admin"])
    give_login(path, Actor("snowtower-cli", roles=("requester",)))  # written by hand into the file
    assert LocalLogins(path, "demo").actor("snowtower-cli") is None
    oidc = Oidc({"ops": "admin"}, claims=lambda: {"preferred_username": "snowtower-expiry", "groups": ["ops"]})
    assert oidc.actor_from(oidc.claims()) is None
    sis = Sis({"snowtower_admin": "admin"}, lambda user: ["SNOWTOWER_ADMIN"])
    assert sis.roles_of("SNOWTOWER-CLI") == frozenset()


def test_jobs_roles_come_from_code_not_from_any_provider(tmp_path):
    chained = WithSystem(LocalLogins(tmp_path / "missing.yaml"))
    assert chained.roles_of("snowtower-expiry") == {"requester"}
    assert chained.actor("snowtower-cli") == system_actor("snowtower-cli")
    assert chained.actor("snowtower-cli").roles == ("requester", "approver", "admin")
    assert chained.roles_of("someone") == frozenset()


def test_oidc_roles_come_from_the_group_claim_through_the_mapping():
    claims = {"is_logged_in": True, "preferred_username": "Fox.Mulder", "email": "fox@example.com", "name": "Fox",
              "groups": ["Staff", "SnowTower-Approvers"]}
    oidc = Oidc({"snowtower-approvers": "approver", "snowtower-admins": "admin"}, claims=lambda: claims)
    actor = oidc.actor_from(claims)
    assert actor == Actor("fox.mulder", "Fox", "fox@example.com", ("requester", "approver"))
    assert oidc.roles_of("fox.mulder") == {"requester", "approver"}
    assert oidc.roles_of("someone.else") == frozenset()  # only the session's own person has claims here
    assert oidc.actor_from({**claims, "groups": ["Staff"]}) is None  # no mapped group: no role, no sign-in
    assert oidc.actor_from({**claims, "groups": "snowtower-admins"}).roles == ("requester", "approver", "admin")
    assert oidc.actor_from({**claims, "is_logged_in": False}) is None
    assert Oidc({"x": "admin"}, group_claim="roles").actor_from({"sub": "abc", "roles": ["X"]}).username == "abc"


def test_the_sis_provider_maps_the_viewers_snowflake_roles():
    granted = {"scully": ["PUBLIC", "snowtower_approver"], "skinner": ["SNOWTOWER_ADMIN", "SYSADMIN"]}
    asked = []

    def roles(user_name):
        asked.append(user_name)
        return granted.get(user_name.lower(), [])

    user = {"user_name": "SCULLY", "email": "scully@example.com"}
    sis = Sis({"SNOWTOWER_ADMIN": "admin", "snowtower_approver": "approver"}, roles, user=lambda: user)
    assert sis.viewer() == Actor("scully", "scully", "scully@example.com", ("requester", "approver"))
    assert sis.roles_of("skinner") == {"requester", "approver", "admin"}
    granted["scully"] = ["PUBLIC"]  # the grant was revoked: the next question sees it
    assert sis.viewer() is None and sis.roles_of("scully") == frozenset()
    assert asked.count("scully") >= 2  # asked every time, never remembered


def test_the_sis_role_query_runs_on_the_standin(services):
    from app.identity import snowflake_roles_from
    from core.snowflake.queries import ask

    source = services.snowflake_source()
    grantee = ask(source, "viewer_roles", user_name="NOBODY_AT_ALL")
    assert grantee.empty
    any_user = source.run("SELECT GRANTEE_NAME FROM SNOWFLAKE.ACCOUNT_USAGE.GRANTS_TO_USERS WHERE DELETED_ON IS NULL "
                          "LIMIT 1", [])["GRANTEE_NAME"].iloc[0]
    roles = snowflake_roles_from(lambda: source)(any_user.lower())
    assert roles and all(isinstance(r, str) for r in roles)


def test_identity_settings_are_checked(tmp_path):
    from app.settings import load_settings

    (tmp_path / "settings.toml").write_text('[snowtower]\nauth = "ldap"\n')
    with pytest.raises(ValueError, match="auth: wrong type"):
        load_settings(tmp_path)
    (tmp_path / "settings.toml").write_text('[snowtower]\nauth = "oidc"\nauth_group_roles = {ops = "root"}\n')
    with pytest.raises(ValueError, match="auth_group_roles: maps to portal roles"):
        load_settings(tmp_path)
    (tmp_path / "settings.toml").write_text('[snowtower]\nauth = "oidc"\nauth_group_roles = {Ops = "admin"}\n')
    settings = load_settings(tmp_path)
    assert isinstance(identity.identity_for(settings).people, Oidc)


# -- the server-side check, for every operation ------------------------------------------------------------

def _operation_classes() -> set[str]:
    """Every class in app/operations with an execute() that writes (goes through run_audited)."""
    found = set()
    for info in pkgutil.iter_modules(app.operations.__path__):
        module = importlib.import_module(f"app.operations.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and any(
                    "run_audited" in inspect.getsource(c) for c in cls.__mro__ if c.__module__.startswith("app.operations")):
                found.add(name)
    return found


def _request(services, people, new_user_raw, state: str):
    cr = SubmitRequest(services, people["requester"], RECIPE, new_user_raw("jane_doe"), services.changes.base_head()).execute()
    if state == "approved":
        ApproveRequest(services, people["approver"], cr.id).execute()
    if state == "changes_requested":
        RequestChanges(services, people["approver"], cr.id, "say why").execute()
    return cr


# operation -> (request state it needs, how the actor runs it)
OPERATIONS = {
    "SubmitRequest": (None, lambda s, a, cr, raw: SubmitRequest(s, a, RECIPE, raw("john_roe"), s.changes.base_head()).execute()),
    "ApproveRequest": ("open", lambda s, a, cr, raw: ApproveRequest(s, a, cr.id).execute()),
    "RequestChanges": ("open", lambda s, a, cr, raw: RequestChanges(s, a, cr.id, "rename it").execute()),
    "RejectRequest": ("open", lambda s, a, cr, raw: RejectRequest(s, a, cr.id, "not needed").execute()),
    "MergeRequest": ("approved", lambda s, a, cr, raw: MergeRequest(s, a, cr.id).execute()),
    "ResubmitRequest": ("changes_requested",
                        lambda s, a, cr, raw: ResubmitRequest(s, a, cr.id, raw("jane_doe", business_roles=["FINANCE_ANALYST"])).execute()),
    "UnlockLogin": (None, lambda s, a, cr, raw: UnlockLogin(s, a, "approver").execute()),
    "SaveLogin": (None, lambda s, a, cr, raw: SaveLogin(s, a, "newbie", PASSWORD, ["requester"]).execute()),
    "UpdateLogin": (None, lambda s, a, cr, raw: UpdateLogin(s, a, "approver", disabled=True).execute()),
    "WithdrawRequest": ("open", lambda s, a, cr, raw: WithdrawRequest(s, a, cr.id, "not needed").execute()),
    "AcceptFinding": (None, lambda s, a, cr, raw: AcceptFinding(s, a, "ADMIN_WITHOUT_MFA:ADMIN", "a break-glass login",
                                                                dt.date.today() + dt.timedelta(days=30)).execute()),
    "RevertFailedDeployment": None,  # acts only as the system actor snowtower-deploy (tests/test_revert.py)
    "ReviewDecision": None,  # the shared base of approve, request changes and reject (covered through them)
}


def test_the_table_covers_every_operation():
    assert _operation_classes() == set(OPERATIONS), "a new operation needs its row in OPERATIONS"


@pytest.mark.parametrize("name", [n for n, row in OPERATIONS.items() if row])
def test_a_login_disabled_since_sign_in_is_refused_by_every_operation(services, people, new_user_raw, name):
    state, run = OPERATIONS[name]
    cr = _request(services, people, new_user_raw, state) if state else None
    before = services.changes.get(cr.id) if cr else None
    # Dana signed in as an admin (the page holds that Actor); then an operator disabled her.
    dana = Actor("dana", "Dana", "", ("requester", "approver", "admin"))
    give_login(services.workspace.auth_path, dana)
    identity.update_user(services.workspace.auth_path, "dana", disabled=True)
    users_before = services.workspace.auth_path.read_bytes()
    with pytest.raises(NoLongerAllowed, match="no longer allowed"):
        run(services, dana, cr, new_user_raw)
    last = services.audit.search()[0]
    assert (last.actor, last.role, last.outcome) == ("dana", "", "refused")  # audited, with the roles held now
    assert "no longer allowed" in last.reason
    if cr:
        after = services.changes.get(cr.id)
        assert (after.status, after.head_sha) == (before.status, before.head_sha)  # nothing changed
    assert len(services.changes.list()) == (1 if cr else 0)
    assert services.workspace.auth_path.read_bytes() == users_before


@pytest.mark.parametrize("name", ["ApproveRequest", "RejectRequest", "MergeRequest", "UnlockLogin", "UpdateLogin"])
def test_a_demoted_login_acts_with_the_roles_it_has_now_not_those_its_page_holds(services, people, new_user_raw, name):
    state, run = OPERATIONS[name]
    cr = _request(services, people, new_user_raw, state) if state else None
    dana = Actor("dana", "Dana", "", ("requester", "approver", "admin"))  # what the page was drawn with
    give_login(services.workspace.auth_path, Actor("dana", roles=("requester",)))  # what the file says now
    with pytest.raises(ChangeError, match="only (approvers|admins)"):
        run(services, dana, cr, new_user_raw)
    last = services.audit.search()[0]
    assert (last.actor, last.role, last.outcome) == ("dana", "requester", "refused")
    if cr:
        assert services.changes.get(cr.id).status == Status(state)


def test_a_merge_by_a_demoted_admin_is_refused_in_the_portal(services, people, new_user_raw, monkeypatch):
    """The same through the review page: the button drawn for an admin, the admin demoted before the click."""
    from portal import ui
    from tests.portal_support import as_viewer

    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(services.settings.workspace))
    ui._services.clear()
    ui._identity.clear()
    cr = _request(services, people, new_user_raw, "approved")
    at = AppTest.from_file(str(ROOT / "pages" / "review.py"), default_timeout=60)
    dana = Actor("dana", "Dana", "", ("requester", "approver", "admin"))
    as_viewer(at, dana, services.settings.workspace)
    at.run()
    merge = [b for b in at.button if b.label.startswith("Merge")]
    assert merge, [b.label for b in at.button]
    identity.update_user(services.workspace.auth_path, "dana", roles=["requester"])
    merge[0].click()
    at.run()
    assert ui.services().changes.get(cr.id).status == Status.APPROVED
    assert not at.exception
    assert "only admins may merge" in "\n".join(e.value for e in at.error)
    ui._services.clear()
    ui._identity.clear()


# -- snowtower users ---------------------------------------------------------------------------------------

def test_users_add_set_role_disable_enable_unlock(tmp_path, monkeypatch, capsys):
    from portal import cli

    ws = tmp_path / "ws"
    (ws).mkdir()
    (ws / "settings.toml").write_text('[snowtower]\nmode = "production"\n')
    path = ws / "auth.yaml"

    def run(*argv, stdin: str = "") -> tuple[int, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = cli.main(["users", *argv, "--workspace", str(ws)])
        out = capsys.readouterr()
        return code, out.out + out.err

    assert run("add", "dana", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")[0] == 0
    logins = LocalLogins(path, "production")
    assert logins.roles_of("dana") == {"admin"}
    assert run("set-role", "DANA", "--role", "requester", "--role", "approver")[0] == 0
    assert logins.roles_of("dana") == {"requester", "approver"}
    code, out = run("disable", "dana")
    assert code == 0 and "disabled" in out
    assert logins.roles_of("dana") == frozenset()
    assert run("list")[1].split() == ["dana", "DISABLED", "(requester,approver)"]
    assert run("enable", "dana")[0] == 0
    assert logins.roles_of("dana") == {"requester", "approver"}
    lockout = identity.lockout_for(__import__("app.settings", fromlist=["load_settings"]).load_settings(ws))
    lockout.record_failure("dana")
    code, out = run("unlock", "dana")
    assert code == 0 and "unlocked" in out and lockout.status() == {}
    # bad input: a clear message, exit 2, nothing written
    before = path.read_bytes()
    code, out = run("set-role", "nobody", "--role", "admin")
    assert code == 2 and "nobody is not a login" in out
    code, out = run("add", "snowtower-expiry", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 2 and "SnowTower's jobs" in out
    assert path.read_bytes() == before
    from app.audit_stores import audit_log_for
    from app.settings import load_settings

    actions = [(r.actor, r.action, r.outcome) for r in reversed(audit_log_for(load_settings(ws)).search())]
    assert actions == [("snowtower-cli", "user_saved", "ok"), ("snowtower-cli", "user_roles_set", "ok"),
                       ("snowtower-cli", "user_disabled", "ok"), ("snowtower-cli", "user_enabled", "ok"),
                       ("snowtower-cli", "unlock_login", "ok"), ("snowtower-cli", "user_roles_set", "refused"),
                       ("snowtower-cli", "user_saved", "refused")]


def test_logins_are_not_managed_here_when_an_identity_provider_is(tmp_path, capsys):
    from portal import cli

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "settings.toml").write_text('[snowtower]\nmode = "production"\nauth = "oidc"\n')
    assert cli.main(["users", "disable", "dana", "--workspace", str(ws)]) == 2
    assert "managed by the identity provider" in capsys.readouterr().err


# -- the portal: cookie key, disabled sign-in, Streamlit in Snowflake ----------------------------------------

@pytest.fixture
def workspace(tmp_path, monkeypatch):
    from portal import ui

    path = tmp_path / "workspace"
    path.mkdir()
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(path))
    monkeypatch.delenv("SNOWTOWER_COOKIE_KEY", raising=False)
    ui._services.clear()
    ui._identity.clear()
    yield path
    ui._services.clear()
    ui._identity.clear()


def portal() -> AppTest:
    return AppTest.from_file(str(ROOT / "portal" / "app.py"), default_timeout=60).run()


@pytest.mark.parametrize("key, says", [(None, "needs a cookie key"), ("some_signature_key", "published example"),
                                       ("short-key-31-characters-long-xx", "31 characters")])
def test_outside_the_demo_a_missing_default_or_short_cookie_key_stops_at_a_setup_page(workspace, monkeypatch, key, says):
    (workspace / "settings.toml").write_text('[snowtower]\nmode = "production"\n')
    identity.add_user(workspace / "auth.yaml", "dana", PASSWORD, ["admin"])
    if key:
        monkeypatch.setenv("SNOWTOWER_COOKIE_KEY", key)
    at = portal()
    assert not at.exception
    # Missing or weak, it is a settings problem (snowtower check names it, with every other one)
    assert at.title[0].value == "SnowTower's settings need fixing"
    assert at.text[0].value.startswith("cookie_key: ") and says in at.text[0].value
    if key:
        assert "environment variable SNOWTOWER_COOKIE_KEY" in at.text[0].value and key not in at.text[0].value
    assert [b.label for b in at.button] == []  # no sign-in form


def test_a_long_random_cookie_key_lets_the_form_show(workspace, monkeypatch):
    (workspace / "settings.toml").write_text('[snowtower]\nmode = "production"\n')
    identity.add_user(workspace / "auth.yaml", "dana", PASSWORD, ["admin"])
    monkeypatch.setenv("SNOWTOWER_COOKIE_KEY", secrets.token_urlsafe(48))
    assert [b.label for b in portal().button] == ["Sign in"]


def test_a_disabled_login_cannot_sign_in_and_it_is_audited(workspace, monkeypatch):
    from app.audit_stores import audit_log_for
    from app.settings import load_settings

    (workspace / "settings.toml").write_text('[snowtower]\nmode = "production"\n')
    monkeypatch.setenv("SNOWTOWER_COOKIE_KEY", secrets.token_urlsafe(48))
    identity.add_user(workspace / "auth.yaml", "dana", PASSWORD, ["admin"])
    identity.update_user(workspace / "auth.yaml", "dana", disabled=True)
    at = portal()
    fields = {t.label: t for t in at.text_input}
    fields["Username"].input("dana")
    fields["Password"].input(PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert "no longer allowed" in "\n".join(e.value for e in at.error)
    from portal import ui

    assert ui.VIEWER_KEY not in at.session_state or at.session_state[ui.VIEWER_KEY] is None
    last = audit_log_for(load_settings(workspace)).search()[0]
    assert (last.actor, last.action, last.outcome) == ("dana", "sign_in_failed", "refused")


def _sis_portal(workspace, user: dict, granted: dict) -> AppTest:
    """The entry script with auth = sis: the viewer from a faked st.user, roles from a faked grant list."""
    from app.settings import load_settings
    from portal import ui

    (workspace / "settings.toml").write_text('[snowtower]\nauth = "sis"\n')
    services = ui._services(str(workspace))
    settings = load_settings(workspace)
    services.identity = WithSystem(Sis(dict(settings.sis_role_mapping), lambda name: granted.get(name, []), user=lambda: user))
    return portal()


def test_streamlit_in_snowflake_signs_in_from_st_user_without_streamlit_authenticator(workspace):
    from portal import ui

    for name in [m for m in sys.modules if m.split(".")[0] == "streamlit_authenticator"]:
        del sys.modules[name]
    user = {"user_name": "SKINNER", "email": "skinner@example.com", "name": "Walter Skinner"}
    at = _sis_portal(workspace, user, {"skinner": ["PUBLIC", "SNOWTOWER_ADMIN"]})
    assert not at.exception
    viewer = at.session_state[ui.VIEWER_KEY]
    assert (viewer.username, viewer.roles) == ("skinner", ("requester", "approver", "admin"))
    assert "Walter Skinner" in at.sidebar.markdown[0].value
    assert [b.label for b in at.button if b.label in ("Sign in", "Sign out")] == []  # Snowflake's session
    assert not any(m.split(".")[0] == "streamlit_authenticator" for m in sys.modules)
    from app.audit_stores import audit_log_for
    from app.settings import load_settings

    at.run()  # a second run records no second sign-in
    records = [(r.actor, r.action, r.outcome) for r in audit_log_for(load_settings(workspace)).search()]
    assert records.count(("skinner", "sign_in", "ok")) == 1


def test_streamlit_in_snowflake_without_a_mapped_role_says_so(workspace):
    at = _sis_portal(workspace, {"user_name": "KRYCEK"}, {"krycek": ["PUBLIC"]})
    assert not at.exception
    assert "none of the roles SnowTower maps" in "\n".join(e.value for e in at.error)
    from portal import ui

    assert ui.VIEWER_KEY not in at.session_state


def _oidc_portal(workspace, claims: dict) -> AppTest:
    """The entry script with auth = oidc: st.login configured in [auth], the identity token's claims faked
    (there is no identity provider here)."""
    from portal import ui

    (workspace / "settings.toml").write_text(
        '[snowtower]\nauth = "oidc"\nauth_group_roles = {"snowtower-admins" = "admin", "snowtower-approvers" = "approver"}\n')
    ui._identity(str(workspace)).people.claims = lambda: claims
    at = AppTest.from_file(str(ROOT / "portal" / "app.py"), default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": secrets.token_hex(32),
                          "client_id": "snowtower", "client_secret": "x",
                          "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
    return at.run()


def test_oidc_sign_in_maps_groups_to_roles_and_is_audited(workspace):
    from app.audit_stores import audit_log_for
    from app.settings import load_settings
    from portal import ui

    for name in [m for m in sys.modules if m.split(".")[0] == "streamlit_authenticator"]:
        del sys.modules[name]
    at = _oidc_portal(workspace, {})
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in with your company account"]
    claims = {"is_logged_in": True, "preferred_username": "dana", "email": "dana@example.com", "name": "Dana Scully",
              "groups": ["staff", "SnowTower-Approvers"]}
    at = _oidc_portal(workspace, claims)
    assert not at.exception
    viewer = at.session_state[ui.VIEWER_KEY]
    assert (viewer.username, viewer.roles) == ("dana", ("requester", "approver"))
    assert "Sign out" in [b.label for b in at.button]
    assert not any(m.split(".")[0] == "streamlit_authenticator" for m in sys.modules)
    records = [(r.actor, r.action, r.role, r.outcome) for r in audit_log_for(load_settings(workspace)).search()]
    assert records == [("dana", "sign_in", "requester,approver", "ok")]


@pytest.mark.parametrize("groups, reason", [
    ({"groups": ["staff"]}, "none of the groups"),
    # Entra ID's group overage: the groups claim left out, a pointer to Microsoft Graph instead
    ({"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/"}}},
     "too many groups"),
])
def test_oidc_without_a_mapped_group_is_refused_and_audited_under_the_subject(workspace, groups, reason):
    """A refused sign-in is recorded under what the provider vouches for (issuer and subject), never the
    e-mail claim, which the provider marks unverified here (before: recorded as ada@example.com)."""
    from app.audit_stores import audit_log_for
    from app.settings import load_settings
    from portal import ui

    at = _oidc_portal(workspace, {"is_logged_in": True, "email": "ada@example.com", "email_verified": False,
                                  "iss": "https://idp.example", "sub": "00u7krycek", **groups})
    assert not at.exception
    assert ui.VIEWER_KEY not in at.session_state
    [last] = audit_log_for(load_settings(workspace)).search()
    assert (last.actor, last.action, last.outcome) == ("oidc:https://idp.example#00u7krycek", "sign_in_failed", "refused")
    assert reason in last.reason and "ada@" not in last.reason


def test_oidc_without_auth_secrets_stops_at_a_setup_page(workspace):
    (workspace / "settings.toml").write_text('[snowtower]\nauth = "oidc"\n')
    at = portal()
    assert not at.exception
    assert at.title[0].value == "SnowTower's settings need fixing" and "needs Streamlit's [auth] table" in at.text[0].value


def test_oidc_sign_out_is_audited(workspace):
    from app.audit_stores import audit_log_for
    from app.settings import load_settings

    claims = {"is_logged_in": True, "preferred_username": "dana", "groups": ["snowtower-admins"]}
    at = _oidc_portal(workspace, claims)
    next(b for b in at.button if b.label == "Sign out").click()
    at.run()
    assert not at.exception
    records = [(r.actor, r.action, r.outcome) for r in reversed(audit_log_for(load_settings(workspace)).search())]
    assert records == [("dana", "sign_in", "ok"), ("dana", "sign_out", "ok")]


def test_snowddl_business_roles_map_like_the_roles_they_are_named_after():
    from app.identity import snowddl_role_mapping

    mapping = snowddl_role_mapping({"SNOWTOWER_ADMIN": "admin", "snowtower_approver": "approver",
                                    "OPS__B_ROLE": "requester"}, env_prefix="DEV__")
    assert mapping == {"SNOWTOWER_ADMIN": "admin", "DEV__SNOWTOWER_ADMIN__B_ROLE": "admin",
                       "SNOWTOWER_APPROVER": "approver", "DEV__SNOWTOWER_APPROVER__B_ROLE": "approver",
                       "OPS__B_ROLE": "requester"}
    sis = Sis(mapping, lambda user: ["DEV__SNOWTOWER_APPROVER__B_ROLE", "SNOWTOWER_ADMIN__B_ROLE"])
    assert sis.roles_of("fox") == {"requester", "approver"}  # without the env prefix it is another account's role
