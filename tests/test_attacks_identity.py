"""Trying to break identity, sign-in, settings, Streamlit in Snowflake and the Status page (issues 12 and
14) after they were built: each test is an attack or a newcomer's misstep that worked before its fix.
docs/security.md lists them ("Found by trying to break identity and settings")."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app import identity
from app.identity import Oidc, Vouched, is_reserved
from app.operations import SubmitRequest
from app.operations.shared.audited import NoLongerAllowed
from app.settings import inspect_settings
from core.changes.model import Actor
from recipes import RECIPES

RECIPE = RECIPES["new-user"]
STRONG = "k3J9vQ2mX7pL0sT5wY8zA1bC4dE6fG-h"  # 32 characters, many different ones


# -- a job's name as the command line's requester (SNOWTOWER_USER: the access-request workflow sets it to
#    the issue author's GitHub login, and "snowtower-cli" or "snowtower-expiry" are logins anyone can register)

@pytest.mark.parametrize("name", ["snowtower-cli", "snowtower-expiry", "Snowtower-Expiry", "snowtower-expiry-policy",
                                  "ｓｎｏｗｔｏｗｅｒ-cli", "snowtower-cli\u200b"])
def test_a_job_s_name_vouched_by_the_command_line_submits_nothing_and_is_audited(services, new_user_raw, name):
    services.identity = Vouched(services.identity, name)
    with pytest.raises(NoLongerAllowed):
        SubmitRequest(services, Actor(name, name, roles=("requester",)), RECIPE, new_user_raw("jane_doe"),
                      services.changes.base_head()).execute()
    assert services.changes.list() == []
    last = services.audit.search()[0]
    assert (last.action, last.outcome, last.role) == ("submit", "refused", "")


def test_the_command_line_says_why_a_job_s_name_cannot_be_the_requester(capsys, tmp_path, public_pem, monkeypatch):
    from portal import cli

    monkeypatch.setenv("SNOWTOWER_USER", "snowtower-expiry")
    code = cli.main(["request", "new-user", "--submit", "--workspace", str(tmp_path / "ws"),
                     "--set", "name=cli_submitted", "--set", "first_name=A", "--set", "last_name=B",
                     "--set", "email=a@b.example", "--set", "business_roles=ANALYST",
                     "--set", f"rsa_public_key={public_pem}", "--set", "justification=Needed for the quarterly report."])
    err = capsys.readouterr().err
    assert code == 1
    assert "snowtower-expiry is the name of one of SnowTower's jobs" in err


@pytest.mark.parametrize("name", ["ｓｎｏｗｔｏｗｅｒ-ｃｌｉ", "snowtower-cli\u200b", "\u200dsnowtower-expiry", "SNOWTOWER-EXPIRY\u00ad"])
def test_unicode_look_alikes_of_a_job_s_name_are_reserved_everywhere(tmp_path, name):
    assert is_reserved(name)
    oidc = Oidc({"ops": "admin"}, claims=lambda: {"preferred_username": name, "groups": ["ops"]})
    assert oidc.actor_from(oidc.claims()) is None


# -- OIDC: an e-mail address the identity provider did not verify names nobody

def test_an_unverified_email_claim_never_names_the_person():
    oidc = Oidc({"ops": "admin"})
    claims = {"is_logged_in": True, "email": "ada@example.com", "email_verified": False, "sub": "id-7", "groups": ["ops"]}
    assert oidc.actor_from(claims).username == "id-7"
    assert oidc.actor_from({**claims, "email_verified": True}).username == "ada@example.com"


# -- keys that only look secret

PLACEHOLDER_COOKIE = "<64 random characters: python -c 'import secrets; print(secrets.token_urlsafe(48))'>"


@pytest.mark.parametrize("key", ["a" * 40, "changemechangemechangemechangeme", PLACEHOLDER_COOKIE])
def test_a_cookie_key_that_is_long_but_guessable_stops_the_portal(key, tmp_path):
    from app.settings import Settings
    from pydantic import SecretStr

    settings = Settings(workspace=tmp_path, mode="production", cookie_key=SecretStr(key))
    with pytest.raises(identity.SetupError):
        identity.cookie_key(settings)
    assert identity.cookie_key(settings.model_copy(update={"cookie_key": SecretStr(STRONG)})) == STRONG


SQL_PLACEHOLDER = "<64 random hex characters, e.g. the output of: openssl rand -hex 32>"


@pytest.mark.parametrize("key", ["x", "secret", "0" * 64, SQL_PLACEHOLDER])
def test_a_weak_or_placeholder_signing_key_is_a_settings_problem(tmp_path, key):
    (tmp_path / "settings.toml").write_text("[snowtower]\n")
    _, problems = inspect_settings(tmp_path, environ={"SNOWTOWER_SIGNING_KEY": key}, secrets=False)
    found = [p for p in problems if p.key == "signing_key"]
    assert len(found) == 1 and "environment variable SNOWTOWER_SIGNING_KEY" in str(found[0])
    assert len(key) < 8 or key not in str(found[0])  # the problem never repeats the secret
    _, problems = inspect_settings(tmp_path, environ={"SNOWTOWER_SIGNING_KEY": "0123456789abcdef" * 4}, secrets=False)
    assert problems == []


# -- Streamlit in Snowflake with local logins: a users file that cannot exist there

def test_streamlit_in_snowflake_with_local_logins_is_a_settings_problem(tmp_path):
    (tmp_path / "settings.toml").write_text('[snowtower]\nruntime = "sis"\nauth = "local"\nbackend = "github"\n'
                                            'github_repository = "org/infra"\n')
    _, problems = inspect_settings(tmp_path, environ={}, secrets=False)
    assert [p.key for p in problems] == ["auth"]
    assert "no users file" in problems[0].message


# -- snowtower users when an identity provider holds the logins

@pytest.mark.parametrize("auth", ["sis", "oidc"])
@pytest.mark.parametrize("action", [["list"], ["disable", "ada"], ["unlock", "ada"]])
def test_users_commands_under_an_identity_provider_say_so_without_a_traceback(tmp_path, capsys, auth, action):
    from portal import cli

    mode = "demo" if auth == "sis" else "production"  # (sis on a production server is a settings problem)
    (tmp_path / "settings.toml").write_text(f'[snowtower]\nauth = "{auth}"\nmode = "{mode}"\n')
    code = cli.main(["users", *action, "--workspace", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert f"managed by the identity provider here (auth = {auth})" in err and "Traceback" not in err


# -- the Status page: a check that hangs is not started again while it still runs

def test_a_hung_check_is_not_started_again_on_every_click(services):
    from app.status import checks

    release = threading.Event()
    real = services.changes.base_head
    services.changes.base_head = lambda: release.wait(30) and real()

    def hung() -> int:
        return sum(t.name.startswith("status-") and t.is_alive() for t in threading.enumerate())

    try:
        first = {c.name: c for c in checks(services, None, seconds=0.3)}
        count = hung()
        second = {c.name: c for c in checks(services, None, seconds=0.3)}
        third = {c.name: c for c in checks(services, None, seconds=0.3)}
        assert hung() == count  # no new thread for the checks still waiting
        assert first["Change requests"].detail == "no answer within 0.3 s"
        assert "still waiting for the previous check" in second["Change requests"].detail
        assert "still waiting for the previous check" in third["Configuration"].detail
        assert second["SnowDDL"].ok  # the others run as usual
    finally:
        release.set()
    for t in threading.enumerate():
        if t.name.startswith("status-"):
            t.join(30)
    found = {c.name: c for c in checks(services, None, seconds=30)}
    assert found["Change requests"].ok and found["Configuration"].ok  # answered again once it came back


# -- a newcomer following docs/deploy.md

DEPLOY = (__import__("pathlib").Path(__file__).resolve().parents[1] / "docs" / "deploy.md").read_text()
SNOWFLAKE_ROLES = {"SNOWTOWER_APP", "SNOWTOWER_ADMIN", "SNOWTOWER_APPROVER", "SNOWTOWER_REQUESTER"}


def test_every_setting_and_variable_docs_deploy_names_exists():
    import re

    from app.settings import NOT_SETTINGS, Settings

    named = set(re.findall(r"`([a-z]+(?:_[a-z]+)+)`", DEPLOY))
    assert named and named - set(Settings.model_fields) - {"proxy_pass"} == set()  # proxy_pass: nginx
    from app.snowflake_tables import TABLES  # SnowTower's own Snowflake tables (SNOWTOWER_LOCKS, ...): names, not variables

    variables = set(re.findall(r"\bSNOWTOWER_([A-Z_]+[A-Z])\b", DEPLOY)) - {r.removeprefix("SNOWTOWER_") for r in SNOWFLAKE_ROLES}
    variables -= {t.removeprefix("SNOWTOWER_") for t in TABLES}
    assert variables and {v for v in variables if v.lower() not in Settings.model_fields and v not in NOT_SETTINGS} == set()


def test_the_server_steps_of_docs_deploy_give_every_setting_the_portal_needs_to_start(tmp_path):
    """Step 2's settings.toml and step 3's secrets, as written: the portal must start (settings valid,
    a cookie key for the sign-in form), not stop at a setup page the steps never mention."""
    import re
    import secrets as random

    from app.settings import Settings

    server = DEPLOY.split("## On a server behind a reverse proxy")[1].split("\n## ")[0]
    block = re.search(r"```toml\n(.*?)```", server, re.S).group(1)
    (tmp_path / "settings.toml").write_text(re.sub(r'audit_log = "snowflake".*\n', "", block))
    step3 = server.split("3. ")[1].split("\n4. ")[0]
    env = {f"SNOWTOWER_{v}": random.token_hex(32) for v in re.findall(r"SNOWTOWER_([A-Z_]+[A-Z])", step3)
           if "APP_" not in v}  # the App is the alternative to the token
    settings, problems = inspect_settings(tmp_path, environ=env, secrets=False)
    assert problems == [] and settings.mode == "production" and settings.auth == "local"
    assert identity.cookie_key(Settings(workspace=tmp_path, mode="production", **{
        "cookie_key": env.get("SNOWTOWER_COOKIE_KEY")})) == env["SNOWTOWER_COOKIE_KEY"]


# -- Streamlit in Snowflake: the viewer is the Snowflake user, never the e-mail on their profile

def test_a_sis_viewer_without_a_user_name_is_nobody_even_when_their_email_names_a_user():
    from app.identity import Sis

    granted = {"BOSS@CORP.COM": ["SNOWTOWER_ADMIN"]}  # SCIM-provisioned users are often named by e-mail
    sis = Sis({"snowtower_admin": "admin"}, lambda user: granted.get(user.upper(), []),
              user=lambda: {"email": "boss@corp.com"})  # a profile's e-mail is not who signed in
    assert sis.viewer() is None
    sis.user = lambda: {"user_name": "BOSS@CORP.COM", "email": "someone@else.example"}
    assert sis.viewer().roles == ("requester", "approver", "admin")


def test_snowflake_sign_in_on_a_server_is_a_settings_problem(tmp_path):
    """Outside Streamlit in Snowflake nobody vouches for st.user's user_name: only st.login's identity
    provider fills it, with whatever claims it sends; the roles of that Snowflake user would follow."""
    (tmp_path / "settings.toml").write_text('[snowtower]\nauth = "sis"\nmode = "production"\n')
    _, problems = inspect_settings(tmp_path, environ={}, secrets=False)
    assert [p.key for p in problems] == ["auth"] and "only inside Streamlit in Snowflake" in problems[0].message


# -- two `snowtower users add` at once

def test_two_logins_added_at_the_same_moment_are_both_kept(tmp_path, product_cost):
    """Each add read the file, hashed the password (a quarter of a second) and wrote its copy back: the
    second writer dropped the first one's login, and both said "saved"."""
    path = tmp_path / "auth.yaml"
    identity.add_user(path, "first", "correct horse battery", ["admin"])
    names = [f"person{i}" for i in range(4)]
    barrier = threading.Barrier(len(names))
    errors = []

    def add(name):
        barrier.wait()
        try:
            identity.add_user(path, name, "correct horse battery", ["requester"])
            identity.update_user(path, name, roles=["approver"])
        except Exception as exc:  # noqa: BLE001 - the test reports any
            errors.append(repr(exc))

    threads = [threading.Thread(target=add, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    users = identity.read_users(path)["credentials"]["usernames"]
    assert errors == [] and sorted(users) == ["first", *names]
    assert all(users[n]["roles"] == ["approver"] for n in names)
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


# -- a sign-in under a name that is no login is audited, without the name (often a password typed there)

def test_a_sign_in_under_a_name_that_is_no_login_is_audited_without_the_name(tmp_path, monkeypatch):
    import secrets as random
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from app.audit_stores import audit_log_for
    from app.settings import load_settings
    from portal import ui

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "settings.toml").write_text('[snowtower]\nmode = "production"\n')
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(ws))
    monkeypatch.setenv("SNOWTOWER_COOKIE_KEY", random.token_urlsafe(48))
    ui._services.clear()
    ui._identity.clear()
    ui._audit_log.clear()
    identity.add_user(ws / "auth.yaml", "dana", "correct horse battery", ["admin"])
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "portal" / "app.py"), default_timeout=60).run()
    for typed in ("Tr0ub4dor&3 horse!", "mallory"):
        fields = {t.label: t for t in at.text_input}
        fields["Username"].input(typed)
        fields["Password"].input("whatever it is")
        next(b for b in at.button if b.label == "Sign in").click()
        at.run()
    records = [(r.actor, r.action) for r in audit_log_for(load_settings(ws)).search()]
    assert not any("Tr0ub4dor" in actor for actor, _ in records), records
    assert records.count(("(not a login)", "sign_in_failed")) == 2  # before: no record at all
    at.run()  # a rerun without a new attempt records nothing more
    assert len(audit_log_for(load_settings(ws)).search()) == 2
    ui._services.clear()
    ui._identity.clear()
    ui._audit_log.clear()


# -- issue 25: identities that cannot collide ----------------------------------------------------------

ISSUE_25_GROUPS = '[snowtower]\nauth = "oidc"\nauth_group_roles = {"SnowTower Admins" = "admin", "approvers" = "approver"}\n'
ADMIN = frozenset({"requester", "approver", "admin"})
APPROVER = frozenset({"requester", "approver"})


def _oidc_of(tmp_path) -> Oidc:
    """The OIDC provider the settings of issue 25's proof make (as the portal builds it)."""
    from app.identity import identity_for
    from app.settings import load_settings

    (tmp_path / "settings.toml").write_text(ISSUE_25_GROUPS)
    return identity_for(load_settings(tmp_path)).people


@pytest.mark.parametrize("claim", ["Finance approvers", "not approvers", "approvers,finance", "approvers finance",
                                   "SnowTower Admins approvers", ["Finance approvers"], ["not approvers", "SnowTower"],
                                   '["Finance approvers", "Admins"]', "SnowTower", 7, {"approvers": True}])
def test_a_group_gives_its_role_only_when_a_whole_group_name_matches(tmp_path, claim):
    """A group claim sent as one string was split on spaces and commas: "Finance approvers" was the
    approver role's group (before: approver; "SnowTower Admins approvers" was admin and approver)."""
    oidc = _oidc_of(tmp_path)
    claims = {"is_logged_in": True, "sub": "00u1fox", "iss": "https://idp.example", "preferred_username": "fox",
              "groups": claim}
    assert oidc.roles_from(claims) == frozenset()
    assert oidc.actor_from(claims) is None


@pytest.mark.parametrize("claim, roles", [("SnowTower Admins", ADMIN), (["SnowTower Admins"], ADMIN),
                                          ('["staff", "SnowTower Admins"]', ADMIN), (' ["approvers"] ', APPROVER),
                                          ("approvers", APPROVER), (["Finance approvers", "approvers"], APPROVER),
                                          (["snowtower admins"], ADMIN)])
def test_a_group_sent_as_one_string_or_a_json_list_is_matched_whole(tmp_path, claim, roles):
    """The real "SnowTower Admins" sent as a string was two words, neither a group (before: no role)."""
    oidc = _oidc_of(tmp_path)
    actor = oidc.actor_from({"is_logged_in": True, "sub": "00u1fox", "preferred_username": "fox", "groups": claim})
    assert actor is not None and frozenset(actor.roles) == roles


def test_entra_id_s_group_overage_is_told_apart_from_no_group():
    from app.identity import claim_groups, overage

    claims = {"sub": "x", "_claim_names": {"groups": "src1"},
              "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}}}
    assert overage(claims) and overage({"sub": "x", "hasgroups": True})
    assert not overage({"sub": "x", "groups": []}) and not overage(claims, "roles")
    assert claim_groups("x" * 70_000) == [] and len(claim_groups([f"g{i}" for i in range(5000)])) == 1000


@pytest.mark.parametrize("name", ["github:approver", "GitHub:Approver", "ｇｉｔｈｕｂ:approver", "github:\u200bapprover"])
def test_no_provider_signs_anyone_in_under_a_github_name(tmp_path, name):
    """`github:<login>` is a GitHub account vouched for by a workflow: no sign-in may claim it, or a person
    whose identity provider lets them pick a username would act as that account's requests."""
    import yaml

    from app.identity import LocalLogins, Sis, is_namespaced

    assert is_namespaced(name)
    oidc = Oidc({"ops": "admin"})
    assert oidc.actor_from({"is_logged_in": True, "preferred_username": name, "groups": ["ops"]}) is None
    assert Sis({"SNOWTOWER_ADMIN": "admin"}, lambda user: ["SNOWTOWER_ADMIN"]).roles_of(name) == frozenset()
    identity.add_user(tmp_path / "auth.yaml", "dana", "correct horse battery", ["admin"])
    raw = yaml.safe_load((tmp_path / "auth.yaml").read_text())
    raw["credentials"]["usernames"][name] = dict(raw["credentials"]["usernames"]["dana"])  # a hand-edited entry
    (tmp_path / "auth.yaml").write_text(yaml.safe_dump(raw))
    logins = LocalLogins(tmp_path / "auth.yaml", "production")
    assert logins.roles_of(name) == frozenset() and logins.roles_of("dana") == {"admin"}


def test_a_github_login_is_its_own_name_unless_the_settings_map_it():
    from app.identity import github_name

    assert github_name("Approver") == "github:approver"  # never the portal login "approver"
    assert github_name("dependabot[bot]") == "github:dependabot[bot]"
    assert github_name("Avery-GH", {"avery-gh": "Approver"}) == "approver"
    for bad in ("", "approver:x", "a b", "github:approver", "-x", "x" * 40):
        with pytest.raises(ValueError):
            github_name(bad)


@pytest.mark.parametrize("table, problem", [
    ('[snowtower.github_users]\n"avery-gh" = "snowtower-cli"\n', "github_users: must map to portal usernames"),
    ('[snowtower.github_users]\n"avery-gh" = "github:avery-gh"\n', "github_users: must map to portal usernames"),
    ('[snowtower.github_users]\n"not a login" = "avery"\n', "github_users: must map GitHub logins"),
    ('[snowtower.github_users]\n"Avery-GH" = "avery"\n[snowtower.github_approvers]\n"avery-gh" = "approver"\n',
     "github_users: maps avery-gh to another portal user than github_approvers does"),
])
def test_a_github_mapping_that_would_make_two_people_of_one_is_a_settings_problem(tmp_path, table, problem):
    (tmp_path / "settings.toml").write_text("[snowtower]\n" + table)
    _, problems = inspect_settings(tmp_path)
    assert any(str(p).startswith(problem) or problem in str(p) for p in problems), [str(p) for p in problems]


def _signing_key_of(workspace: str, start, out: str) -> None:
    import os
    import time

    from app.settings import Settings, signing_key

    link = os.link

    def slow_link(*args, **kwargs):  # a slow disk: every racer is inside the creation at once
        time.sleep(0.3)
        return link(*args, **kwargs)

    os.link = slow_link
    start.wait()  # every process asks at the same moment
    try:
        result = signing_key(Settings(workspace=workspace)).decode()
    except BaseException as exc:  # reported, so the test names it
        result = f"error: {type(exc).__name__}: {exc}"
    Path(out).write_text(result)


def test_the_signing_key_is_created_once_whatever_runs_at_the_same_moment(tmp_path):
    """Several portal processes, the CLI and a job start at once on a new workspace: every one must sign
    with the same key (before: one shared temporary file, unlinked by the first racer while the others
    still meant to link it: FileNotFoundError, or an empty key read, and records signed with a key
    nobody keeps)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for attempt in range(2):
        workspace, results = tmp_path / f"ws{attempt}", tmp_path / f"results{attempt}"
        results.mkdir()
        start = context.Barrier(6)
        workers = [context.Process(target=_signing_key_of, args=(str(workspace), start, str(results / str(i))))
                   for i in range(6)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        got = [(results / str(i)).read_text() for i in range(6)]
        assert len(set(got)) == 1 and len(got[0]) == 64, got
        assert (workspace / "signing.key").read_text() == got[0]
        assert sorted(p.name for p in workspace.iterdir()) == ["signing.key"]  # no temporary file left
        assert (workspace / "signing.key").stat().st_mode & 0o077 == 0  # readable by its owner only
