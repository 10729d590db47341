"""Sign-in: a lock-out that lapses and an admin can lift, roles read on every run, demo logins only in
the demo, a setup page without a users file, the demo kept on localhost unless asked."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import secrets

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from core.lockout import Lockout
from app import identity as auth
from portal import cli, ui

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60
ADMIN_PASSWORD = "correct horse battery"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    path = tmp_path / "workspace"
    path.mkdir()
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(path))
    monkeypatch.setenv("SNOWTOWER_COOKIE_KEY", secrets.token_urlsafe(48))  # outside the demo it must be set
    ui._services.clear()
    ui._identity.clear()
    return path


def settings_toml(workspace: Path, **values) -> None:
    lines = ["[snowtower]"] + [f"{k} = {v!r}".replace("'", '"') for k, v in values.items()]
    (workspace / "settings.toml").write_text("\n".join(lines) + "\n")


def portal() -> AppTest:
    return AppTest.from_file(str(ROOT / "portal" / "app.py"), default_timeout=TIMEOUT).run()


def attempt(at: AppTest, username: str, password: str) -> AppTest:
    fields = {t.label: t for t in at.text_input}
    fields["Username"].input(username)
    fields["Password"].input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def signed_in_as(at: AppTest) -> str | None:
    actor = at.session_state[ui.VIEWER_KEY] if ui.VIEWER_KEY in at.session_state else None
    return actor.username if actor else None


def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


# -- the lock-out ledger ---------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


def test_a_lock_lapses_by_itself_and_needs_a_fresh_count(tmp_path):
    clock = Clock()
    lockout = Lockout(tmp_path / "db.sqlite", max_attempts=3, minutes=15, clock=clock)
    assert lockout.record_failure("Ada") is None and lockout.record_failure("ada") is None
    assert lockout.locked_until("ada") is None  # two wrong passwords: not locked yet
    until = lockout.record_failure("ADA")
    assert until == clock.now + timedelta(minutes=15)
    assert lockout.locked_until("ada") == until
    clock.now += timedelta(minutes=14, seconds=59)
    assert lockout.locked_until("ada") == until
    clock.now += timedelta(seconds=1)
    assert lockout.locked_until("ada") is None  # lapsed by itself
    assert lockout.record_failure("ada") is None  # a fresh count: one failure after the lapse does not re-lock
    assert lockout.status()["ada"] == (1, None)


def test_an_unlock_forgets_the_failures(tmp_path):
    lockout = Lockout(tmp_path / "db.sqlite", max_attempts=2, minutes=15)
    lockout.record_failure("bob")
    assert lockout.record_failure("bob") is not None
    assert lockout.clear("bob") is True
    assert lockout.locked_until("bob") is None and lockout.status() == {}
    assert lockout.clear("bob") is False


def test_parallel_wrong_passwords_all_count(tmp_path):
    """Why the count is read and written in one transaction: guesses sent at once must not slip through."""
    from concurrent.futures import ThreadPoolExecutor

    lockouts = [Lockout(tmp_path / "db.sqlite", max_attempts=8, minutes=15) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        ends = list(pool.map(lambda lockout: lockout.record_failure("ada"), lockouts))
    assert sum(end is not None for end in ends) == 1  # exactly the eighth locked it
    assert lockouts[0].status()["ada"][0] == 8 and lockouts[0].locked_until("ada")


def test_lockout_settings_below_one_are_refused(workspace):
    from app.settings import load_settings

    settings_toml(workspace, signin_max_attempts=0)
    with pytest.raises(ValueError, match="signin_max_attempts"):
        load_settings(workspace)


# -- in the portal -----------------------------------------------------------------------------------

def make_users(workspace: Path, **roles) -> Path:
    """A users file with `login=[roles]`, every password ADMIN_PASSWORD."""
    path = workspace / "auth.yaml"
    for login, r in roles.items():
        auth.add_user(path, login, ADMIN_PASSWORD, r, name=f"{login.title()} Person")
    return path


def test_wrong_passwords_lock_for_a_while_an_admin_unlocks_and_the_users_file_is_untouched(workspace, capsys):
    settings_toml(workspace, mode="production", signin_max_attempts=3, signin_lockout_minutes=15)
    path = make_users(workspace, ada=["requester", "approver", "admin"])
    before = path.read_bytes()
    at = portal()
    for _ in range(2):
        at = attempt(at, "ada", "wrong password")
        assert "Username or password is wrong." in errors(at)
    at = attempt(at, "ada", "wrong password")
    assert "locked for 15 minutes" in errors(at)
    at = attempt(at, "ada", ADMIN_PASSWORD)  # the right password no longer helps while locked
    assert signed_in_as(at) is None and "locked" in errors(at)
    assert path.read_bytes() == before  # no counter in the users file: the old cause of a permanent lock

    assert cli.main(["users", "list", "--workspace", str(workspace)]) == 0
    assert "LOCKED until" in capsys.readouterr().out
    assert cli.main(["users", "unlock", "ADA", "--workspace", str(workspace)]) == 0
    assert "ada: unlocked" in capsys.readouterr().out

    at = attempt(portal(), "ada", ADMIN_PASSWORD)
    assert signed_in_as(at) == "ada" and not at.exception


def test_a_lapsed_lock_lets_the_right_password_in_and_clears_the_count(workspace):
    settings_toml(workspace, mode="production", signin_max_attempts=2, signin_lockout_minutes=15)
    make_users(workspace, ada=["requester"])
    at = portal()
    at = attempt(attempt(at, "ada", "nope"), "ada", "nope")
    assert "locked" in errors(at)
    lockout = Lockout(workspace / "snowtower.db", 2, 15)
    # Fifteen minutes later, as the ledger sees it: the lock's end moved into the past.
    import sqlite3

    with sqlite3.connect(workspace / "snowtower.db") as db:
        db.execute("UPDATE signin_failures SET locked_until = ?", ((datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat(),))
    assert lockout.locked_until("ada") is None
    at = attempt(portal(), "ada", ADMIN_PASSWORD)
    assert signed_in_as(at) == "ada"
    assert lockout.status() == {}  # a right password clears the count


def test_roles_are_read_again_on_every_run(workspace):
    settings_toml(workspace, mode="production")
    path = make_users(workspace, ada=["requester", "approver", "admin"], bob=["requester"])
    at = attempt(portal(), "ada", ADMIN_PASSWORD)
    at.switch_page(str(ROOT / "pages" / "review.py")).run()
    assert [t.value for t in at.title] == ["Review queue"]

    config = yaml.safe_load(path.read_text())
    config["credentials"]["usernames"]["ada"]["roles"] = ["requester"]  # demoted while signed in
    path.write_text(yaml.safe_dump(config))
    at.run()  # the next click
    assert at.session_state[ui.VIEWER_KEY].roles == ("requester",)
    # The review queue is gone from the navigation; its address now says why instead of showing it.
    assert [t.value for t in at.title] == ["Review queue"] and "Review queue is for approvers" in errors(at)
    assert [b.label for b in at.button] == ["Sign out"] and not at.dataframe  # nothing of the queue is drawn
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(str(ROOT / "pages" / "review.py"))

    del config["credentials"]["usernames"]["ada"]  # removed while signed in
    path.write_text(yaml.safe_dump(config))
    at.run()
    assert signed_in_as(at) is None
    assert "no longer allowed" in errors(at)
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_demo_logins_are_refused_outside_demo_mode(workspace):
    settings_toml(workspace, mode="production")
    path = workspace / "auth.yaml"
    auth.ensure_demo_logins(path)
    at = attempt(portal(), "admin", "demo")
    assert signed_in_as(at) is None
    # A users file from before the demo marker: the public password itself is refused.
    config = yaml.safe_load(path.read_text())
    for entry in config["credentials"]["usernames"].values():
        entry.pop("demo")
    path.write_text(yaml.safe_dump(config))
    at = attempt(portal(), "admin", "demo")
    assert signed_in_as(at) is None
    assert "Demo logins are refused outside demo mode." in errors(at)
    assert not any("Demo logins:" in i.value for i in at.info)


def test_demo_logins_work_in_demo_mode(workspace):
    at = attempt(portal(), "approver", "demo")
    assert signed_in_as(at) == "approver"
    assert at.session_state[ui.VIEWER_KEY].roles == ("requester", "approver")


@pytest.mark.parametrize("content", [None, "cookie: [", "cookie: {name: x, key: short}\ncredentials: {usernames: {}}\n"])
def test_a_production_workspace_without_a_usable_users_file_shows_a_setup_page(workspace, content):
    settings_toml(workspace, mode="production")
    if content is not None:
        (workspace / "auth.yaml").write_text(content)
    at = portal()
    assert not at.exception
    assert [t.value for t in at.title] == ["SnowTower needs its first users"]
    assert any("snowtower users add" in c.value for c in at.code)
    assert not (workspace / "auth.yaml").is_file() or content is not None  # nothing is invented


# -- the command line ----------------------------------------------------------------------------------

def test_users_add_list_and_bad_input(workspace, monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
    assert cli.main(["users", "add", "Ada", "--role", "admin", "--role", "approver", "--name", "Ada Lovelace",
                     "--password-stdin", "--workspace", str(workspace)]) == 0
    users = auth.read_users(workspace / "auth.yaml", "production")["credentials"]["usernames"]
    assert users["ada"]["roles"] == ["admin", "approver"] and users["ada"]["first_name"] == "Ada"
    assert ADMIN_PASSWORD not in (workspace / "auth.yaml").read_text()
    assert oct((workspace / "auth.yaml").stat().st_mode & 0o777) == "0o600"
    capsys.readouterr()
    assert cli.main(["users", "list", "--workspace", str(workspace)]) == 0
    assert capsys.readouterr().out.split() == ["ada", "admin,approver"]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    before = (workspace / "auth.yaml").read_bytes()
    assert cli.main(["users", "add", "bob", "--role", "requester", "--password-stdin", "--workspace", str(workspace)]) == 2
    assert "12 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
    assert cli.main(["users", "add", "bad login!", "--role", "requester", "--password-stdin", "--workspace", str(workspace)]) == 2
    assert (workspace / "auth.yaml").read_bytes() == before


def test_users_add_without_a_terminal_says_how_and_writes_nothing(workspace, monkeypatch, capsys):
    """`snowtower users add` run from a script (no terminal, stdin closed) ended in an EOFError traceback."""
    import io

    def no_terminal(prompt=""):
        raise EOFError
    monkeypatch.setattr("getpass.getpass", no_terminal)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["users", "add", "ada", "--role", "admin", "--workspace", str(workspace)]) == 2
    err = capsys.readouterr().err
    assert "--password-stdin" in err and "Traceback" not in err
    assert not (workspace / "auth.yaml").is_file()
    # --password-stdin with nothing on stdin is the same: no empty password is tried
    assert cli.main(["users", "add", "ada", "--role", "admin", "--password-stdin", "--workspace", str(workspace)]) == 2
    assert "no password" in capsys.readouterr().err and not (workspace / "auth.yaml").is_file()


def test_the_demo_stays_on_localhost_unless_asked(tmp_path, monkeypatch, capsys):
    served = []
    monkeypatch.setattr(cli, "_serve", lambda workspace, port, address: served.append(address) or 0)
    ws = str(tmp_path / "demo")
    assert cli.main(["demo", "--workspace", ws, "--address", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err and served == []
    assert cli.main(["demo", "--workspace", ws, "--address", "192.168.1.20"]) == 2
    assert cli.main(["demo", "--workspace", ws, "--address", "::1"]) == 0
    assert cli.main(["demo", "--workspace", ws, "--address", "0.0.0.0", "--allow-remote"]) == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and "anyone who reaches this" in err
    assert served == ["::1", "0.0.0.0"]


def test_an_admin_unlocks_a_login_in_the_portal_and_others_cannot(workspace, people):
    from core.changes.base import ChangeError
    from app.operations.unlock_login import UnlockLogin
    from app.settings import load_settings

    settings_toml(workspace, signin_max_attempts=2)
    lockout = auth.lockout_for(load_settings(workspace))
    lockout.record_failure("requester")
    lockout.record_failure("requester")
    assert lockout.locked_until("requester")

    with pytest.raises(ChangeError, match="only admins"):  # the guard is in the operation, not only the page
        UnlockLogin(ui.services(), people["approver"], "requester").execute()
    assert lockout.locked_until("requester")

    at = attempt(portal(), "admin", "demo")
    at.switch_page(str(ROOT / "pages" / "logins.py")).run()
    rows = at.dataframe[0].value
    locked = rows[rows["Login"] == "requester"].iloc[0]
    assert locked["Failed sign-ins"] == 2 and locked["Locked until"].endswith("UTC")
    at.selectbox(key="logins.locked").set_value("requester")
    at.button(key="logins.unlock").click().run()
    assert not at.exception
    assert any("requester is unlocked" in s.value for s in at.success)
    assert lockout.locked_until("requester") is None and lockout.status() == {}

    at = attempt(portal(), "approver", "demo")  # not an admin: the page is not in the navigation
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(str(ROOT / "pages" / "logins.py"))


def test_the_demo_command_refuses_a_production_workspace(workspace, capsys):
    settings_toml(workspace, mode="production")
    assert cli.main(["demo", "--workspace", str(workspace)]) == 2
    assert "snowtower serve" in capsys.readouterr().err
    assert not (workspace / "auth.yaml").exists()  # no demo logins written into it
