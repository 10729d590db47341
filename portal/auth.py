"""Who the viewer is: sign-in with streamlit-authenticator against bcrypt hashes in the users file.

The users file (`auth.yaml` in the workspace) is the admins' to edit: the portal never writes to it.
It is read again on every run, so a changed role or a removed login takes effect at the viewer's next
click. Failed sign-ins are counted in the workspace database (core.lockout), never in the users file:
streamlit-authenticator, given the file's path, kept its own `failed_login_attempts` there and only a
successful sign-in reset it, which a locked login can no longer make: ten wrong passwords locked an
account for good. Here the library gets a fresh in-memory copy of the credentials on every run.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import yaml

from core.changes.model import Actor
from core.lockout import Lockout
from app.identity import lockout_for  # noqa: F401  (the portal's and CLI's name for it)

DEMO_PASSWORD = "demo"
DEMO_USERS = {
    "requester": ("Riley", "Requester", ["requester"]),
    "approver": ("Avery", "Approver", ["requester", "approver"]),
    "admin": ("Ada", "Admin", ["requester", "approver", "admin"]),
}
COOKIE_NAME = "snowtower_auth"
ROLES = ("requester", "approver", "admin")
LOGIN_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MIN_PASSWORD = 12
MAX_USERS_FILE_BYTES = 1_000_000
_MESSAGE_KEY = "snowtower.signin_message"  # why a session was just signed out, for the next run


class UsersFileError(ValueError):
    """The users file is missing or unusable; the message says what to do (never holds a hash)."""


@dataclass(frozen=True)
class SignInResult:
    actor: Actor | None
    authenticator: object
    message: str = ""  # why the viewer is not signed in (locked, refused), shown above the form


def _write(path: Path, config: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def new_users_file(users: dict) -> dict:
    """A users file's content: a fresh cookie key (48 random bytes) and `users` (login -> entry)."""
    return {"cookie": {"name": COOKIE_NAME, "key": secrets.token_urlsafe(48), "expiry_days": 1},
            "credentials": {"usernames": users}}


def ensure_demo_logins(path: Path) -> bool:
    """Write the demo logins (password 'demo', bcrypt-hashed, marked `demo: true`) once; returns True if created."""
    if path.is_file():
        return False
    users = {}
    for username, (first, last, roles) in DEMO_USERS.items():
        users[username] = {
            "email": f"{username}@snowtower.example",
            "first_name": first,
            "last_name": last,
            "password": _hash(DEMO_PASSWORD),
            "roles": roles,
            "demo": True,  # refused outside demo mode (read_users)
        }
    _write(path, new_users_file(users))
    return True


def read_users(path: Path, mode: str = "demo") -> dict:
    """The users file as streamlit-authenticator takes it: {"cookie": {...}, "credentials": {"usernames":
    {login: {"password": bcrypt hash, "roles": [...], ...}}}}, logins lower-cased. Outside demo mode the
    demo logins (marked `demo: true`) are left out. Raises UsersFileError if it is missing or unusable."""
    if not path.is_file():
        raise UsersFileError("no users file yet: create the first admin with `snowtower users add LOGIN --role admin`.")
    if path.stat().st_size > MAX_USERS_FILE_BYTES:
        raise UsersFileError("the users file is larger than 1 MB; it cannot be a list of logins.")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise UsersFileError("the users file is not valid YAML" + (f" (line {line + 1})" if line is not None else "") + ".") from None
    if not isinstance(config, dict):
        raise UsersFileError("the users file must be a mapping with `cookie` and `credentials`.")
    cookie = config.get("cookie")
    if not isinstance(cookie, dict) or len(str(cookie.get("key") or "")) < 32 or not cookie.get("name"):
        raise UsersFileError("the users file needs cookie.name and a cookie.key of 32 characters or more.")
    users = (config.get("credentials") or {}).get("usernames") if isinstance(config.get("credentials"), dict) else None
    if not isinstance(users, dict):
        raise UsersFileError("the users file needs credentials.usernames (login -> password hash, roles).")
    kept = {}
    for login, entry in users.items():
        if not isinstance(entry, dict) or not str(entry.get("password") or "").startswith("$2"):
            continue  # an entry without a bcrypt hash can never sign in
        if mode != "demo" and entry.get("demo"):
            continue  # why: the demo's passwords are public
        roles = entry.get("roles") or []
        kept[str(login).lower()] = {
            "email": str(entry.get("email") or ""), "first_name": str(entry.get("first_name") or ""),
            "last_name": str(entry.get("last_name") or ""), "password": str(entry["password"]),
            "roles": [r for r in (roles if isinstance(roles, list) else []) if r in ROLES],
        }
    expiry = cookie.get("expiry_days", 1)
    return {"cookie": {"name": str(cookie["name"]), "key": str(cookie["key"]),
                       "expiry_days": expiry if isinstance(expiry, (int, float)) else 1},
            "credentials": {"usernames": kept}}


def add_user(path: Path, login: str, password: str, roles: list[str], *, name: str = "", email: str = "") -> None:
    """Add a login to the users file (creating it), or replace its password, roles, name and email.
    Raises ValueError on a bad login, role or password (at least MIN_PASSWORD characters, never 'demo')."""
    login = login.strip().lower()
    if not LOGIN_PATTERN.fullmatch(login):
        raise ValueError("a login is 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit.")
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise ValueError(f"roles must be among {', '.join(ROLES)} (got {', '.join(bad) or 'none'}).")
    if len(password) < MIN_PASSWORD or password == DEMO_PASSWORD:
        raise ValueError(f"the password must have {MIN_PASSWORD} characters or more.")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else new_users_file({})
    users = config.setdefault("credentials", {}).setdefault("usernames", {}) or {}
    config["credentials"]["usernames"] = users
    first, _, last = name.strip().partition(" ")
    users[login] = {"email": email.strip(), "first_name": first, "last_name": last,
                    "password": _hash(password), "roles": list(dict.fromkeys(roles))}
    _write(path, config)


def _authenticator(config: dict):
    import streamlit_authenticator as stauth

    cookie = config["cookie"]
    return stauth.Authenticate(config["credentials"], cookie["name"], cookie["key"], cookie["expiry_days"], auto_hash=False)


def record_signin(audit, action: str, login: str, roles=(), outcome: str = "ok", reason: str = "") -> None:
    """One audit record of a sign-in event (sign_in, sign_in_failed, sign_out); `audit` None: none.
    `login` is what was typed (clipped), never a password."""
    if audit is not None:
        audit.write(login, roles, action, outcome, reason)


def sign_in(path: Path, lockout: Lockout, mode: str = "demo", audit=None) -> SignInResult:
    """Render the sign-in form until the viewer is signed in, with roles as the users file says now.
    Every sign-in, refused sign-in and wrong password is recorded in `audit` (an app.audit.AuditLog).
    Raises UsersFileError when the users file is missing or unusable."""
    import streamlit as st

    config = read_users(path, mode)
    users = config["credentials"]["usernames"]
    # A locked login looks to the library as one at its limit: refused before its password is checked.
    locked = {login for login, (_, until) in lockout.status().items() if until}
    for login in locked & users.keys():
        users[login]["failed_login_attempts"] = 1
    authenticator = _authenticator(config)
    message = ""
    pending = st.session_state.pop(_MESSAGE_KEY, "")
    was_signed_in = bool(st.session_state.get("authentication_status"))
    center = st.columns([1, 2, 1])[1] if not was_signed_in else st.container()
    with center:
        try:
            authenticator.login(
                location="main", max_login_attempts=1,
                fields={"Form name": "Sign in to SnowTower", "Username": "Username", "Password": "Password", "Login": "Sign in"},
            )
        except Exception as exc:  # the library raises LoginError for a locked or unknown login
            st.session_state["authentication_status"] = None
            message = ("Too many wrong passwords: this login is locked for a while. Try again later, or ask an "
                       "admin to unlock it." if "attempts" in str(exc) else "Sign-in refused.")
            record_signin(audit, "sign_in_failed", st.session_state.get("username") or "", outcome="refused",
                          reason=message)
    # The library counted a wrong password in our in-memory copy: record it where it lasts.
    for login, entry in users.items():
        if entry.get("failed_login_attempts") == 1 and login not in locked:
            if lockout.record_failure(login):
                message = (f"Too many wrong passwords: this login is locked for {lockout.minutes} minutes. "
                           "Try again later, or ask an admin to unlock it.")
            record_signin(audit, "sign_in_failed", login, outcome="refused",
                          reason="wrong password" + ("; the login is now locked" if message else ""))
        elif entry.get("failed_login_attempts") == 0:  # the form's password was right
            lockout.clear(login)
    if st.session_state.get("authentication_status") is False and not message:
        message = "Username or password is wrong."
    username = st.session_state.get("username") if st.session_state.get("authentication_status") else None
    entry = users.get(username) if username else None
    refused = ""
    if username and (entry is None or not entry["roles"]):
        # Why: the users file is the authority on every run; a removed login loses its session at once.
        refused = "Your login is no longer allowed to use SnowTower."
    elif username and not was_signed_in and mode != "demo" and bcrypt.checkpw(DEMO_PASSWORD.encode(), entry["password"].encode()):
        refused = "Demo logins are refused outside demo mode."  # why: the demo's password is public
    if refused:
        record_signin(audit, "sign_in_failed", username, entry["roles"] if entry else (), "refused", refused)
        authenticator.logout(location="unrendered")
        st.session_state[_MESSAGE_KEY] = refused
        st.rerun()  # the next run draws the sign-in form, with the reason above it
    if not username:
        return SignInResult(None, authenticator, message or pending)
    if not was_signed_in:
        record_signin(audit, "sign_in", username, entry["roles"])
    return SignInResult(_actor(username, entry), authenticator)


def _actor(username: str, entry: dict) -> Actor:
    name = f"{entry['first_name']} {entry['last_name']}".strip()
    return Actor(username=username, name=name or username, email=entry["email"], roles=tuple(entry["roles"]))


def actor_now(path: Path, username: str, mode: str = "demo") -> Actor | None:
    """`username` with the roles the users file gives it now; None when it is gone, has no role, or the
    file is unusable. For a widget's callback, which Streamlit runs before the entry script signs in
    again: it must never act with the roles the viewer had when the page was drawn."""
    try:
        entry = read_users(path, mode)["credentials"]["usernames"].get(username)
    except UsersFileError:
        return None
    return _actor(username, entry) if entry and entry["roles"] else None
